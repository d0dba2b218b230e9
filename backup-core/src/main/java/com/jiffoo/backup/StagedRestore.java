package com.jiffoo.backup;

import java.io.IOException;
import java.util.Map;

/**
 * A restore that has been staged by a {@link RestoreTarget} and waits for the verdict of the integrity checks.
 * {@link #commit()} puts it in place; {@link #close()} without a commit discards the staged copy and leaves the
 * target as it was. {@code close()} is idempotent and does nothing after a commit.
 */
public interface StagedRestore extends AutoCloseable {

    /** Facts about what was restored (file count, bytes), for the result. */
    Map<String, Object> facts();

    /** Puts the staged content in place. */
    void commit() throws IOException;

    /** Discards the staged content unless it was committed. Never throws. */
    @Override
    void close();
}
