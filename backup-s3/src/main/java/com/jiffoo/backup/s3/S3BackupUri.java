package com.jiffoo.backup.s3;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.store.StoreLayout;
import java.util.Objects;

/**
 * The {@code s3://} URI of one backup, as an operator copies it from a listing
 * ({@code s3://jiffoo-backups/prod/database/db_backup_20260111_020000.sql.gpg}), split into the store it lives in
 * ({@code s3://jiffoo-backups/prod}) and its key there ({@code database/db_backup_20260111_020000.sql.gpg}): the key
 * is the last two path segments, {@code <kind>/<file>} ({@link StoreLayout#backupKeyAtEndOf}). The
 * {@code .sha256} or {@code .manifest.json} URI of a backup works too.
 *
 * <pre>{@code
 * S3BackupUri uri = S3BackupUri.parse("s3://jiffoo-backups/prod/database/db_backup_20260111_020000.sql.gpg");
 * try (S3Sink store = S3Sink.builder().uri(uri.storeUri()).build()) {
 *     RestorePipeline.builder().sink(store).decryption(pgp).target(target).build().restore(uri.key());
 * }
 * }</pre>
 *
 * @param bucket the bucket
 * @param prefix the store's prefix inside the bucket, without leading or trailing {@code /}; empty for none
 * @param key    the backup's key in the store: {@code <kind>/<file>}
 */
public record S3BackupUri(String bucket, String prefix, String key) {

    /** Checks the parts. */
    public S3BackupUri {
        Objects.requireNonNull(bucket, "bucket");
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(key, "key");
    }

    /**
     * Parses {@code s3://bucket[/prefix…]/kind/file}.
     *
     * @throws ConfigurationException naming the URI and the expected form
     */
    public static S3BackupUri parse(String uri) {
        if (uri == null || !uri.startsWith("s3://")) {
            throw bad(uri, "it does not start with s3://");
        }
        String rest = uri.substring("s3://".length());
        int slash = rest.indexOf('/');
        if (slash <= 0) {
            throw bad(uri, "it names no bucket and object");
        }
        String bucket = rest.substring(0, slash);
        String path = rest.substring(slash + 1);
        if (path.endsWith("/")) {
            throw bad(uri, "it names a folder, not one backup");
        }
        String key;
        try {
            key = StoreLayout.backupKeyAtEndOf(path);
        } catch (ConfigurationException e) {
            throw bad(uri, "a backup's key is <kind>/<file>, e.g. database/db_backup_20260111_020000.sql.gpg");
        }
        String prefix = path.substring(0, path.length() - key.length()).replaceAll("/+$", "");
        return new S3BackupUri(bucket, prefix, key);
    }

    /** The store's URI, for {@link S3Sink.Builder#uri(String)}: {@code s3://bucket/prefix}. */
    public String storeUri() {
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
    }

    @Override
    public String toString() {
        return storeUri() + "/" + key;
    }

    private static ConfigurationException bad(String uri, String why) {
        return new ConfigurationException(
                "'" + uri + "' is not the s3:// URI of one backup: " + why + ". Expected"
                        + " s3://BUCKET/PREFIX/KIND/FILE, e.g. s3://jiffoo-backups/prod/database/db_backup_20260111_020000.sql.gpg.");
    }
}
