package com.jiffoo.backup;

/** Stored bytes do not match their checksum or manifest, are truncated, or the manifest is missing or unreadable. */
public class IntegrityException extends BackupException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message that says what failed, where, and what to do. */
    public IntegrityException(String message) {
        super(ErrorCode.INTEGRITY, message, null, null, null);
    }

    /** Creates the exception with a message and its cause. */
    public IntegrityException(String message, Throwable cause) {
        super(ErrorCode.INTEGRITY, message, null, null, cause);
    }

    /** Creates the exception naming the backup object {@code key} and the store or path {@code location}. */
    public IntegrityException(String message, String key, String location, Throwable cause) {
        super(ErrorCode.INTEGRITY, message, key, location, cause);
    }
}
