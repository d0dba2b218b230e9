package com.jiffoo.backup;

/** The source of a backup failed (a file could not be read, pg_dump failed). No backup was committed. */
public class SourceException extends BackupException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message that says what failed, where, and what to do. */
    public SourceException(String message) {
        super(ErrorCode.SOURCE, message, null, null, null);
    }

    /** Creates the exception with a message and its cause. */
    public SourceException(String message, Throwable cause) {
        super(ErrorCode.SOURCE, message, null, null, cause);
    }

    /** Creates the exception naming the backup object {@code key} and the store or path {@code location}. */
    public SourceException(String message, String key, String location, Throwable cause) {
        super(ErrorCode.SOURCE, message, key, location, cause);
    }
}
