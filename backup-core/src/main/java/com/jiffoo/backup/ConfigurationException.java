package com.jiffoo.backup;

/** A setting is missing or wrong; the message names it and what to set. Nothing was written. */
public class ConfigurationException extends BackupException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message that says what failed, where, and what to do. */
    public ConfigurationException(String message) {
        super(ErrorCode.CONFIGURATION, message, null, null, null);
    }

    /** Creates the exception with a message and its cause. */
    public ConfigurationException(String message, Throwable cause) {
        super(ErrorCode.CONFIGURATION, message, null, null, cause);
    }

    /** Creates the exception naming the backup object {@code key} and the store or path {@code location}. */
    public ConfigurationException(String message, String key, String location, Throwable cause) {
        super(ErrorCode.CONFIGURATION, message, key, location, cause);
    }
}
