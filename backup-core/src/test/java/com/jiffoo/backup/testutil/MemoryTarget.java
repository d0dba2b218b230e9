package com.jiffoo.backup.testutil;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.StagedRestore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/**
 * A restore target that stages bytes in memory and records whether they were committed or discarded. For small
 * test data only.
 */
public final class MemoryTarget implements RestoreTarget {
    private volatile byte[] committed;
    private volatile boolean discarded;
    private volatile long failAfter = -1;
    private volatile boolean safe = true;

    /** Makes {@code stage} fail with a RestoreException after reading {@code bytes}. */
    public MemoryTarget failingAfter(long bytes) {
        this.failAfter = bytes;
        return this;
    }

    /** Makes this target claim it cannot stage safely (so the pipeline verifies first). */
    public MemoryTarget unsafe() {
        this.safe = false;
        return this;
    }

    /** The committed bytes, or null. */
    public byte[] committed() {
        return committed;
    }

    /** True when a staged restore was discarded. */
    public boolean discarded() {
        return discarded;
    }

    @Override
    public boolean stagesSafely() {
        return safe;
    }

    @Override
    public String describe() {
        return "memory";
    }

    @Override
    public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        byte[] b = new byte[8192];
        int n;
        while ((n = plaintext.read(b)) >= 0) {
            buf.write(b, 0, n);
            if (failAfter >= 0 && buf.size() >= failAfter) {
                throw new RestoreException("memory target refused the content on purpose");
            }
        }
        return new StagedRestore() {
            private boolean done;

            @Override
            public Map<String, Object> facts() {
                return Map.of("bytes", (long) buf.size());
            }

            @Override
            public void commit() {
                committed = buf.toByteArray();
                done = true;
            }

            @Override
            public void close() {
                if (!done) {
                    discarded = true;
                    done = true;
                }
            }
        };
    }
}
