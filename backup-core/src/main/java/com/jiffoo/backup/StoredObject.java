package com.jiffoo.backup;

import java.time.Instant;
import java.util.Objects;

/**
 * One committed object in a {@link Sink}, as listed.
 *
 * @param key          the object's key in the sink
 * @param size         its size in bytes
 * @param lastModified when the store last wrote it (informational: retention orders backups by their manifests)
 */
public record StoredObject(String key, long size, Instant lastModified) {
    /** Checks the fields. */
    public StoredObject {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(lastModified, "lastModified");
        if (size < 0) {
            throw new IllegalArgumentException("size < 0: " + size);
        }
    }
}
