package com.jiffoo.backup.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.DirectoryRestoreTarget;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.minio.MinioSink;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PgTestServer;
import com.jiffoo.backup.postgres.PostgresRestoreTarget;
import com.jiffoo.backup.postgres.PostgresSource;
import com.jiffoo.backup.postgres.RowCountCheck;
import com.jiffoo.backup.s3.S3Sink;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * The directory and PostgreSQL backups of the earlier modules, stored on S3 (S3Sink) and on MinIO's client
 * (MinioSink) — both against a real S3 protocol server, S3Proxy, on loopback — and restored from there.
 */
class StoresEndToEndTest {
    private static S3ProxyServer server;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        server = S3ProxyServer.startTransient();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    private Sink store(String kind, String prefix) {
        if (kind.equals("s3")) {
            return S3Sink.builder()
                    .uri("s3://" + server.bucket() + "/" + prefix)
                    .endpointOverride(server.endpoint())
                    .pathStyleAccess(true)
                    .credentialsProvider(StaticCredentialsProvider.create(
                            AwsBasicCredentials.create(server.accessKey(), server.secretKey())))
                    .partSize(S3Sink.MIN_PART_SIZE)
                    .build();
        }
        return MinioSink.builder()
                .endpoint(server.endpoint().toString())
                .bucket(server.bucket())
                .prefix(prefix)
                .credentials(server.accessKey(), server.secretKey())
                .partSize(MinioSink.MIN_PART_SIZE)
                .build();
    }

    private OpenPgpTransform pgp() {
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(TestKeys.keyFile(dir, "backup.key")))
                .build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"s3", "minio"})
    void directoryBackupRoundTripsThroughTheStore(String kind) throws Exception {
        Path tree = dir.resolve("uploads");
        Files.createDirectories(tree.resolve("2026/01"));
        byte[] photo = new byte[13 << 20]; // > 2 parts of 5 MiB after compression: random bytes do not shrink
        new Random(7).nextBytes(photo);
        Files.write(tree.resolve("2026/01/photo.jpg"), photo);
        Files.writeString(tree.resolve("readme.txt"), "hello, stores\n");
        Files.createSymbolicLink(tree.resolve("latest"), Path.of("2026/01/photo.jpg"));
        OpenPgpTransform pgp = pgp();
        try (Sink store = store(kind, "files-" + kind + "-" + System.nanoTime())) {
            BackupManifest m = BackupPipeline.builder()
                    .source(DirectorySource.builder(tree).build())
                    .encryption(pgp)
                    .sink(store)
                    .build()
                    .run();
            Path restored = dir.resolve("restored");
            RestorePipeline.builder()
                    .sink(store)
                    .decryption(pgp)
                    .target(DirectoryRestoreTarget.builder(restored).build())
                    .build()
                    .restore(m.objectKey());
            assertThat(QuickStart.compare(tree, restored)).isEmpty();
            assertThat(m.objectSize()).isGreaterThan(2L * (5 << 20));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"s3", "minio"})
    void databaseBackupRoundTripsThroughTheStore(String kind) throws Exception {
        PgTestServer pg = PgTestServer.get();
        String source = pg.createDatabase("stores_src");
        String restored = "jb_stores_dst_" + Long.toHexString(System.nanoTime());
        try {
            try (Connection c = pg.connect(source);
                    Statement s = c.createStatement()) {
                s.execute("CREATE TABLE orders (id bigint PRIMARY KEY, customer text, total numeric(10,2),"
                        + " doc jsonb)");
                s.execute("INSERT INTO orders SELECT g, md5(g::text), g % 1000, jsonb_build_object('n', g)"
                        + " FROM generate_series(1, 50000) g");
            }
            PgConnection server = pg.connection(source);
            OpenPgpTransform pgp = pgp();
            try (Sink store = store(kind, "db-" + kind + "-" + System.nanoTime())) {
                BackupManifest m = BackupPipeline.builder()
                        .source(PostgresSource.builder(server).build())
                        .encryption(pgp)
                        .sink(store)
                        .build()
                        .run();
                RestorePipeline.builder()
                        .sink(store)
                        .decryption(pgp)
                        .target(PostgresRestoreTarget.newDatabase(server.withDatabase("postgres"), restored))
                        .build()
                        .restore(m.objectKey());
                RowCountCheck.compare(server.withDatabase(restored), m).orThrow();
                assertThat(hash(pg, restored)).isEqualTo(hash(pg, source));
            }
        } finally {
            pg.dropDatabase(source);
            pg.dropDatabase(restored);
        }
    }

    private static String hash(PgTestServer pg, String db) throws Exception {
        try (Connection c = pg.connect(db);
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT md5(string_agg(o::text, E'\\n' ORDER BY id)) FROM orders o")) {
            r.next();
            return r.getString(1);
        }
    }
}
