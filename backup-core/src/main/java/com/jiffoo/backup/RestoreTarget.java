package com.jiffoo.backup;

import java.io.IOException;
import java.io.InputStream;

/**
 * The way back for a source: consumes the plaintext of a backup (a tar into a directory, pg_restore into a
 * database).
 *
 * <p>Restoring is two-phase so that integrity can be checked before anything changes: {@link #stage} consumes the
 * stream into a staging place (a sibling directory, a new database) and returns a {@link StagedRestore}; the
 * {@link RestorePipeline} then checks the checksums of everything it read and either {@linkplain
 * StagedRestore#commit() commits} (swap into place) or {@linkplain StagedRestore#close() discards} the staged copy.
 *
 * <p>A target that cannot stage (it changes its target while reading) returns {@code false} from
 * {@link #stagesSafely()}; the pipeline then verifies the whole stored backup before calling {@link #stage}.
 */
public interface RestoreTarget {

    /** What this target restores into, for logs and errors (never with credentials). */
    String describe();

    /**
     * Reads the plaintext of a backup into a staging place. The target may stop reading before the end of the
     * stream (the pipeline drains the rest); it must not close {@code plaintext}.
     *
     * @param plaintext the decoded bytes of the backup, as its source wrote them
     * @param manifest  the backup's manifest
     * @throws RestoreException when the content is unsafe or cannot be restored; the target is left unchanged
     */
    StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException;

    /**
     * Called by the pipeline once per restore, after it chose the backup and checked its manifest and sidecar and
     * before it reads any byte of the backup's content (for a target that does not stage safely, before the whole
     * backup is verified). A target that cannot take the restore (its database exists, say) throws here, so that the
     * backup is not read for nothing; what it throws reaches the caller as it is. A target that prepares in the
     * background (PostgreSQL's {@code prepare()}) waits here for the part that decides a refusal, and may let the rest
     * (creating its database) go on while the pipeline opens the backup and sets up its decoders. Does nothing by
     * default.
     *
     * @param manifest the backup about to be restored (for a chain of increments, the newest link)
     */
    default void checkReady(BackupManifest manifest) {}

    /**
     * Applies the plaintext of the next link of a chain ({@link BackupChain}) onto a restore this target staged from
     * the links before it, and returns the staged restore to commit: how increments are restored. Targets that
     * cannot apply increments keep the default, which refuses.
     *
     * @param previous  what {@link #stage} (and earlier calls of this method) staged; not committed
     * @param plaintext the decoded bytes of the increment; not to be closed
     * @param manifest  the increment's manifest
     * @throws RestoreException when the content is unsafe or cannot be applied; the caller discards {@code previous}
     */
    default StagedRestore stageOnto(StagedRestore previous, InputStream plaintext, BackupManifest manifest)
            throws IOException {
        throw new RestoreException(
                describe() + " cannot apply the increment " + manifest.objectKey()
                        + " (only file restores into a directory apply chains of increments)",
                manifest.objectKey(),
                describe(),
                null);
    }

    /**
     * The local directory this target replaces, when it is one (so a restore can refuse a target that overlaps the
     * store it reads from). Empty by default.
     */
    default java.util.Optional<java.nio.file.Path> localPath() {
        return java.util.Optional.empty();
    }

    /**
     * The bucket and prefix this target writes into, when it is one (so a restore can refuse a bucket that overlaps the
     * store it reads from). Empty by default.
     */
    default java.util.Optional<com.jiffoo.backup.store.BucketLocation> bucketLocation() {
        return java.util.Optional.empty();
    }

    /** True (the default) when {@link #stage} leaves the real target untouched until {@link StagedRestore#commit()}. */
    default boolean stagesSafely() {
        return true;
    }
}
