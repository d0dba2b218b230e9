package com.jiffoo.backup;

/** A backup could not be decrypted: wrong key or passphrase, no matching key, or a damaged encryption layer. */
public class DecryptionException extends BackupException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message that says what failed, where, and what to do. */
    public DecryptionException(String message) {
        super(ErrorCode.DECRYPTION, message, null, null, null);
    }

    /** Creates the exception with a message and its cause. */
    public DecryptionException(String message, Throwable cause) {
        super(ErrorCode.DECRYPTION, message, null, null, cause);
    }

    /** Creates the exception naming the backup object {@code key} and the store or path {@code location}. */
    public DecryptionException(String message, String key, String location, Throwable cause) {
        super(ErrorCode.DECRYPTION, message, key, location, cause);
    }
}
