package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.StoreProviders;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which store the settings name, and where one backup named on the command line lives. Stores are opened by URI
 * through {@link StoreProviders}: {@code s3:} (backup-s3), {@code minio:} (backup-minio), {@code file:} and plain
 * paths (backup-core), and any scheme another module on the class path provides.
 *
 * <p>The store: {@code --store} (any store URI, or a path), else {@code S3_BUCKET} ({@code s3://bucket/prefix} or a
 * bare bucket name), else {@code BACKUP_DIR} (a local directory). With {@code MINIO_ENDPOINT}, an {@code s3://}
 * store is the {@code minio://host:port/bucket/prefix} store on that server. The providers read the rest of the
 * settings ({@code S3_ENDPOINT}, {@code AWS_REGION}, the credentials, ...): see {@code docs/s3.md}.
 *
 * <p>Copies ({@link #openAll}): {@code --copy-to} (repeatable), else {@code BACKUP_COPIES} (comma-separated store
 * URIs or paths, each opened as written, with its own query parameters such as {@code ?profile=NAME}); and
 * {@code BACKUP_DIR} when {@code S3_BUCKET} is the store (the runbook's local copy next to the bucket).
 */
final class Stores {
    private static final Logger log = LoggerFactory.getLogger(Stores.class);

    static final String NO_STORE = "no store configured: set S3_BUCKET=s3://bucket/prefix or"
            + " BACKUP_DIR=/var/backups/jiffoo, or pass --store";

    /** The stores open in this process, closed by the shutdown hook when the process is stopped mid-way. */
    private static final java.util.Set<Sink> OPEN = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** One backup: the store it lives in and its key there. */
    record Located(Sink sink, String key) {}

    private Stores() {}

    /** The configured store. */
    static Sink open(Settings s) {
        return track(select(s));
    }

    /**
     * The configured store as a label (the URI or path, secrets and query left out), without opening it; empty when
     * none is configured.
     */
    static String configuredLocation(Settings s) {
        Optional<String> store = s.get("STORE");
        Optional<String> bucket = s.get("S3_BUCKET");
        String location = store.or(() -> bucket.map(b -> b.startsWith("s3://") ? b : "s3://" + b))
                .or(() -> s.get("BACKUP_DIR"))
                .orElse("");
        return s.redact(label(location));
    }

    /**
     * A store location as a label: {@code scheme://host[:port]/path} of a URI, without user info, query or fragment,
     * or a plain path as it is; what cannot be parsed is cut to its scheme and host (a secret in it must not reach a
     * metrics file).
     */
    static String label(String location) {
        if (!location.contains("://")) {
            return location.startsWith("file:") ? location.substring("file:".length()) : location;
        }
        String scheme = location.substring(0, location.indexOf("://"));
        String rest = location.substring(location.indexOf("://") + 3);
        // user info first (a secret may hold '?', '#', '/' or '@'): everything up to the last '@' goes
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            rest = rest.substring(at + 1);
        }
        for (char c : new char[] {'?', '#'}) {
            int i = rest.indexOf(c);
            if (i >= 0) {
                rest = rest.substring(0, i);
            }
        }
        return scheme + "://" + rest;
    }

    private static Sink select(Settings s) {
        String where;
        String location;
        Optional<String> store = s.get("STORE");
        Optional<String> bucket = s.get("S3_BUCKET");
        if (store.isPresent()) {
            where = "--store";
            location = store.get();
        } else if (bucket.isPresent()) {
            where = "S3_BUCKET";
            location = bucket.get().startsWith("s3://") ? bucket.get() : "s3://" + bucket.get();
        } else {
            where = "BACKUP_DIR";
            location = s.get("BACKUP_DIR").orElseThrow(() -> new ConfigurationException(NO_STORE + "."));
        }
        return open(s, location.startsWith("s3://") ? onMinio(s, location) : location, where);
    }

    /**
     * The configured store, then each copy ({@link #copies}), all open. A copy that names the store itself is left out
     * (e.g. {@code --store} naming one of {@code BACKUP_COPIES}); one that names another copy is refused.
     */
    static java.util.List<Sink> openAll(Settings s) {
        java.util.List<Sink> all = new java.util.ArrayList<>();
        try {
            all.add(open(s));
            for (Copy c : copies(s)) {
                Sink copy = track(open(s, c.location(), c.where()));
                if (copy.location().equals(all.get(0).location())) {
                    // `--store COPY` on a host whose BACKUP_COPIES names it (restoring from another region): the
                    // store itself, not a second copy of it
                    org.slf4j.LoggerFactory.getLogger(Stores.class)
                            .info("{} ({}) is the store itself here: not used as a copy", copy.location(), c.where());
                    try {
                        close(copy);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    continue;
                }
                all.add(copy);
                for (Sink other : all.subList(0, all.size() - 1)) {
                    if (other.location().equals(copy.location())) {
                        throw new ConfigurationException("the store " + copy.location() + " is named twice ("
                                + c.where() + "); a copy must be another store than the store and the other copies.");
                    }
                }
            }
        } catch (RuntimeException e) {
            for (Sink opened : all) {
                try {
                    close(opened);
                } catch (java.io.IOException | RuntimeException ce) {
                    e.addSuppressed(ce);
                }
            }
            throw e;
        }
        return all;
    }

    /**
     * The stores a command that acts on each store on its own ({@code prune}, {@code wal-verify}) acts on: the store
     * {@code --store} names, alone, when it is given; else the configured store and each copy ({@link #openAll}).
     */
    static java.util.List<Sink> openEach(Settings s) {
        return s.flagged("STORE").isPresent() ? java.util.List.of(open(s)) : openAll(s);
    }

    /**
     * The store {@code location} names (a store URI or a local path, as {@code --store} and {@code --copy-to} take
     * it), open; {@code where} names the flag for messages. An {@code s3://} URI is on the MinIO server of
     * {@code MINIO_ENDPOINT} when that is set, as for the store.
     */
    static Sink openUri(Settings s, String location, String where) {
        return track(open(s, location.startsWith("s3://") ? onMinio(s, location) : location, where));
    }

    /** A copy's location and the setting that names it. */
    record Copy(String location, String where) {}

    /**
     * The copies the settings name: {@code BACKUP_COPIES} (or {@code --copy-to}; {@code --copy-to ''} alone: none),
     * and {@code BACKUP_DIR} when
     * {@code S3_BUCKET} is the store ({@code --store} not given).
     */
    static java.util.List<Copy> copies(Settings s) {
        java.util.List<Copy> out = new java.util.ArrayList<>();
        // `--copy-to ''` (restore pitr's restore_command): no copies, whatever BACKUP_COPIES says
        s.flagged("BACKUP_COPIES").or(() -> s.get("BACKUP_COPIES")).ifPresent(list -> {
            for (String c : list.split(",")) {
                if (!c.isBlank()) {
                    out.add(new Copy(c.trim(), "BACKUP_COPIES/--copy-to"));
                }
            }
        });
        if (s.get("STORE").isEmpty() && s.get("S3_BUCKET").isPresent()) {
            s.get("BACKUP_DIR").ifPresent(dir -> out.add(new Copy(dir, "BACKUP_DIR, a copy next to S3_BUCKET")));
        }
        return out;
    }

    /** The URI (or path) each open store was opened from, with its query parameters ({@link #uri}). */
    private static final java.util.Map<Sink, String> ORIGIN =
            java.util.Collections.synchronizedMap(new java.util.IdentityHashMap<>());

    /**
     * The store URI (or path) {@code sink} was opened from, as configured: with the query parameters
     * ({@code ?endpoint=}, {@code ?profile=}, {@code ?region=}) its {@link Sink#location()} leaves out, so that another
     * process given it (a {@code restore_command}) opens the same store; the location for a store not opened here.
     */
    static String uri(Sink sink) {
        String origin = ORIGIN.get(sink);
        return origin != null ? origin : sink.location();
    }

    private static Sink open(Settings s, String location, String where) {
        try {
            Sink sink = StoreProviders.open(location, s);
            ORIGIN.put(sink, location);
            return sink;
        } catch (ConfigurationException e) {
            throw new ConfigurationException(
                    "the store " + StoreProviders.redact(location) + " (" + where + "): " + e.getMessage(), e);
        }
    }

    /**
     * An {@code s3://bucket/prefix} store as the runbook's settings mean it: on the MinIO server at
     * {@code MINIO_ENDPOINT} when that is set ({@code minio://host:port/bucket/prefix}), else as is.
     */
    private static String onMinio(Settings s, String s3) {
        Optional<URI> minio = s.httpUrl("MINIO_ENDPOINT");
        if (minio.isPresent() && s.get("S3_ENDPOINT").isPresent()) {
            throw new ConfigurationException("S3_ENDPOINT and MINIO_ENDPOINT are both set: set MINIO_ENDPOINT to use"
                    + " the MinIO client, or S3_ENDPOINT to use the AWS SDK with an S3-compatible store, not both.");
        }
        return minio.map(m -> "minio://" + m.getHost() + ":"
                        + (m.getPort() >= 0 ? m.getPort() : "https".equals(m.getScheme()) ? 443 : 80) + "/"
                        + s3.substring("s3://".length()))
                .orElse(s3);
    }

    /**
     * Where the backup {@code ref} lives: an {@code s3://bucket/prefix/kind/file} URI (in that bucket, with the
     * configured endpoint and credentials), a local file path (with its {@code .sha256} and {@code .manifest.json}
     * next to it), or a key such as {@code database/db_backup_20260111_020000.sql.gpg} in the configured store.
     */
    static Located locate(Settings s, String ref) {
        Path path = Path.of(ref.startsWith("file:") ? ref.substring(5) : ref);
        if (isFile(ref)) {
            BackupFileSink sink = BackupFileSink.open(path);
            return new Located(track(sink), sink.objectKey());
        }
        if (StoreProviders.hasScheme(ref)) {
            String uri = ref.startsWith("s3://") ? onMinio(s, ref) : ref;
            StoreProviders.Located at = StoreProviders.locate(uri, s);
            return new Located(track(at.store()), at.key());
        }
        return new Located(open(s), ref);
    }

    /** Whether {@code ref} names a local file (not a key in the store, nor a store URI). */
    private static boolean isFile(String ref) {
        Path path = Path.of(ref.startsWith("file:") ? ref.substring(5) : ref);
        return ref.startsWith("/") || ref.startsWith(".") || ref.startsWith("file:") || Files.isRegularFile(path);
    }

    /**
     * The stores that may hold the backup {@code ref} names ({@code null}: the newest of a kind), with its key: every
     * configured store ({@link #openAll}) for a key or {@code null}, the one store of an {@code s3://} URI or local
     * file. The key is {@code null} when {@code ref} is.
     */
    static Candidates candidates(Settings s, String ref) {
        if (ref == null || (!isFile(ref) && !StoreProviders.hasScheme(ref))) {
            return new Candidates(openAll(s), ref);
        }
        Located at = locate(s, ref);
        return new Candidates(java.util.List.of(at.sink()), at.key());
    }

    /** The stores to read one backup from, in order, and its key ({@code null}: the newest). */
    record Candidates(java.util.List<Sink> stores, String key) {}

    private static Sink track(Sink sink) {
        OPEN.add(sink);
        return sink;
    }

    /** Closes a store opened here. */
    static void close(Sink sink) throws java.io.IOException {
        OPEN.remove(sink);
        ORIGIN.remove(sink);
        sink.close();
    }

    /**
     * Closes every store still open, from a shutdown hook (SIGTERM, Ctrl-C): an S3 or MinIO writer then fails and
     * aborts its multipart upload, a restore's reads fail and its target is dropped, so a stopped run leaves no
     * half-written state behind that the store would keep.
     */
    static void closeAll() {
        for (Sink sink : OPEN) {
            try {
                close(sink);
            } catch (java.io.IOException | RuntimeException e) {
                log.warn("closing {} on shutdown failed: {}", sink.location(), e.toString());
            }
        }
    }
}
