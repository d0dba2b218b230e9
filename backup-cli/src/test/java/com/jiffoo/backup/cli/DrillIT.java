package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.postgres.PgTestServer;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testing.WebhookServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drill database} through the real launcher, on the test PostgreSQL server and a local store: a healthy
 * backup passes (row counts, full read, amcheck, smoke queries; the Markdown log written; the JSON report in the
 * store readable and authenticated; the scratch database gone and never one that existed); a newest backup damaged
 * with dd fails, alerts the webhook and leaves no scratch database; a smoke query returning no rows fails; a drill
 * over its RTO target exits 13.
 */
class DrillIT {
    private static PgTestServer pg;
    private static String sourceDb;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        pg = PgTestServer.get();
        sourceDb = pg.createDatabase("cli_drill");
        try (Connection c = pg.connect(sourceDb);
                Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id int PRIMARY KEY, note text, made timestamptz DEFAULT now())");
            st.execute("INSERT INTO orders (id, note) SELECT g, md5(g::text) FROM generate_series(1, 50000) g");
            st.execute("CREATE INDEX orders_note ON orders (note)");
            st.execute("CREATE TABLE customers (id int PRIMARY KEY, name text)");
            st.execute("INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 300) g");
        }
    }

    @AfterAll
    static void stop() throws Exception {
        pg.dropDatabase(sourceDb);
    }

    @AfterEach
    void noScratchLeft() throws Exception {
        assertThat(scratchDatabases()).as("no scratch database is left").isEmpty();
    }

    private Map<String, String> env() throws Exception {
        Files.createDirectories(dir.resolve("store"));
        Path key = dir.resolve("backup.key");
        if (!Files.exists(key)) {
            RunbookFixture.keyFile(dir);
        }
        Map<String, String> env = RunbookFixture.databaseEnv(pg, sourceDb);
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        env.put("BACKUP_DIR", dir.resolve("store").toString());
        return env;
    }

    private Path backup(Map<String, String> env) {
        Jar.Run backup = Jar.run(dir, env, "backup", "database", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        return Path.of(env.get("BACKUP_DIR")).resolve(backup.json().get("key").asText());
    }

    private static List<String> databases() throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = pg.connect("postgres");
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT datname FROM pg_database")) {
            while (r.next()) {
                out.add(r.getString(1));
            }
        }
        return out;
    }

    /** Scratch databases of this test's drills (not those of a sweep test's planted leftovers). */
    private static List<String> scratchDatabases() throws Exception {
        return databases().stream()
                .filter(d -> d.startsWith("jiffoo_drill_2") && !d.startsWith("jiffoo_drill_2020"))
                .toList();
    }

    private BackupTrust trust(Map<String, String> env) {
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(Path.of(env.get("ENCRYPTION_KEY_FILE"))))
                .build();
        return BackupTrust.of(List.of(pgp));
    }

    @Test
    void aHealthyBackupPassesWritesTheLogAndAnAuthenticatedReportAndDropsTheScratch() throws Exception {
        Map<String, String> env = env();
        backup(env);
        Path smoke = dir.resolve("smoke.sql");
        Files.writeString(
                smoke,
                "-- the newest orders are there\nSELECT id FROM orders\n  WHERE id > 49990;\nSELECT 1 FROM customers"
                        + " WHERE name = 'c300';\n");
        Path log = dir.resolve("disaster-recovery-drill.md");
        // leftovers of killed drills: an old one of the strict form is swept, a look-alike is never touched
        String leftover = "jiffoo_drill_20200101_000000_deadbeef";
        String lookAlike = "jiffoo_drill_20200101_000000_keep";
        for (String db : List.of(leftover, lookAlike)) {
            if (!pg.databaseExists(db)) {
                try (Connection c = pg.connect("postgres");
                        Statement s = c.createStatement()) {
                    s.execute("CREATE DATABASE " + db);
                }
            }
        }
        List<String> before = databases();
        try {
            Jar.Run drill = Jar.run(
                    dir,
                    env,
                    "drill",
                    "database",
                    "--latest",
                    "--smoke-sql",
                    smoke.toString(),
                    "--report-file",
                    log.toString(),
                    "--json");
            assertThat(drill.exitCode()).as(drill.toString()).isZero();
            JsonNode json = drill.json();
            assertThat(json.get("outcome").asText()).isEqualTo("passed");
            JsonNode report = json.get("drill");
            String scratch = report.get("scratch").asText().split(" ")[1];
            assertThat(scratch).matches("jiffoo_drill_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}");
            assertThat(before).as("the scratch name was not a database's").doesNotContain(scratch);
            assertThat(pg.databaseExists(scratch))
                    .as("the scratch database is dropped")
                    .isFalse();
            assertThat(pg.databaseExists(leftover))
                    .as("an old leftover is swept")
                    .isFalse();
            assertThat(pg.databaseExists(lookAlike))
                    .as("a name not of the strict form is never touched")
                    .isTrue();
            List<String> checks = new ArrayList<>();
            report.get("checks")
                    .forEach(c -> checks.add(
                            c.get("name").asText() + "=" + c.get("status").asText()));
            assertThat(checks)
                    .contains(
                            "restore=passed",
                            "row-counts=passed",
                            "full-read=passed",
                            "amcheck=passed",
                            "smoke-queries=passed");
            assertThat(report.toString()).contains("50300 row(s) read").contains("3 btree index(es)");
            List<String> phases = new ArrayList<>();
            report.get("phases").forEach(p -> phases.add(p.get("name").asText()));
            assertThat(phases).containsExactly("locate", "restore", "checks", "cleanup");
            assertThat(report.get("totalMillis").asLong()).isPositive();
            assertThat(report.get("rtoTargetMillis").asLong()).isEqualTo(7_200_000L);

            String md = Files.readString(log);
            assertThat(md)
                    .startsWith("# Disaster recovery drills")
                    .contains("database drill: PASSED")
                    .contains(report.get("backupKey").asText())
                    .contains("| restore |")
                    .contains("| row-counts | passed |")
                    .contains("target 2h 00m 00s")
                    .contains("**Findings**:");

            // the JSON record in the store, authenticated like a manifest
            String key = json.get("record").get("key").asText();
            assertThat(key).startsWith("_drills/drill-");
            Path stored = dir.resolve("store").resolve(key);
            assertThat(stored).exists();
            assertThat(Path.of(stored + ".sig")).exists();
            try (LocalDirectorySink sink = LocalDirectorySink.create(dir.resolve("store"))) {
                DrillReport r = DrillReport.readFrom(sink, key, trust(env));
                assertThat(r.outcome()).isEqualTo(DrillReport.Outcome.PASSED);
                assertThat(r.backupKey()).isEqualTo(report.get("backupKey").asText());
                assertThat(DrillReport.keysIn(sink)).containsExactly(key);
                // a report changed by hand (sed, as someone with write access to the store would) is refused
                Jar.Run sed2 = Jar.exec(
                        dir,
                        Map.of(),
                        List.of("sed", "-i", "s/\"totalMillis\" : [0-9]*/\"totalMillis\" : 1/", stored.toString()));
                assertThat(sed2.exitCode()).as(sed2.toString()).isZero();
                assertThatThrownBy(() -> DrillReport.readFrom(sink, key, trust(env)))
                        .isInstanceOf(IntegrityException.class);
            }
        } finally {
            for (String db : List.of(leftover, lookAlike)) {
                if (pg.databaseExists(db)) {
                    pg.dropDatabase(db);
                }
            }
        }
    }

    @Test
    void aDamagedNewestBackupFailsAlertsTheWebhookAndDropsTheScratch() throws Exception {
        Map<String, String> env = env();
        backup(env);
        Thread.sleep(1100); // backup names are per second
        Path newest = backup(env);
        Jar.Run dd = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "dd",
                        "if=/dev/zero",
                        "of=" + newest,
                        "bs=1",
                        "seek=3000",
                        "count=64",
                        "conv=notrunc",
                        "status=none"));
        assertThat(dd.exitCode()).as(dd.toString()).isZero();
        try (WebhookServer slack = WebhookServer.start()) {
            env.put("SLACK_WEBHOOK_URL", slack.url());
            Path log = dir.resolve("drills.md");
            Jar.Run drill = Jar.run(dir, env, "drill", "database", "--report-file", log.toString(), "--json");
            assertThat(drill.exitCode()).as(drill.toString()).isEqualTo(12);
            JsonNode json = drill.json();
            assertThat(json.get("outcome").asText()).isEqualTo("failed");
            JsonNode report = json.get("drill");
            assertThat(report.get("backupKey").asText())
                    .isEqualTo(dir.resolve("store").relativize(newest).toString());
            assertThat(report.get("checks").get(0).get("name").asText()).isEqualTo("restore");
            assertThat(report.get("checks").get(0).get("status").asText()).isEqualTo("failed");
            assertThat(report.get("checks").get(0).get("detail").asText()).startsWith("INTEGRITY");
            String scratch = report.get("scratch").asText().split(" ")[1];
            assertThat(pg.databaseExists(scratch)).isFalse();
            assertThat(slack.bodies()).hasSize(1);
            assertThat(slack.bodies().get(0))
                    .contains("restore drill FAILED")
                    .contains(report.get("backupKey").asText());
            assertThat(drill.all()).doesNotContain(WebhookServer.PATH);
            assertThat(Files.readString(log)).contains("database drill: FAILED").contains("| restore | failed |");
        }
    }

    @Test
    void aFingerprintRecordedByTheBackupIsComparedByCheckTable() throws Exception {
        Map<String, String> env = env();
        Jar.Run backup = Jar.run(dir, env, "backup", "database", "--fingerprint-table", "public.orders", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        Path manifest = dir.resolve("store").resolve(backup.json().get("key").asText() + ".manifest.json");
        assertThat(Files.readString(manifest)).contains("\"fingerprints\"").contains("\"public.orders\" : \"50000:");

        Jar.Run drill = Jar.run(dir, env, "drill", "database", "--check-table", "orders", "--json");
        assertThat(drill.exitCode()).as(drill.toString()).isZero();
        assertThat(drill.json().get("drill").get("checks").toString())
                .contains("1 table(s) have the content fingerprint recorded at backup time: public.orders");

        Jar.Run unrecorded = Jar.run(dir, env, "drill", "database", "--check-table", "customers", "--json");
        assertThat(unrecorded.exitCode()).as(unrecorded.toString()).isEqualTo(12);
        assertThat(unrecorded.json().get("drill").get("checks").toString())
                .contains("public.customers: the backup recorded no fingerprint of it");
    }

    /** The {@code drills} section of a monitor run's JSON report. */
    private static JsonNode drillsOf(Jar.Run monitor) {
        for (JsonNode c : monitor.json().get("report").get("storeChecks")) {
            if (c.get("name").asText().equals("drills")) {
                return c;
            }
        }
        throw new AssertionError("no drills section: " + monitor);
    }

    @Test
    void theMonitorWarnsWithoutAPassedDrillIsCriticalAfterAFailedOneAndListShowsTheLast() throws Exception {
        Map<String, String> env = env();
        Path newest = backup(env);
        env.put("DRILL_REQUIRED", "database");
        Jar.Run before = Jar.run(dir, env, "monitor", "--kind", "database", "--no-alert", "--json");
        assertThat(drillsOf(before).get("status").asText())
                .as(before.toString())
                .isEqualTo("WARNING");
        assertThat(drillsOf(before).get("findings").get(0).get("message").asText())
                .contains("no database restore drill has passed (drills of it are required)");

        Jar.Run passed = Jar.run(dir, env, "drill", "database", "--json");
        assertThat(passed.exitCode()).as(passed.toString()).isZero();
        Jar.Run ok = Jar.run(dir, env, "monitor", "--kind", "database", "--no-alert", "--json");
        JsonNode okDrills = drillsOf(ok);
        assertThat(okDrills.get("status").asText()).as(ok.toString()).isEqualTo("OK");
        assertThat(okDrills.get("summary").asText()).startsWith("database passed");
        Jar.Run text = Jar.run(dir, env, "monitor", "--kind", "database", "--no-alert");
        assertThat(text.stdout()).as(text.toString()).contains("drills: OK — database passed");

        Jar.Run dd = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "dd",
                        "if=/dev/zero",
                        "of=" + newest,
                        "bs=1",
                        "seek=3000",
                        "count=64",
                        "conv=notrunc",
                        "status=none"));
        assertThat(dd.exitCode()).as(dd.toString()).isZero();
        Jar.Run failed = Jar.run(dir, env, "drill", "database", "--no-alert", "--json");
        assertThat(failed.exitCode()).as(failed.toString()).isEqualTo(12);
        // a planted "passed" report: the failed one's JSON, edited, under a newer name, without signature
        String failedKey = failed.json().get("record").get("key").asText();
        Path planted = dir.resolve("store/_drills/drill-29990101T000000000Z-abcdef.json");
        Jar.Run sed = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "sh",
                        "-c",
                        "sed 's/\"outcome\" : \"failed\"/\"outcome\" : \"passed\"/' '"
                                + dir.resolve("store").resolve(failedKey) + "' > '" + planted + "'"));
        assertThat(sed.exitCode()).as(sed.toString()).isZero();
        assertThat(Files.readString(planted)).contains("\"outcome\" : \"passed\"");

        try (WebhookServer slack = WebhookServer.start()) {
            env.put("SLACK_WEBHOOK_URL", slack.url());
            Jar.Run critical = Jar.run(dir, env, "monitor", "--kind", "database", "--json");
            assertThat(critical.exitCode()).as(critical.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
            JsonNode d = drillsOf(critical);
            assertThat(d.get("status").asText()).isEqualTo("CRITICAL");
            assertThat(d.get("summary").asText()).startsWith("database failed");
            assertThat(d.get("facts").get("unauthenticated").asInt()).isEqualTo(1);
            assertThat(d.get("findings").toString())
                    .contains("the newest database restore drill")
                    .contains("FAILED: restore: INTEGRITY")
                    .contains("1 recent drill report(s) do not count (not authenticated")
                    .contains("drill-29990101T000000000Z-abcdef.json");
            assertThat(slack.bodies()).hasSize(1);
            assertThat(slack.bodies().get(0)).contains("newest database restore drill");
        }

        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        JsonNode row = list.json().get("drills").get(0);
        assertThat(row.get("kind").asText()).isEqualTo("database");
        assertThat(row.get("outcome").asText()).isEqualTo("failed");
        assertThat(row.get("lastPassed").asText())
                .isEqualTo(passed.json().get("drill").get("startedAt").asText());
        assertThat(list.json().get("unauthenticatedDrillReports").asInt()).isEqualTo(1);
        Jar.Run table = Jar.run(dir, env, "list");
        assertThat(table.stdout()).contains("DRILL").containsPattern("database +20\\S+ +FAILED ");
        assertThat(table.stdout()).contains("1 drill report(s) not authenticated (or of another store), not counted");
    }

    @Test
    void aSmokeQueryReturningNoRowsFailsTheDrill() throws Exception {
        Map<String, String> env = env();
        backup(env);
        Path smoke = dir.resolve("smoke.sql");
        Files.writeString(smoke, "SELECT 1 FROM orders WHERE id = 1;\nSELECT * FROM orders WHERE id < 0;\n");
        Jar.Run drill = Jar.run(dir, env, "drill", "database", "--smoke-sql", smoke.toString());
        assertThat(drill.exitCode()).as(drill.toString()).isEqualTo(12);
        assertThat(drill.stdout())
                .contains("FAILED")
                .contains("smoke-queries: failed")
                .contains("1 of 2 smoke query(ies) failed: `SELECT * FROM orders WHERE id < 0` returned no rows")
                .contains("row-counts: passed");
    }

    @Test
    void aDrillOverItsRtoTargetExits13AndSaysByHowMuch() throws Exception {
        Map<String, String> env = env();
        backup(env);
        Jar.Run drill = Jar.run(dir, env, "drill", "database", "--rto-target", "PT0.001S", "--json");
        assertThat(drill.exitCode()).as(drill.toString()).isEqualTo(13);
        JsonNode json = drill.json();
        assertThat(json.get("outcome").asText()).isEqualTo("over-target");
        assertThat(json.get("drill").get("findings").toString()).contains("over the RTO target of 0.0 s by");
    }

    /** The scratch database of a running drill, once it is restored and being checked (marked by the drill). */
    private static Optional<String> checkedScratch() throws Exception {
        try (Connection c = pg.connect("postgres");
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT datname FROM pg_database WHERE datname LIKE 'jiffoo\\_drill\\_2%'"
                        + " AND shobj_description(oid, 'pg_database') LIKE '%restore drill''s scratch%'")) {
            return r.next() ? Optional.of(r.getString(1)) : Optional.empty();
        }
    }

    private static String awaitChecks(Jar.Started run) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        Optional<String> scratch = checkedScratch();
        while (scratch.isEmpty() && run.process().isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(50);
            scratch = checkedScratch();
        }
        assertThat(run.process().isAlive()).as("the drill runs its checks").isTrue();
        assertThat(scratch).as("the scratch database is being checked").isPresent();
        Thread.sleep(500); // the slow smoke query runs
        return scratch.get();
    }

    @Test
    void aStoppedDrillDropsItsScratchAndAKilledOnesIsDroppedByTheNextDrill() throws Exception {
        Map<String, String> env = env();
        backup(env);
        Path slow = dir.resolve("slow.sql");
        Files.writeString(slow, "SELECT 1, pg_sleep(60);\n");

        Jar.Started stopped = Jar.start(dir, env, "drill", "database", "--smoke-sql", slow.toString());
        String first = awaitChecks(stopped);
        stopped.process().destroy(); // SIGTERM, as systemd or Kubernetes stop a job
        Jar.Run r = stopped.await();
        assertThat(pg.databaseExists(first))
                .as("SIGTERM: the shutdown hook dropped " + first + ": " + r)
                .isFalse();

        Jar.Started killed = Jar.start(dir, env, "drill", "database", "--smoke-sql", slow.toString());
        String second = awaitChecks(killed);
        killed.process().destroyForcibly(); // kill -9: no hook runs
        killed.process().waitFor();
        killed.await();
        assertThat(pg.databaseExists(second))
                .as("kill -9 leaves the scratch database")
                .isTrue();

        Jar.Run next = Jar.run(dir, env, "drill", "database", "--json");
        assertThat(next.exitCode()).as(next.toString()).isZero();
        assertThat(pg.databaseExists(second))
                .as("the next drill dropped the killed one's scratch")
                .isFalse();
        assertThat(next.json().get("drill").get("findings").toString()).contains(second);
    }

    @Test
    void aDamagedCopyInTheStoreIsRestoredFromTheNextStoreNamedAndFailsTheDrill() throws Exception {
        Map<String, String> env = env();
        Path copy = Files.createDirectories(dir.resolve("copy"));
        env.put("BACKUP_COPIES", copy.toString());
        Path newest = backup(env);
        assertThat(copy.resolve(dir.resolve("store").relativize(newest))).exists();
        Jar.Run dd = Jar.exec(
                dir,
                Map.of(),
                List.of("dd", "if=/dev/zero", "of=" + newest, "bs=1", "seek=2000", "count=64", "conv=notrunc"));
        assertThat(dd.exitCode()).as(dd.toString()).isZero();
        Jar.Run drill = Jar.run(dir, env, "drill", "database", "--json");
        assertThat(drill.exitCode()).as(drill.toString()).isEqualTo(12);
        JsonNode report = drill.json().get("drill");
        assertThat(report.get("store").asText()).as("the copy served").contains(copy.toString());
        List<String> checks = new ArrayList<>();
        report.get("checks")
                .forEach(c -> checks.add(
                        c.get("name").asText() + "=" + c.get("status").asText()));
        assertThat(checks).contains("restore=passed", "row-counts=passed", "copies=failed");
        assertThat(report.get("findings").toString())
                .contains("could not serve the backup (INTEGRITY")
                .contains("restored from " + report.get("store").asText() + " instead");
    }
}
