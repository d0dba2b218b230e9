package com.jiffoo.backup;

import java.io.IOException;

/**
 * Thrown by {@link SinkOutput#commit()} when a committed object of the same key exists: objects are write-once, so
 * two writers of one key (two backups started in the same second) cannot overwrite each other.
 */
public class ObjectExistsException extends IOException {
    private static final long serialVersionUID = 1L;
    private final String key;

    /** An exception for {@code key} in the store at {@code location}. */
    public ObjectExistsException(String key, String location) {
        super("an object named " + key + " already exists in " + location);
        this.key = key;
    }

    /** The key that exists. */
    public String key() {
        return key;
    }
}
