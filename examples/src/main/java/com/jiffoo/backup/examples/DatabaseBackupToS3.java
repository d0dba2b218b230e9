package com.jiffoo.backup.examples;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PgRestoreListCheck;
import com.jiffoo.backup.postgres.PostgresSource;
import com.jiffoo.backup.retention.Pruner;
import com.jiffoo.backup.retention.Retention;
import com.jiffoo.backup.s3.S3Sink;
import java.nio.file.Path;
import java.util.List;

/**
 * Embedding example: what {@code backup database} + {@code verify --deep} + {@code prune} of the command line do,
 * in an application's own code — a PostgreSQL backup streamed to S3, deep-verified, then retention applied.
 *
 * <pre>{@code
 * PgConnection db = PgConnection.builder().host("db.internal").database("jiffoo_mall").user("backup")
 *         .password(System.getenv("DB_PASSWORD").toCharArray()).build();
 * OpenPgpTransform pgp = OpenPgpTransform.builder()
 *         .passphrase(PassphraseKeyFile.read(Path.of("/etc/jiffoo/backup.key"))).build();
 * try (S3Sink store = S3Sink.builder().uri("s3://jiffoo-backups/prod").region("eu-central-1").build()) {
 *     DatabaseBackupToS3.run(db, pgp, store, 30);
 * }
 * }</pre>
 *
 * {@link #main} takes the runbook's variables (DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD,
 * ENCRYPTION_KEY_FILE, S3_BUCKET, AWS_REGION, RETENTION_DAYS) from the environment.
 */
public final class DatabaseBackupToS3 {
    private DatabaseBackupToS3() {}

    /**
     * Backs up {@code db} into {@code store}, deep-verifies the new backup (decrypts it and has pg_restore read it),
     * then deletes database backups older than {@code retentionDays} (never the newest).
     *
     * @return the new backup's manifest
     */
    public static BackupManifest run(PgConnection db, OpenPgpTransform pgp, Sink store, int retentionDays) {
        BackupManifest m = BackupPipeline.builder()
                .source(PostgresSource.builder(db).build()) // pg_dump -Fc -Z9; the password goes in its env
                .encryption(pgp)
                .sink(store)
                .build()
                .run(); // data, then .sha256, then .manifest.json
        BackupVerifier.builder()
                .sink(store)
                .transforms(List.of(pgp))
                .innerCheck(PgRestoreListCheck.create())
                .build()
                .verify(m.objectKey(), true);
        Pruner.builder()
                .sink(store)
                .policy(Retention.maxAgeDays(retentionDays))
                .build()
                .prune("database", false);
        return m;
    }

    /** Runs {@link #run} with the runbook's environment variables. */
    public static void main(String[] args) {
        PgConnection.Builder db = PgConnection.builder()
                .host(env("DB_HOST", "127.0.0.1"))
                .port(Integer.parseInt(env("DB_PORT", "5432")))
                .database(env("DB_NAME", null))
                .user(env("DB_USER", System.getProperty("user.name")));
        String password = System.getenv("DB_PASSWORD");
        if (password != null) {
            db.password(password.toCharArray());
        }
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(Path.of(env("ENCRYPTION_KEY_FILE", null))))
                .build();
        String bucket = env("S3_BUCKET", null);
        S3Sink.Builder s3 = S3Sink.builder().uri(bucket.startsWith("s3://") ? bucket : "s3://" + bucket);
        if (System.getenv("AWS_REGION") != null) {
            s3.region(System.getenv("AWS_REGION"));
        }
        try (S3Sink store = s3.build()) {
            BackupManifest m = run(db.build(), pgp, store, Integer.parseInt(env("RETENTION_DAYS", "30")));
            System.out.println("backed up and verified " + store.location() + "/" + m.objectKey());
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        if (v == null || v.isBlank()) {
            if (fallback == null) {
                throw new IllegalArgumentException(name + " is not set");
            }
            return fallback;
        }
        return v;
    }
}
