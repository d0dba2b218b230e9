package com.jiffoo.backup.cli;

import static com.jiffoo.backup.cli.PitrIT.freePort;
import static com.jiffoo.backup.cli.PitrIT.query;
import static com.jiffoo.backup.cli.PitrIT.root;
import static com.jiffoo.backup.cli.PitrIT.sql;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testing.s3.S3rverServer;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Point-in-time recovery with the store on S3, on two S3 implementations (S3Proxy, and s3rver: written
 * independently): the server archives through {@code wal-push} into the bucket, {@code backup base} goes there too,
 * {@code wal-verify} finds the archive continuous, {@code wal-fetch} gives a real segment back byte for byte, and
 * {@code restore pitr --latest --start} from the bucket recovers every committed row. The S3 settings and
 * credentials are in a {@code --config} file readable by the server's user only, as docs/pitr.md says: the server
 * runs {@code archive_command} and {@code restore_command} without our environment.
 */
class PitrOnS3IT {
    @ParameterizedTest
    @ValueSource(strings = {"s3proxy", "s3rver"})
    void baseBackupAndWalOnS3RestoreToTheLatest(String implementation) throws Exception {
        if (implementation.equals("s3rver")) {
            S3rverServer.assumeAvailable();
        }
        Path work = Files.createTempDirectory(
                "jiffoo-pitr-s3-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try (AutoCloseable server = implementation.equals("s3rver")
                ? S3rverServer.start(Files.createDirectory(work.resolve("s3rver")))
                : S3ProxyServer.startTransient()) {
            S3Endpoint s3 = (S3Endpoint) server;
            Path key = TestKeys.keyFile(work, "backup.key");
            Path config = work.resolve("backup.conf");
            Files.writeString(
                    config,
                    String.join(
                            "\n",
                            "S3_BUCKET=s3://" + s3.bucket() + "/pitr",
                            "S3_ENDPOINT=" + s3.endpoint(),
                            "AWS_REGION=us-east-1",
                            "AWS_ACCESS_KEY_ID=" + s3.accessKey(),
                            "AWS_SECRET_ACCESS_KEY=" + s3.secretKey(),
                            ""));
            Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
            ThrowawayCluster.serverOwns(key, config);
            String launcher = Jar.path().resolveSibling("jiffoo-backup").toString();
            try (ThrowawayCluster pg = ThrowawayCluster.installed(
                    "archive_mode=on",
                    "archive_command=" + launcher + " wal-push --config " + config + " --key-file " + key + " %p")) {
                Map<String, String> env = Map.of(
                        "DB_HOST", "127.0.0.1",
                        "DB_PORT", Integer.toString(pg.port()),
                        "DB_USER", "postgres");
                List<String> store = List.of("--config", config.toString(), "--key-file", key.toString());

                sql(pg, "CREATE TABLE orders (id int PRIMARY KEY, note text)");
                Jar.Run base = Jar.run(work, env, args(store, "backup", "base", "--json"));
                assertThat(base.exitCode()).as(base.toString()).isZero();
                sql(pg, "INSERT INTO orders VALUES (1, 'A')", "INSERT INTO orders VALUES (2, 'B')");
                String lastSegment = query(pg, "SELECT pg_walfile_name(pg_current_wal_lsn())");
                PitrIT.switchAndWait(pg, last -> archivedUpTo(pg, last));

                Jar.Run verify = Jar.run(work, env, args(store, "wal-verify", "--json"));
                assertThat(verify.exitCode()).as(verify.toString()).isZero();
                assertThat(verify.json().get("rejected")).isEmpty();

                // a real segment back from the bucket, equal to the server's copy
                Path back = work.resolve("RECOVERYXLOG");
                Jar.Run fetch = Jar.run(work, Map.of(), args(store, "wal-fetch", lastSegment, back.toString()));
                assertThat(fetch.exitCode()).as(fetch.toString()).isZero();
                assertThat(Files.mismatch(
                                back, pg.dataDirectory().resolve("pg_wal").resolve(lastSegment)))
                        .isEqualTo(-1L);

                Path dir = work.resolve("restored");
                int port = freePort();
                try {
                    Jar.Run r = Jar.run(
                            work,
                            env,
                            args(
                                    store,
                                    "restore",
                                    "pitr",
                                    "--pgdata",
                                    dir.toString(),
                                    "--latest",
                                    "--start",
                                    "--port",
                                    Integer.toString(port),
                                    "--json"));
                    assertThat(r.exitCode()).as(r.toString()).isZero();
                    JsonNode recovery = r.json().path("recovery");
                    assertThat(recovery.path("state").asText()).isEqualTo("promoted");
                    assertThat(PitrIT.rows(port)).containsExactly("1 A", "2 B");
                    assertThat(Files.readString(dir.resolve("postgresql.auto.conf")))
                            .contains("wal-fetch", "--config", config.toString())
                            .doesNotContain(s3.secretKey());
                } finally {
                    PitrIT.stop(dir);
                }
            }
        } finally {
            root("rm", "-rf", work.toString());
        }
    }

    /** True once the server's archiver reports {@code segment} (or a later one) archived. */
    private static boolean archivedUpTo(ThrowawayCluster pg, String segment) {
        try {
            String last = query(pg, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
            return last.length() >= 24 && last.substring(0, 24).compareTo(segment) >= 0;
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
    }

    private static String[] args(List<String> store, String... command) {
        List<String> all = new java.util.ArrayList<>(List.of(command));
        // the options after the command (and before wal-fetch's %f %p)
        int at = command[0].equals("restore") || command[0].equals("backup") ? 2 : 1;
        all.addAll(at, store);
        return all.toArray(String[]::new);
    }
}
