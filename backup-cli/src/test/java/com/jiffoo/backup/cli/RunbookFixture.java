package com.jiffoo.backup.cli;

import com.jiffoo.backup.postgres.PgTestServer;
import com.jiffoo.backup.postgres.ShopSchema;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.HashMap;
import java.util.Map;

/**
 * What the runbook's procedures run against in tests: an S3Proxy server, the PostgreSQL test server with a shop
 * database to back up, and the runbook's environment variables pointing at both.
 *
 * <pre>{@code
 * try (RunbookFixture rb = RunbookFixture.start("src")) {
 *     Jar.run(dir, rb.env(keyFile, "prod"), "backup", "database");
 * }
 * }</pre>
 */
public final class RunbookFixture implements AutoCloseable {
    private final S3ProxyServer s3;
    private final PgTestServer pg;
    private final String sourceDb;

    private RunbookFixture(S3ProxyServer s3, PgTestServer pg, String sourceDb) {
        this.s3 = s3;
        this.pg = pg;
        this.sourceDb = sourceDb;
    }

    /** Starts S3Proxy and creates a shop database {@code jb_<name>_…} with 200 orders. */
    /** Writes {@code mib} MiB of seeded random (incompressible) bytes to {@code file}: a backup of it takes seconds. */
    public static void writeRandom(Path file, int mib, long seed) throws java.io.IOException {
        byte[] chunk = new byte[1 << 20];
        java.util.Random random = new java.util.Random(seed);
        try (java.io.OutputStream out = java.nio.file.Files.newOutputStream(file)) {
            for (int i = 0; i < mib; i++) {
                random.nextBytes(chunk);
                out.write(chunk);
            }
        }
    }

    /**
     * Writes {@code dir/backup.key} as {@code jiffoo-backup keygen} does (a random passphrase, base64 of 32 bytes,
     * mode 0600) without a JVM start: for tests whose subject is not keygen (FilesCommandsIT runs keygen itself).
     */
    public static Path keyFile(Path dir) {
        return TestKeys.keyFile(dir, "backup.key");
    }

    public static RunbookFixture start(String name) throws Exception {
        S3ProxyServer s3 = S3ProxyServer.startTransient();
        PgTestServer pg = PgTestServer.get();
        String db = pg.createDatabase(name);
        try (Connection c = pg.connect(db)) {
            ShopSchema.create(c, 200);
        }
        return new RunbookFixture(s3, pg, db);
    }

    /** The S3 server. */
    public S3ProxyServer s3() {
        return s3;
    }

    /** The PostgreSQL server. */
    public PgTestServer pg() {
        return pg;
    }

    /** The database that is backed up. */
    public String sourceDb() {
        return sourceDb;
    }

    /** The {@code s3://} URI of the store under {@code prefix}. */
    public String store(String prefix) {
        return "s3://" + s3.bucket() + "/" + prefix;
    }

    /**
     * Only the runbook's variables (plus S3_ENDPOINT, since the S3 server is not AWS): the database, the key file,
     * the bucket under {@code prefix}, the region and credentials, RETENTION_DAYS.
     */
    public Map<String, String> env(Path keyFile, String prefix) {
        Map<String, String> env = databaseEnv(pg, sourceDb);
        env.put("ENCRYPTION_KEY_FILE", keyFile.toString());
        env.put("S3_BUCKET", store(prefix));
        env.put("S3_ENDPOINT", s3.endpoint().toString());
        env.put("AWS_REGION", "us-east-1");
        env.put("AWS_ACCESS_KEY_ID", s3.accessKey());
        env.put("AWS_SECRET_ACCESS_KEY", s3.secretKey());
        env.put("RETENTION_DAYS", "30");
        return env;
    }

    /** The runbook's database variables (DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD) for {@code db}. */
    public static Map<String, String> databaseEnv(PgTestServer pg, String db) {
        Map<String, String> env = new HashMap<>();
        env.put("DB_HOST", pg.host());
        env.put("DB_PORT", Integer.toString(pg.port()));
        env.put("DB_NAME", db);
        env.put("DB_USER", pg.user());
        if (pg.password() != null) {
            env.put("DB_PASSWORD", pg.password());
        }
        return env;
    }

    /** Drops the database and stops S3Proxy. */
    @Override
    public void close() throws Exception {
        try {
            pg.dropDatabase(sourceDb);
        } finally {
            s3.close();
        }
    }
}
