package com.jiffoo.backup;

/**
 * What kind of failure a {@link BackupException} reports. Each code carries the process exit code a command-line
 * launcher should use for it, so scripts can tell a bad configuration from a corrupt backup.
 */
public enum ErrorCode {
    /** A setting is missing or wrong (key file, paths, options). Fix the configuration and run again. */
    CONFIGURATION(2),
    /** The source of the data failed (pg_dump exited non-zero, a file could not be read). */
    SOURCE(3),
    /** The store failed (disk full, permission, network, bucket). Usually retryable once the cause is fixed. */
    STORAGE(4),
    /** A stored backup does not match its checksum or manifest, is truncated, or its manifest is missing/garbled. */
    INTEGRITY(5),
    /** A backup could not be decrypted: wrong key or passphrase, no matching key, or a damaged encryption layer. */
    DECRYPTION(6),
    /** The restore target refused or failed (unsafe archive entry, pg_restore failure). The old content is kept. */
    RESTORE(7),
    /** The named backup or object does not exist in the store. */
    NOT_FOUND(8),
    /**
     * A backup written to several stores (copies) was committed in some of them but not in all: the stores that
     * succeeded keep it, the failed ones were left without it (see {@link PartialBackupException}).
     */
    PARTIAL(11),
    /** A bug or an unexpected condition inside the library. */
    INTERNAL(1);

    private final int exitCode;

    ErrorCode(int exitCode) {
        this.exitCode = exitCode;
    }

    /** The process exit code a launcher should return for this failure. */
    public int exitCode() {
        return exitCode;
    }
}
