package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import java.time.Duration;

/**
 * Told the outcome of each operation of {@link JiffooBackup}, e.g. to record metrics ({@link BackupMetrics} is
 * one). Every bean of this type in the context is called, on the thread that ran the operation; it must be quick and
 * must not throw (what it throws is logged and ignored).
 */
public interface BackupOperationListener {

    /** The facade's operations. */
    enum Operation {
        /** A new backup. */
        BACKUP,
        /** A restore. */
        RESTORE,
        /** A verification of a stored backup. */
        VERIFY,
        /** A restore drill (a drill that ran but did not pass is a failure: code EXIT_12 failed, EXIT_13 over target). */
        DRILL
    }

    /**
     * An operation succeeded.
     *
     * @param operation what ran
     * @param kind      the backup's kind ({@code database}, {@code files})
     * @param manifest  the backup written, restored or verified
     * @param elapsed   how long the operation took
     */
    default void succeeded(Operation operation, String kind, BackupManifest manifest, Duration elapsed) {}

    /**
     * An operation failed; for a verification also one that ran and found the backup bad.
     *
     * @param operation what ran
     * @param kind      the backup's kind, {@code unknown} when it could not be told
     * @param code      the failure's {@link com.jiffoo.backup.ErrorCode} name
     * @param elapsed   how long the operation ran
     */
    default void failed(Operation operation, String kind, String code, Duration elapsed) {}

    /**
     * A scheduled job's run ended ({@link BackupJobs}): ran, failed, skipped because another replica holds its lock,
     * or not run because the lock could not be asked for.
     *
     * @param job     the job's name ({@code database}, {@code files}, {@code verify}, {@code prune},
     *                {@code monitor}, or a name given to {@link BackupJobs#runExclusively})
     * @param outcome how it ended
     */
    default void scheduled(String job, BackupJobs.Outcome outcome) {}

    /** Why a backup exception failed: its code's name. */
    static String codeOf(BackupException e) {
        return e.code().name();
    }
}
