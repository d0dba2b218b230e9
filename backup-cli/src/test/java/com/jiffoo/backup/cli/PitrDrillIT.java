package com.jiffoo.backup.cli;

import static com.jiffoo.backup.cli.PitrIT.sql;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.PitrDrill;
import com.jiffoo.backup.postgres.PitrFixture;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code drill database --as-of TIME} through the real launcher, on one throwaway cluster archiving with
 * {@code wal-push} into a local store (a base backup, order 1, time T, order 2): a drill as of T passes with order 1
 * and without order 2 and reports its RPO (JSON, drill log, stored report); one whose smoke query finds no row exits
 * 12; a target after the end of the archive or before the base backup is refused (exit 2); a drill of the base backup
 * by name replays to the end of the archive; a drill stopped with SIGTERM stops its server and removes its scratch
 * directory, and the next drill stops and removes the one a drill killed with SIGKILL left. No drill leaves a scratch
 * directory or a server on its port.
 */
class PitrDrillIT {
    static ThrowawayCluster pg;
    static Path work;
    static Path store;
    static Path scratch;
    static Map<String, String> env;
    static String timeT;
    static String baseKey;

    @BeforeAll
    static void setUp() throws Exception {
        work = PitrFixture.workDirectory("jiffoo-pitr-drill-it-");
        store = PitrFixture.privateDirectory(work.resolve("store"));
        scratch = Files.createDirectory(work.resolve("scratch"));
        Path key = TestKeys.keyFile(work, "backup.key");
        // the server runs wal-push and wal-fetch as its own user
        pg = PitrFixture.archivingWithWalPush(Jar.path().resolveSibling("jiffoo-backup"), "file:" + store, store, key);
        env = PitrFixture.environment(pg, store, key);
        sql(pg, "CREATE TABLE orders (id int PRIMARY KEY, note text)");
        Jar.Run base = Jar.run(work, env, "backup", "base", "--json");
        assertThat(base.exitCode()).as(base.toString()).isZero();
        baseKey = base.json().get("key").asText();
        sql(pg, "INSERT INTO orders VALUES (1, 'before T')");
        timeT = PitrFixture.timeBetween(pg);
        sql(pg, "INSERT INTO orders VALUES (2, 'after T')");
        PitrFixture.switchAndWait(pg, PitrFixture.inStore(store));
    }

    @AfterAll
    static void tearDown() throws Exception {
        PitrFixture.tearDown(pg, work);
    }

    @AfterEach
    void noScratchLeft() throws IOException {
        PitrFixture.assertNoScratchLeft(scratch);
    }

    private static Jar.Run drill(String... args) {
        List<String> all = new ArrayList<>(List.of("drill", "database", "--scratch-dir", scratch.toString()));
        all.addAll(List.of(args));
        return Jar.run(work, env, all.toArray(String[]::new));
    }

    private static Path smoke(String name, String sql) throws IOException {
        Path f = work.resolve(name);
        Files.writeString(f, sql);
        return f;
    }

    @Test
    void aDrillAsOfTPassesWithTheRowsBeforeTOnlyAndReportsTheRpo() throws Exception {
        Path sql = smoke(
                "smoke-ok.sql",
                "SELECT 1 FROM orders WHERE id = 1;\nSELECT 1 WHERE NOT EXISTS (SELECT 1 FROM orders WHERE id = 2);\n");
        Path log = work.resolve("disaster-recovery-drill.md");
        Jar.Run r = drill("--as-of", timeT, "--smoke-sql", sql.toString(), "--report-file", log.toString(), "--json");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        JsonNode report = r.json().get("drill");
        assertThat(report.get("backupKey").asText()).isEqualTo(baseKey);
        List<String> checks = new ArrayList<>();
        report.get("checks")
                .forEach(c -> checks.add(
                        c.get("name").asText() + "=" + c.get("status").asText()));
        assertThat(checks)
                .containsExactly(
                        "restore=passed",
                        "recovery=passed",
                        "recovery-point=passed",
                        "row-counts=skipped",
                        "full-read=passed",
                        "amcheck=passed",
                        "smoke-queries=passed");
        List<String> phases = new ArrayList<>();
        report.get("phases").forEach(p -> phases.add(p.get("name").asText()));
        assertThat(phases).containsExactly("locate", "restore", "recovery", "checks", "cleanup");
        JsonNode rec = report.get("recovery");
        Instant last = Instant.parse(rec.get("lastTransaction").asText());
        Instant target = Instant.parse(rec.get("targetTime").asText());
        assertThat(last).isBefore(target);
        assertThat(rec.get("rpoMillis").asLong()).isPositive().isLessThan(5000);
        assertThat(r.stdout()).contains("RPO ");
        assertThat(Files.readString(log)).contains("database drill: PASSED").contains("- **RPO**: ");
        assertThat(store.resolve(r.json().get("record").get("key").asText())).exists();
        assertThat(listening(report)).as("no server left on the scratch port").isFalse();
    }

