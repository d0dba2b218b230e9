package com.jiffoo.backup.cli;

import static com.jiffoo.backup.cli.PitrIT.freePort;
import static com.jiffoo.backup.cli.PitrIT.query;
import static com.jiffoo.backup.cli.PitrIT.root;
import static com.jiffoo.backup.cli.PitrIT.sql;
import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two clusters (two {@code initdb}s, so two system identifiers) archiving into one store, the second one's WAL
 * numbered after the first one's: {@code restore pitr --backup} of the older cluster's base backup checks the archive
 * against that base backup's cluster, not against the newest base backup's (the other cluster's), and recovers. Then
 * (last: it deletes) base backups taken with archive_mode off ({@code --allow-no-archive}) added, and
 * {@code prune --keep-last 1}: they do not push the newest PITR base backup out.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PitrTwoClustersIT {
    static Path work;
    static Path store;
    static ThrowawayCluster older;
    static ThrowawayCluster newer;
    static Map<String, String> env;
    static String olderKey;
    static String newerKey;

    @AfterAll
    static void tearDown() throws Exception {
        for (ThrowawayCluster c : new ThrowawayCluster[] {older, newer}) {
            if (c != null) {
                c.close();
            }
        }
        if (work != null) {
            root("rm", "-rf", work.toString());
        }
    }

    @BeforeAll
    static void setUp() throws Exception {
        work = Files.createTempDirectory(
                "jiffoo-pitr-two-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        store = Files.createDirectory(
                work.resolve("store"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path key = TestKeys.keyFile(work, "backup.key");
        String launcher = Jar.path().resolveSibling("jiffoo-backup").toString();
        String push = "exec " + launcher + " wal-push --store " + store + " --key-file " + key + " \"$1\"\n";
        // each cluster archives through a script: the newer one discards its WAL until its numbers are past the
        // older one's (else its pushes would collide with the older one's names and be refused)
        Path olderScript = script(work.resolve("older-archive.sh"), push);
        Path newerScript = script(work.resolve("newer-archive.sh"), "exit 0\n");
        root("chown", "postgres:postgres", store.toString(), key.toString());

        older = ThrowawayCluster.installed("archive_mode=on", "archive_command=" + olderScript + " %p");
        env = new HashMap<>(Map.of(
                "DB_HOST", "127.0.0.1",
                "DB_PORT", Integer.toString(older.port()),
                "DB_USER", "postgres",
                "BACKUP_DIR", store.toString(),
                "ENCRYPTION_KEY_FILE", key.toString()));
        sql(older, "CREATE TABLE orders (id int PRIMARY KEY, note text)");
        Jar.Run olderBase = Jar.run(work, env, "backup", "base", "--json");
        assertThat(olderBase.exitCode()).as(olderBase.toString()).isZero();
        olderKey = olderBase.json().path("key").asText();
        sql(older, "INSERT INTO orders VALUES (1, 'older')");
        switchAndWait(older, store);
        String olderEnd = query(older, "SELECT pg_walfile_name(pg_current_wal_lsn())");

        newer = ThrowawayCluster.installed("archive_mode=on", "archive_command=" + newerScript + " %p");
        sql(newer, "CREATE TABLE orders (id int PRIMARY KEY, note text)");
        for (int i = 0;
                query(newer, "SELECT pg_walfile_name(pg_current_wal_lsn())").compareTo(olderEnd) <= 0 || i < 3;
                i++) {
            sql(newer, "INSERT INTO orders VALUES (" + (100 + i) + ", 'newer')", "SELECT pg_switch_wal()");
        }
        // every segment switched out so far discarded (none waits as .ready), else the archiver could push one of
        // them with the new script: a newer-cluster file under a name the older cluster's recovery asks for
        for (int i = 0;
                !"0".equals(query(newer, "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"));
                i++) {
            assertThat(i).as("the newer cluster's archiver did not catch up").isLessThan(300);
            Thread.sleep(100);
        }
        script(newerScript, push);
        assertThat(query(newer, "SELECT system_identifier::text FROM pg_control_system()"))
                .isNotEqualTo(query(older, "SELECT system_identifier::text FROM pg_control_system()"));
        Thread.sleep(1100); // the base backups' names hold the second they were taken
        env.put("DB_PORT", Integer.toString(newer.port()));
        Jar.Run newerBase = Jar.run(work, env, "backup", "base", "--json");
        assertThat(newerBase.exitCode()).as(newerBase.toString()).isZero();
        newerKey = newerBase.json().path("key").asText();
        switchAndWait(newer, store);
    }

    @Test
    @Order(1)
    void theOlderClustersBaseBackupIsRestoredAgainstItsOwnClustersWal() throws Exception {
        // the older cluster's base backup, chosen by name: its own WAL is complete in the store
        Path dir = work.resolve("restored");
        int port = freePort();
        try {
            Jar.Run r = Jar.run(
                    work,
                    env,
                    "restore",
                    "pitr",
                    "--pgdata",
                    dir.toString(),
                    "--backup",
                    olderKey,
                    "--latest",
                    "--start",
                    "--port",
                    Integer.toString(port),
                    "--json");
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.json().path("recovery").path("state").asText()).isEqualTo("promoted");
            assertThat(PitrIT.rows(port)).containsExactly("1 older");
        } finally {
            if (Files.exists(dir.resolve("postmaster.pid"))) {
                PitrIT.stop(dir);
            }
        }
    }

    @Test
    @Order(2)
    void baseBackupsWithoutArchivingDoNotCountTowardTheKeptPitrBaseBackups() throws Exception {
        List<String> noArchive = new ArrayList<>();
        try (ThrowawayCluster off = ThrowawayCluster.installed()) {
            Map<String, String> e = new HashMap<>(env);
            e.put("DB_PORT", Integer.toString(off.port()));
            for (int i = 0; i < 2; i++) {
                Thread.sleep(1100);
                Jar.Run b = Jar.run(work, e, "backup", "base", "--allow-no-archive", "--json");
                assertThat(b.exitCode()).as(b.toString()).isZero();
                noArchive.add(b.json().path("key").asText());
            }
        }
        Map<String, String> e = new HashMap<>(env);
        e.put("RETENTION_DAYS", "0");
        Jar.Run prune = Jar.run(work, e, "prune", "--kind", "base", "--keep-last", "1", "--json");
        assertThat(prune.exitCode()).as(prune.toString()).isZero();
        List<String> kept = new ArrayList<>();
        prune.json().path("kinds").get(0).path("kept").forEach(k -> kept.add(k.asText()));
        // the newest base backup that can be restored to a point in time, and (judged apart) the newest without WAL
        assertThat(kept).containsExactlyInAnyOrder(newerKey, noArchive.get(1));
        assertThat(store.resolve(newerKey + ".manifest.json")).exists();
        assertThat(store.resolve(olderKey + ".manifest.json")).doesNotExist();
        assertThat(store.resolve(noArchive.get(0) + ".manifest.json")).doesNotExist();

        Jar.Run dry = Jar.run(work, e, "prune", "--kind", "base", "--keep-last", "1", "--dry-run");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.stdout()).contains("archive_mode off: no point-in-time restore");
    }

    private static Path script(Path file, String body) throws Exception {
        Files.writeString(file, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    private static void switchAndWait(ThrowawayCluster cluster, Path store) throws Exception {
        PitrIT.switchAndWait(
                cluster,
                s -> Files.exists(store.resolve("wal/" + s.substring(0, 16) + "/" + s + ".zst.gpg.manifest.json")));
    }
}
