package com.jiffoo.backup;

/**
 * Progress and outcome hooks for backups, restores and verifications, e.g. for a progress bar or metrics.
 * Every operation gets one {@link #started}, any number of {@link #progress} calls, then exactly one of
 * {@link #finished} or {@link #failed}. Calls come from the thread running the operation. Implementations must
 * be quick and must not throw (what they throw is logged and ignored), except {@link #committing}, which may refuse.
 */
public interface BackupListener {

    /** A listener that does nothing. */
    BackupListener NONE = new BackupListener() {};

    /** What is being done. */
    enum Operation {
        /** Writing a new backup. */
        BACKUP,
        /** Restoring a backup into a target. */
        RESTORE,
        /** Re-reading a stored backup to check it. */
        VERIFY
    }

    /** An operation on the object {@code key} starts. */
    default void started(Operation operation, String key) {}

    /** Bytes moved so far. Called at most every few hundred milliseconds. */
    default void progress(Operation operation, Progress progress) {}

    /** The operation completed successfully. */
    default void finished(Operation operation, Progress progress) {}

    /**
     * A restore's verified content of {@code key} is about to be put in place: from here on the target changes, and
     * the outcome is either restored or (on failure) the previous content back in place. A launcher that is being
     * stopped throws here to refuse: a {@link BackupException} thrown fails the restore before anything changes, and
     * is what the restore throws (a {@link RestoreException} as it is, any other wrapped in one). Called at most once per operation, after every integrity check passed.
     */
    default void committing(Operation operation, String key) {}

    /** The operation failed with {@code error}; nothing was committed. */
    default void failed(Operation operation, Progress progress, BackupException error) {}
}
