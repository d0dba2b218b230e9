package com.jiffoo.backup.internal;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Local paths: the one check that a local directory a pipeline reads or replaces stays apart from a local store, and
 * the one recursive delete. Not public API.
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

    /**
     * Refuses a directory that is, contains or lies inside the sink's local root: backing it up would read the
     * store's own growing output, replacing it would destroy the backups. Does nothing for a sink or a directory that
     * is not local.
     *
     * @param doing  what is refused, e.g. {@code "restore into"} or {@code "back up"}
     * @param advice how to proceed, e.g. {@code "Restore into a directory outside the store."}
     * @throws ConfigurationException naming both canonical paths
     */
    public static void refuseOverlap(Sink sink, Optional<Path> directory, String doing, String why, String advice) {
        Optional<Path> store = sink.localRoot().map(LocalPaths::canonical);
        Optional<Path> local = directory.map(LocalPaths::canonical);
        if (store.isPresent()
                && local.isPresent()
                && (store.get().startsWith(local.get()) || local.get().startsWith(store.get()))) {
            throw new ConfigurationException(
                    "Refusing to " + doing + " " + local.get() + ": it overlaps the backup" + " store " + store.get()
                            + ", and " + why + ". " + advice,
                    null,
                    local.get().toString(),
                    null);
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
