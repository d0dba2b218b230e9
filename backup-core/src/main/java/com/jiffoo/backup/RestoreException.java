package com.jiffoo.backup;

/** A restore target refused or failed; the target's previous content is left as it was. */
public class RestoreException extends BackupException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message that says what failed, where, and what to do. */
    public RestoreException(String message) {
        super(ErrorCode.RESTORE, message, null, null, null);
    }

    /** Creates the exception with a message and its cause. */
    public RestoreException(String message, Throwable cause) {
        super(ErrorCode.RESTORE, message, null, null, cause);
    }

    /** Creates the exception naming the backup object {@code key} and the store or path {@code location}. */
    public RestoreException(String message, String key, String location, Throwable cause) {
        super(ErrorCode.RESTORE, message, key, location, cause);
    }
}
