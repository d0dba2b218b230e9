package com.jiffoo.backup.cli;

import static com.jiffoo.backup.cli.PitrIT.freePort;
import static com.jiffoo.backup.cli.PitrIT.query;
import static com.jiffoo.backup.cli.PitrIT.root;
import static com.jiffoo.backup.cli.PitrIT.sql;
import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * WAL archiving and point-in-time recovery with a copy, the real jar and a throwaway cluster: the store is a local
 * directory ({@code BACKUP_DIR}), the copy an S3Proxy bucket ({@code BACKUP_COPIES}), both named in a
 * {@code --config} file the server's user reads. Every archived file lands in both with the same bytes; the copy down
 * makes {@code wal-push} fail naming it while the store keeps the file, and the retry after it is back succeeds;
 * {@code wal-fetch} never says "not found" while the copy is down; a segment damaged in the store with dd is served
 * from the copy; {@code copy --kind wal} brings a third store up to date; and with the store wiped, {@code restore
 * pitr --latest} recovers every row from the copy.
 */
class WalCopiesIT {
    @Test
    void everyWalFileGoesToTheStoreAndTheCopyAndRecoveryFallsBackToTheCopy() throws Exception {
        Path work = Files.createTempDirectory(
                "jiffoo-walcopy-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Path s3data = work.resolve("s3-data");
        S3ProxyServer s3 = S3ProxyServer.startFilesystem(s3data);
        try {
            Path primary = Files.createDirectory(work.resolve("primary"));
            root("chown", "postgres:postgres", primary.toString());
            Path key = TestKeys.keyFile(work, "backup.key");
            String copy = "s3://" + s3.bucket() + "/pitr";
            Path config = work.resolve("backup.conf");
            Files.writeString(
                    config,
                    String.join(
                            "\n",
                            "BACKUP_DIR=" + primary,
                            "BACKUP_COPIES=" + copy + "?endpoint=" + s3.endpoint() + "&region=us-east-1",
                            "AWS_ACCESS_KEY_ID=" + s3.accessKey(),
                            "AWS_SECRET_ACCESS_KEY=" + s3.secretKey(),
                            ""));
            Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
            Path localOnly = work.resolve("local-only.conf");
            Files.writeString(localOnly, "BACKUP_DIR=" + primary + "\n");
            ThrowawayCluster.serverOwns(key, config);
            String launcher = Jar.path().resolveSibling("jiffoo-backup").toString();
            List<String> store = List.of("--config", config.toString(), "--key-file", key.toString());
            Map<String, String> none = Map.of();
            try (ThrowawayCluster pg = ThrowawayCluster.installed(
                    "archive_mode=on",
                    "archive_command=" + launcher + " wal-push --config " + config + " --key-file " + key + " %p")) {
                Map<String, String> env = Map.of(
                        "DB_HOST", "127.0.0.1",
                        "DB_PORT", Integer.toString(pg.port()),
                        "DB_USER", "postgres");
                sql(pg, "CREATE TABLE orders (id int PRIMARY KEY, note text)");
                PitrIT.switchAndWait(pg, last -> archivedUpTo(pg, last));
                Jar.Run base = Jar.run(work, env, args(store, "backup", "base"));
                assertThat(base.exitCode()).as(base.toString()).isZero();
                sql(pg, "INSERT INTO orders VALUES (1, 'A')", "INSERT INTO orders VALUES (2, 'B')");
                String segment = query(pg, "SELECT pg_walfile_name(pg_current_wal_lsn())");
                PitrIT.switchAndWait(pg, last -> archivedUpTo(pg, last));

                // every archived file is in both stores, committed by the same manifest over the same bytes
                TreeSet<String> inPrimary = walManifests(primary);
                assertThat(inPrimary).contains(walKey(segment) + ".manifest.json");
                assertThat(inPrimary.stream().anyMatch(k -> k.endsWith(".backup.zst.gpg.manifest.json")))
                        .as("the base backup's history file, %s", inPrimary)
                        .isTrue();
                Path copyRoot = s3data.resolve(s3.bucket()).resolve("pitr");
                assertThat(walManifests(copyRoot)).isEqualTo(inPrimary);
                for (String k : List.of(walKey(segment), walKey(segment) + ".manifest.json")) {
                    assertThat(sha256sum(copyRoot.resolve(k))).isEqualTo(sha256sum(primary.resolve(k)));
                }
                Path before = work.resolve("before");
                Jar.Run fetched = Jar.run(work, none, args(store, "wal-fetch", segment, before.toString()));
                assertThat(fetched.exitCode()).as(fetched.toString()).isZero();

                // the copy down: wal-push fails naming it, the store keeps the file; "not found" is never said
                Path wal = Files.createDirectory(work.resolve("spare"));
                Path spare = wal.resolve("0000000A00000000000000FE");
                Files.copy(before, spare);
                s3.close();
                Jar.Run down = Jar.run(work, none, args(store, "wal-push", spare.toString()));
                assertThat(down.exitCode()).as(down.toString()).isEqualTo(4);
                assertThat(down.stderr()).contains("FAILED in the copy " + copy);
                String spareKey = "wal/0000000A00000000/0000000A00000000000000FE.zst.gpg";
                assertThat(primary.resolve(spareKey + ".manifest.json")).exists();
                assertThat(copyRoot.resolve(spareKey + ".manifest.json")).doesNotExist();
                Jar.Run unknown = Jar.run(
                        work,
                        none,
                        args(
                                store,
                                "wal-fetch",
                                "0000000A00000000000000FF",
                                work.resolve("x").toString()));
                assertThat(unknown.exitCode()).as(unknown.toString()).isEqualTo(WalCommands.FETCH_ABORT);

                // back: the retry succeeds (the store answers "same content") and both hold the same bytes
                s3 = S3ProxyServer.restartFilesystem(s3data, s3);
                Jar.Run retry = Jar.run(work, none, args(store, "wal-push", spare.toString()));
                assertThat(retry.exitCode()).as(retry.toString()).isZero();
                assertThat(sha256sum(copyRoot.resolve(spareKey))).isEqualTo(sha256sum(primary.resolve(spareKey)));
                assertThat(sha256sum(copyRoot.resolve(spareKey + ".manifest.json")))
                        .isEqualTo(sha256sum(primary.resolve(spareKey + ".manifest.json")));
                sql(pg, "INSERT INTO orders VALUES (3, 'C')");
                PitrIT.switchAndWait(pg, last -> archivedUpTo(pg, last));

                // copy --kind wal: a third store gets the copy's WAL, the same bytes; a second run copies nothing
                Path third = Files.createDirectory(work.resolve("third"));
                Jar.Run copied = Jar.run(
                        work,
                        none,
                        "copy",
                        "--config",
                        config.toString(),
                        "--key-file",
                        key.toString(),
                        "--from",
                        copy + "?endpoint=" + s3.endpoint() + "&region=us-east-1",
                        "--to",
                        third.toString(),
                        "--kind",
                        "wal",
                        "--kind",
                        "base",
                        "--json");
                assertThat(copied.exitCode()).as(copied.toString()).isZero();
                assertThat(walManifests(third)).isEqualTo(walManifests(copyRoot));
                assertThat(sha256sum(third.resolve(spareKey))).isEqualTo(sha256sum(primary.resolve(spareKey)));
                Jar.Run again = Jar.run(
                        work,
                        none,
                        "copy",
                        "--config",
                        config.toString(),
                        "--key-file",
                        key.toString(),
                        "--from",
                        copy + "?endpoint=" + s3.endpoint() + "&region=us-east-1",
                        "--to",
                        third.toString(),
                        "--kind",
                        "wal",
                        "--json");
                assertThat(again.exitCode()).as(again.toString()).isZero();
                assertThat(again.json().get("copied").asInt()).isZero();

                // the segment damaged in the store (dd): the store alone refuses it, with the copy it is served
                Path object = primary.resolve(walKey(segment));
                root("dd", "if=/dev/zero", "of=" + object, "bs=1", "count=64", "seek=200", "conv=notrunc");
                Jar.Run alone = Jar.run(
                        work,
                        none,
                        "wal-fetch",
                        "--config",
                        localOnly.toString(),
                        "--key-file",
                        key.toString(),
                        segment,
                        work.resolve("alone").toString());
                assertThat(alone.exitCode()).as(alone.toString()).isEqualTo(WalCommands.FETCH_ABORT);
                Path after = work.resolve("after");
                Jar.Run fallback = Jar.run(work, none, args(store, "wal-fetch", segment, after.toString()));
                assertThat(fallback.exitCode()).as(fallback.toString()).isZero();
                assertThat(fallback.stderr()).contains(segment + ": served by the copy " + copy);
                assertThat(Files.mismatch(after, before)).isEqualTo(-1L);

                // the spare file (timeline 10, never the server's) would be a timeline without history: removed
                root("sh", "-c", "rm -rf " + primary + "/wal/0000000A00000000 " + copyRoot + "/wal/0000000A00000000");

                // the store wiped: restore pitr --latest takes the copy's base backup and WAL, and says so
                root("sh", "-c", "rm -rf " + primary + "/*");
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
                    assertThat(r.json().path("store").asText()).startsWith(copy);
                    assertThat(r.json()
                                    .path("storeFailures")
                                    .get(0)
                                    .path("error")
                                    .asText())
                            .isEqualTo("NOT_FOUND");
                    assertThat(r.json().path("recovery").path("state").asText()).isEqualTo("promoted");
                    assertThat(PitrIT.rows(port)).containsExactly("1 A", "2 B", "3 C");
                    assertThat(Files.readString(dir.resolve("postgresql.auto.conf")))
                            // the copy as configured (its endpoint), and no other store: the wiped one is left out (''
                            // quoted in '')
                            .contains("wal-fetch --store ''" + copy + "?endpoint=" + s3.endpoint(), "--copy-to ")
                            .doesNotContain(s3.secretKey());
                } finally {
                    PitrIT.stop(dir);
                }
            }
        } finally {
            s3.close();
            root("rm", "-rf", work.toString());
        }
    }

    /** The data key of an archived segment. */
    private static String walKey(String segment) {
        return "wal/" + segment.substring(0, 16) + "/" + segment + ".zst.gpg";
    }

    /** The keys of the WAL manifests under a store's root (a local store, or an S3Proxy bucket's prefix). */
    private static TreeSet<String> walManifests(Path root) throws IOException {
        TreeSet<String> keys = new TreeSet<>();
        try (Stream<Path> files = Files.walk(root.resolve("wal"))) {
            files.filter(Files::isRegularFile)
                    .map(p -> root.relativize(p).toString())
                    .filter(k -> k.endsWith(".manifest.json"))
                    .forEach(keys::add);
        }
        return keys;
    }

    private static String sha256sum(Path file) {
        Jar.Run r = Jar.exec(file.getParent(), Map.of(), List.of("sha256sum", file.toString()));
        assertThat(r.exitCode()).as(r.toString()).isZero();
        return r.stdout().substring(0, 64);
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
        List<String> all = new ArrayList<>(List.of(command));
        int at = command[0].equals("restore") || command[0].equals("backup") ? 2 : 1;
        all.addAll(at, store);
        return all.toArray(String[]::new);
    }
}
