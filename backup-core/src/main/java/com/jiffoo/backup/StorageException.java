package com.jiffoo.backup;

/** The store failed to write, read, list or delete an object. */
public class StorageException extends BackupException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message that says what failed, where, and what to do. */
    public StorageException(String message) {
        super(ErrorCode.STORAGE, message, null, null, null);
    }

    /** Creates the exception with a message and its cause. */
    public StorageException(String message, Throwable cause) {
        super(ErrorCode.STORAGE, message, null, null, cause);
    }

    /** Creates the exception naming the backup object {@code key} and the store or path {@code location}. */
    public StorageException(String message, String key, String location, Throwable cause) {
        super(ErrorCode.STORAGE, message, key, location, cause);
    }
}
