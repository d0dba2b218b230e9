package com.jiffoo.backup.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Local paths: the canonical form a local directory is compared with a local store by ({@link StoreOverlap}), and the
 * one recursive delete. Not public API.
 */
public final class LocalPaths {
    private LocalPaths() {}

    /**
     * Deletes {@code dir} and everything below it, deepest first, without following symbolic links (a link is
     * deleted, not what it points to). A missing {@code dir} is not an error.
     */
    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
            for (Path f : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }

    /** The absolute, normalised path with the links of its deepest existing ancestor resolved. */
    public static Path canonical(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        // resolve symlinks of the deepest existing ancestor, so /var/backups via a link is recognised
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs));
        } catch (IOException e) {
            return abs;
        }
    }
}
