package com.jiffoo.backup.cli;

import static com.jiffoo.backup.cli.PitrIT.freePort;
import static com.jiffoo.backup.cli.PitrIT.query;
import static com.jiffoo.backup.cli.PitrIT.root;
import static com.jiffoo.backup.cli.PitrIT.sql;
import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.postgres.RecoveryServer;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * WAL archiving and recovery through the launcher on every PostgreSQL server version we can run (the zonky 16, 17
 * and 18 binaries): the server archives through {@code wal-push}, and a copy of its data directory recovers through
 * {@code wal-fetch} with the same version's binaries. The base copy is made with the low-level backup API
 * ({@code pg_backup_start}, {@code cp -a}, {@code pg_backup_stop}), since no pg_basebackup 17 or 18 is installed here
 * ({@code backup base} needs one of the server's major version).
 */
class WalVersionsIT {
    /** What a base copy leaves out, as pg_basebackup does. */
    private static final Set<String> NOT_COPIED = Set.of("postmaster.pid", "postmaster.opts", "pg_wal");

    @ParameterizedTest(name = "PostgreSQL {0}")
    @ValueSource(ints = {16, 17, 18})
    void archivesThroughWalPushAndRecoversThroughWalFetch(int major) throws Exception {
        Path work = Files.createTempDirectory(
                "jiffoo-walver-" + major + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try {
            Path store = Files.createDirectory(
                    work.resolve("store"),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path key = TestKeys.keyFile(work, "backup.key");
            // the server runs wal-push and wal-fetch as its own user
            root("chown", "postgres:postgres", store.toString(), key.toString());
            String launcher = Jar.path().resolveSibling("jiffoo-backup").toString();
            String options = " --store file:" + store + " --key-file " + key + " ";
            Path copy = work.resolve("copy");
            try (ThrowawayCluster pg = ThrowawayCluster.version(
                    major,
                    "wal_level=replica",
                    "archive_mode=on",
                    "archive_command=" + launcher + " wal-push" + options + "%p")) {
                sql(pg, "CREATE TABLE orders (id int PRIMARY KEY, note text)", "INSERT INTO orders VALUES (1, 'A')");
                baseCopy(pg, copy);
                // WAL to replay after the copy, so that recovery to a time is still replaying when RecoveryServer
                // first connects (its promotion asked for during replay, below)
                sql(pg, "CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 400000) g");
                String beforeB = query(pg, "SELECT now()::text");
                sql(pg, "INSERT INTO orders VALUES (2, 'B')");
                PitrIT.switchAndWait(pg, last -> archived(pg, last));
                pg.stop();
                Path toTime = work.resolve("to-time");
                root("cp", "-a", copy.toString(), toTime.toString());

                // recovery with the same version's binaries, its restore_command our wal-fetch
                Files.writeString(
                        copy.resolve("postgresql.auto.conf"),
                        "\nrestore_command = '" + launcher + " wal-fetch" + options + "%f %p'\n"
                                + "recovery_target_action = 'promote'\n",
                        StandardCharsets.UTF_8,
                        StandardOpenOption.APPEND);
                Files.write(copy.resolve("recovery.signal"), new byte[0]);
                root("chown", "-R", "postgres:postgres", copy.toString());
                int port = freePort();
                try {
                    RecoveryServer.Outcome outcome = RecoveryServer.builder(copy, port)
                            .binDirectory(pg.binDirectory())
                            .timeout(Duration.ofMinutes(3))
                            .build()
                            .startAndWait();
                    assertThat(outcome.state()).isEqualTo(RecoveryServer.State.PROMOTED);
                    String log = Files.readString(outcome.log(), StandardCharsets.UTF_8);
                    assertThat(log).containsPattern("restored log file \"[0-9A-F]{24}\" from archive");
                    assertThat(PitrIT.rows(port))
                            .as("rows after recovery; log:\n%s", log)
                            .containsExactly("1 A", "2 B");
                    assertThat(recovered(port, "SELECT pg_is_in_recovery()")).isEqualTo("f");
                    assertThat(recovered(port, "SELECT current_setting('server_version_num')::int / 10000"))
                            .isEqualTo(Integer.toString(major));
                    // replay went at least as far as B's commit: after the time noted before it
                    assertThat(outcome.lastTransactionTime()).isNotNull();
                    assertThat(recovered(
                                    port,
                                    "SELECT '" + outcome.lastTransactionTime() + "'::timestamptz > '" + beforeB
                                            + "'::timestamptz"))
                            .isEqualTo("t");
                } finally {
                    ThrowawayCluster.stopServer(copy, pg.binDirectory());
                }

                // to a time between A and B, paused there and promoted (as restore pitr --start does): the promotion
                // is asked for during replay, and replay still stops at the target
                Files.writeString(
                        toTime.resolve("postgresql.auto.conf"),
                        "\nrestore_command = '" + launcher + " wal-fetch" + options + "%f %p'\n"
                                + "recovery_target_time = '" + beforeB + "'\nrecovery_target_action = 'pause'\n",
                        StandardCharsets.UTF_8,
                        StandardOpenOption.APPEND);
                Files.write(toTime.resolve("recovery.signal"), new byte[0]);
                root("chown", "-R", "postgres:postgres", toTime.toString());
                int timePort = freePort();
                try {
                    RecoveryServer.Outcome outcome = RecoveryServer.builder(toTime, timePort)
                            .binDirectory(pg.binDirectory())
                            .action(com.jiffoo.backup.postgres.PitrRestore.Action.PAUSE)
                            .promoteAtPause(true)
                            .timeout(Duration.ofMinutes(3))
                            .build()
                            .startAndWait();
                    assertThat(outcome.state()).isEqualTo(RecoveryServer.State.PROMOTED);
                    String log = Files.readString(outcome.log(), StandardCharsets.UTF_8);
                    assertThat(PitrIT.rows(timePort)).as("log:\n%s", log).containsExactly("1 A");
                    assertThat(recovered(timePort, "SELECT count(*) FROM filler"))
                            .isEqualTo("400000");
                    assertThat(recovered(timePort, "SELECT pg_is_in_recovery()"))
                            .isEqualTo("f");
                    assertThat(Files.readString(toTime.resolve("postgresql.auto.conf"), StandardCharsets.UTF_8))
                            .as("set back to what was asked for, for a restart")
                            .contains("recovery_target_action = 'promote'")
                            .doesNotContain("recovery_target_action = 'pause'");
                    // asked for during replay, the promotion is found the moment replay pauses at the target; asked
                    // for once the pause was seen, the paused startup process found it a second later
                    java.time.LocalTime paused = logTime(log, "pausing at the end of recovery");
                    java.time.LocalTime promoted = logTime(log, "received promote request");
                    assertThat(Duration.between(paused, promoted))
                            .as("from the pause to the promotion; log:\n%s", log)
                            .isLessThan(Duration.ofMillis(500));
                } finally {
                    ThrowawayCluster.stopServer(toTime, pg.binDirectory());
                }
            }
        } finally {
            root("rm", "-rf", work.toString());
        }
    }

    /**
     * A base copy with the low-level API, test-only: {@code pg_backup_start}, {@code cp -a} of the data directory as
     * root (without postmaster.pid and pg_wal's files), {@code pg_backup_stop}'s label as {@code backup_label}.
     */
    private static void baseCopy(ThrowawayCluster pg, Path copy) throws Exception {
        Path data = pg.dataDirectory();
        try (Connection c = pg.connect();
                Statement s = c.createStatement()) {
            s.execute("SELECT pg_backup_start('it', true)");
            Files.createDirectory(
                    copy, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            List<String> cp = new ArrayList<>(List.of("cp", "-a"));
            try (Stream<Path> entries = Files.list(data)) {
                entries.filter(p -> !NOT_COPIED.contains(p.getFileName().toString()))
                        .map(Path::toString)
                        .forEach(cp::add);
            }
            cp.add(copy.toString());
            root(cp.toArray(String[]::new));
            Files.createDirectories(copy.resolve("pg_wal"));
            try (Stream<Path> walDirectories = Files.list(data.resolve("pg_wal"))) {
                for (Path d : walDirectories.filter(Files::isDirectory).toList()) {
                    Files.createDirectories(
                            copy.resolve("pg_wal").resolve(d.getFileName().toString()));
                }
            }
            try (ResultSet r = s.executeQuery("SELECT labelfile FROM pg_backup_stop(true)")) {
                r.next();
                Files.writeString(copy.resolve("backup_label"), r.getString(1), StandardCharsets.UTF_8);
            }
        }
    }

    /** Whether pg_stat_archiver shows {@code segment} archived (by name: same timeline). */
    private static boolean archived(ThrowawayCluster pg, String segment) {
        try {
            return "t"
                    .equals(query(
                            pg,
                            "SELECT coalesce(last_archived_wal >= '" + segment + "', false) FROM pg_stat_archiver"));
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    /** The time of day of the first server log line holding {@code text} (the log's "HH:MM:SS.mmm" stamp). */
    private static java.time.LocalTime logTime(String log, String text) {
        String line = log.lines()
                .filter(l -> l.contains(text))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no line with '" + text + "' in the log:\n" + log));
        java.util.regex.Matcher m =
                java.util.regex.Pattern.compile("\\d\\d:\\d\\d:\\d\\d\\.\\d{3}").matcher(line);
        assertThat(m.find()).as(line).isTrue();
        return java.time.LocalTime.parse(m.group());
    }

    private static String recovered(int port, String q) throws SQLException {
        try (Connection c = DriverManager.getConnection(
                        "jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", "");
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery(q)) {
            r.next();
            return r.getString(1);
        }
    }
}
