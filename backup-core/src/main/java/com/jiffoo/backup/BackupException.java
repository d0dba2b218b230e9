package com.jiffoo.backup;

import java.util.Objects;
import java.util.Optional;

/**
 * The one unchecked exception family of the library. Every message says what failed, where, and what to do; the
 * {@link #code()} tells the category (and a launcher's exit code), {@link #key()} and {@link #location()} name the
 * backup object and the store or path involved when they are known.
 *
 * <p>Messages never contain secrets: no passphrase, password, key material or webhook URL.
 */
public class BackupException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;
    private final String key;
    private final String location;

    /** Creates an exception of the given category. {@code key} and {@code location} may be null. */
    public BackupException(ErrorCode code, String message, String key, String location, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
        this.key = key;
        this.location = location;
    }

    /** Creates an exception of the given category with no key or location. */
    public BackupException(ErrorCode code, String message, Throwable cause) {
        this(code, message, null, null, cause);
    }

    /** The category of the failure. */
    public ErrorCode code() {
        return code;
    }

    /** The key of the backup object concerned, when known. */
    public Optional<String> key() {
        return Optional.ofNullable(key);
    }

    /** The store, path or server concerned, when known (never with credentials). */
    public Optional<String> location() {
        return Optional.ofNullable(location);
    }

    /**
     * An exception of the subclass that matches {@code code} ({@link StorageException} for
     * {@link ErrorCode#STORAGE}, ...). {@code key} and {@code location} may be null.
     */
    public static BackupException of(ErrorCode code, String message, String key, String location, Throwable cause) {
        return switch (code) {
            case CONFIGURATION -> new ConfigurationException(message, key, location, cause);
            case SOURCE -> new SourceException(message, key, location, cause);
            case STORAGE -> new StorageException(message, key, location, cause);
            case INTEGRITY -> new IntegrityException(message, key, location, cause);
            case DECRYPTION -> new DecryptionException(message, key, location, cause);
            case RESTORE -> new RestoreException(message, key, location, cause);
            case NOT_FOUND -> new NotFoundException(message, key, location, cause);
            case INTERNAL, PARTIAL -> new BackupException(code, message, key, location, cause);
        };
    }
}