    @Test
    void aSmokeQueryWithoutRowsFailsTheDrill() throws Exception {
        Path sql = smoke("smoke-bad.sql", "SELECT 1 FROM orders WHERE id = 2;\n");
        Jar.Run r = drill("--as-of", timeT, "--smoke-sql", sql.toString(), "--no-alert", "--json");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(12);
        JsonNode report = r.json().get("drill");
        assertThat(report.get("outcome").asText()).isEqualTo("failed");
        assertThat(report.get("findings").toString()).contains("smoke-queries failed");
        assertThat(listening(report)).as("no server left on the scratch port").isFalse();
    }

    @Test
    void targetsOutsideTheArchiveAreRefused() {
        Jar.Run later = drill("--as-of", Instant.now().plusSeconds(3600).toString());
        assertThat(later.exitCode()).as(later.toString()).isEqualTo(2);
        assertThat(later.stderr()).contains("is not before the end of the WAL archive");
        Jar.Run earlier = drill("--as-of", "2020-01-01 00:00:00+00");
        assertThat(earlier.exitCode()).as(earlier.toString()).isEqualTo(2);
        assertThat(earlier.stderr()).contains("ends before the target").contains("Choose a later target");
    }

    @Test
    void aNamedBaseBackupReplaysToTheEndOfTheArchive() throws Exception {
        Path sql = smoke("smoke-latest.sql", "SELECT 1 FROM orders HAVING count(*) = 2;\n");
        Jar.Run r = drill("--backup", baseKey, "--smoke-sql", sql.toString(), "--json");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        JsonNode report = r.json().get("drill");
        assertThat(report.get("recovery").get("target").asText()).isEqualTo("latest");
        assertThat(report.get("checks").toString()).contains("replayed to the end of the archive");
    }

    @Test
    void aStoppedDrillRemovesItsScratchClusterAndTheNextDrillRemovesAKilledOnes() throws Exception {
        Path slow = smoke("slow.sql", "SELECT 1, pg_sleep(60);\n");
        String[] args = {
            "drill", "database", "--scratch-dir", scratch.toString(), "--as-of", timeT, "--smoke-sql", slow.toString()
        };
        Jar.Started stopped = Jar.start(work, env, args);
        int first = awaitSmoke(stopped);
        stopped.process().destroy(); // SIGTERM, as systemd or Kubernetes stop a job
        Jar.Run r = stopped.await();
        try (Stream<Path> left = Files.list(scratch)) {
            assertThat(left.toList())
                    .as("SIGTERM: the hook removed the scratch directory: %s", r)
                    .isEmpty();
        }
        assertThat(listening(first)).as("SIGTERM: the hook stopped the server").isFalse();

        Jar.Started killed = Jar.start(work, env, args);
        int second = awaitSmoke(killed);
        killed.process().destroyForcibly(); // kill -9: no hook runs
        killed.process().waitFor();
        killed.await();
        assertThat(listening(second)).as("kill -9 leaves the server running").isTrue();

        Jar.Run next = drill("--as-of", timeT, "--json");
        assertThat(next.exitCode()).as(next.toString()).isZero();
        assertThat(next.json().get("drill").get("findings").toString())
                .contains("removed the scratch cluster " + scratch.resolve(PitrDrill.SCRATCH_PREFIX));
        assertThat(listening(second))
                .as("the next drill stopped the killed one's server")
                .isFalse();
    }

    /** Waits until the drill's scratch server runs its smoke query; returns the server's port. */
    private static int awaitSmoke(Jar.Started run) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (System.nanoTime() < deadline) {
            assertThat(run.process().isAlive()).as("the drill runs").isTrue();
            try (Stream<Path> dirs = Files.list(scratch)) {
                for (Path d : dirs.toList()) {
                    Path pid = d.resolve("data/postmaster.pid");
                    List<String> lines = Files.exists(pid) ? Files.readAllLines(pid) : List.of();
                    if (lines.size() < 4) {
                        continue;
                    }
                    int port = Integer.parseInt(lines.get(3).strip());
                    try (Connection c = DriverManager.getConnection(
                                    "jdbc:postgresql://127.0.0.1:" + port + "/postgres", "postgres", "");
                            Statement s = c.createStatement();
                            ResultSet q = s.executeQuery("SELECT 1 FROM pg_stat_activity WHERE query LIKE"
                                    + " '%pg_sleep(60)%' AND pid <> pg_backend_pid()")) {
                        if (q.next()) {
                            return port;
                        }
                    } catch (SQLException e) {
                        // starting or recovering
                    }
                }
            } catch (IOException e) {
                // a directory went while listed
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the drill's smoke query did not start in 180 s");
    }

    /** Whether a server answers on the port the report names ({@code cluster … on 127.0.0.1:PORT}). */
    private static boolean listening(JsonNode report) {
        String where = report.get("scratch").asText();
        return listening(Integer.parseInt(where.substring(where.lastIndexOf(':') + 1)));
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
