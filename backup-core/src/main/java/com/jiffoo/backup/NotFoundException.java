package com.jiffoo.backup;

/** The named backup or stored object does not exist. */
public class NotFoundException extends BackupException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message that says what failed, where, and what to do. */
    public NotFoundException(String message) {
        super(ErrorCode.NOT_FOUND, message, null, null, null);
    }

    /** Creates the exception with a message and its cause. */
    public NotFoundException(String message, Throwable cause) {
        super(ErrorCode.NOT_FOUND, message, null, null, cause);
    }

    /** Creates the exception naming the backup object {@code key} and the store or path {@code location}. */
    public NotFoundException(String message, String key, String location, Throwable cause) {
        super(ErrorCode.NOT_FOUND, message, key, location, cause);
    }
}
