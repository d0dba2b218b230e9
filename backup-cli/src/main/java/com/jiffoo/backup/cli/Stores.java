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

    private static Sink select(Settings s) {
        String where;
        String location;
        Optional<String> store = s.get("STORE");
        Optional<String> bucket = s.get("S3_BUCKET");
        if (store.isPresent()) {
            where = "--store";
            location = store.get();
        } else if (bucket.isPresent()) {
            s.get("BACKUP_DIR")
                    .ifPresent(dir -> log.info(
                            "S3_BUCKET and BACKUP_DIR are both set: using S3_BUCKET;"
                                    + " BACKUP_DIR ({}) is not needed (backups stream straight to the bucket)",
                            dir));
            where = "S3_BUCKET";
            location = bucket.get().startsWith("s3://") ? bucket.get() : "s3://" + bucket.get();
        } else {
            where = "BACKUP_DIR";
            location = s.get("BACKUP_DIR").orElseThrow(() -> new ConfigurationException(NO_STORE + "."));
        }
        return open(s, location.startsWith("s3://") ? onMinio(s, location) : location, where);
    }

    private static Sink open(Settings s, String location, String where) {
        try {
            return StoreProviders.open(location, s);
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
        if (ref.startsWith("/") || ref.startsWith(".") || ref.startsWith("file:") || Files.isRegularFile(path)) {
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

    private static Sink track(Sink sink) {
        OPEN.add(sink);
        return sink;
    }

    /** Closes a store opened here. */
    static void close(Sink sink) throws java.io.IOException {
        OPEN.remove(sink);
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
