package com.jiffoo.backup.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.SlackNotifier;
import com.jiffoo.backup.monitor.StoreCheckHealth;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitor's {@code drills} check on a local store with a moving clock: a passed drill is OK until 35 days have
 * gone by (then WARNING), a newer failed drill is CRITICAL and alerts the webhook, a report made to say "passed" by
 * editing its JSON with sed (signature kept, or removed) never counts, required drills without any report warn, and
 * without a key nothing counts; no report and nothing required says so.
 */
class DrillMonitorTest {
    private static final Instant T = Instant.parse("2026-12-01T04:30:00Z");

    @TempDir
    Path dir;

    private static BackupTrust trust() {
        return BackupTrust.of(List.of(OpenPgpTransform.builder()
                .passphrase("drill-monitor-test".toCharArray(), "k")
                .build()));
    }

    private static DrillReport drill(DrillReport.Outcome outcome, Instant at) {
        return drill(outcome, at, "file:/var/backups/jiffoo");
    }

    /** A drill of a backup restored from {@code store} (the location the report records). */
    private static DrillReport drill(DrillReport.Outcome outcome, Instant at, String store) {
        return new DrillReport(
                "database",
                outcome,
                at,
                "drill-host",
                "database/db_backup_20261201_020000.sql.gpg",
                at.minus(Duration.ofHours(2)),
                store,
                "database jiffoo_drill_x on 127.0.0.1:5432",
                List.of(new DrillReport.Phase("restore", Duration.ofMinutes(3))),
                Duration.ofMinutes(4),
                Duration.ofHours(2),
                List.of(new DrillReport.Check(
                        "restore",
                        outcome == DrillReport.Outcome.FAILED ? DrillReport.Status.FAILED : DrillReport.Status.PASSED,
                        outcome == DrillReport.Outcome.FAILED ? "INTEGRITY: damaged" : "restored")),
                List.of());
    }

    private static StoreCheckHealth drills(HealthReport r) {
        return r.storeChecks().stream()
                .filter(c -> c.name().equals("drills"))
                .findFirst()
                .orElseThrow();
    }

    private static BackupMonitor monitor(
            LocalDirectorySink store, MutableClock clock, BackupTrust trust, String url, String... required) {
        BackupMonitor.Builder b = BackupMonitor.builder()
                .sink(store)
                .kinds("database")
                .trust(trust)
                .recordReports(false)
                .clock(clock)
                .drills(BackupMonitor.DEFAULT_DRILL_MAX_AGE, required);
        if (url != null) {
            b.notifier(SlackNotifier.builder().webhookUrl(url).attempts(1).build());
        }
        return b.build();
    }

    private static void sh(String script) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", script).inheritIO().start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), script);
    }

    @Test
    void aPassedDrillIsOkUntil35DaysThenWarnsAndANewerFailedOneIsCriticalAndAlerts() throws Exception {
        try (LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"));
                WebhookServer slack = WebhookServer.start()) {
            MutableClock clock = MutableClock.at(T.plus(Duration.ofDays(1)));
            BackupMonitor m = monitor(store, clock, trust(), slack.url());
            StoreCheckHealth none = drills(m.checkBackupFreshness());
            assertEquals(HealthStatus.OK, none.status());
            assertTrue(none.summary().contains("drills not required"), none.summary());

            drill(DrillReport.Outcome.PASSED, T, store.location()).storeIn(store, trust());
            StoreCheckHealth fresh = drills(m.checkBackupFreshness());
            assertEquals(HealthStatus.OK, fresh.status(), fresh.toString());
            assertTrue(fresh.summary().startsWith("database passed 24h"), fresh.summary());

            clock.advance(Duration.ofDays(35));
            StoreCheckHealth stale = drills(m.checkBackupFreshness());
            assertEquals(HealthStatus.WARNING, stale.status(), stale.toString());
            assertTrue(
                    stale.findings().get(0).message().contains("the last passed database restore drill was 36d"),
                    stale.toString());

            drill(DrillReport.Outcome.FAILED, clock.instant().minus(Duration.ofHours(1)), store.location())
                    .storeIn(store, trust());
            int before = slack.bodies().size();
            HealthReport failed = m.checkBackupFreshness();
            assertEquals(
                    HealthStatus.CRITICAL,
                    drills(failed).status(),
                    drills(failed).toString());
            assertTrue(drills(failed).findings().stream()
                    .anyMatch(f -> f.status() == HealthStatus.CRITICAL
                            && f.message().contains("FAILED: restore: INTEGRITY: damaged")));
            assertEquals(before + 1, slack.bodies().size());
            assertTrue(
                    slack.bodies().get(before).contains("newest database restore drill"),
                    slack.bodies().get(before));

            drill(DrillReport.Outcome.PASSED, clock.instant(), store.location()).storeIn(store, trust());
            assertEquals(HealthStatus.OK, drills(m.checkBackupFreshness()).status());
        }
    }

    @Test
    void everyReportCountsByItsSignedDateNotItsNameAndAReportOfAnotherStoreDoesNot() throws Exception {
        try (LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"));
                LocalDirectorySink other = LocalDirectorySink.create(dir.resolve("other-store"))) {
            MutableClock clock = MutableClock.at(T.plus(Duration.ofDays(1)));
            BackupMonitor m = monitor(store, clock, trust(), null);
            drill(DrillReport.Outcome.PASSED, T, store.location()).storeIn(store, trust());
            drill(DrillReport.Outcome.FAILED, T.plus(Duration.ofHours(1)), store.location())
                    .storeIn(store, trust());
            assertEquals(HealthStatus.CRITICAL, drills(m.checkBackupFreshness()).status());

            // a newer passed drill of another store (the same key signs both): its two files copied here with cp
            String foreign = drill(DrillReport.Outcome.PASSED, T.plus(Duration.ofHours(2)), other.location())
                    .storeIn(other, trust());
            Path drills = dir.resolve("store/_drills");
            sh("cp '" + dir.resolve("other-store").resolve(foreign) + "' '"
                    + dir.resolve("other-store").resolve(foreign) + ".sig' '" + drills + "/'");
            StoreCheckHealth copied = drills(m.checkBackupFreshness());
            assertEquals(HealthStatus.CRITICAL, copied.status(), copied.toString());
            assertTrue(copied.toString().contains("FAILED: restore: INTEGRITY: damaged"), copied.toString());
            assertTrue(
                    copied.toString().contains("a report copied from another store does not count here"),
                    copied.toString());

            // an old passed report copied (signature and all) to a name that sorts last: its signed date decides
            String first = store.list("_drills/").stream()
                    .map(o -> o.key())
                    .filter(k -> k.endsWith(".json"))
                    .sorted()
                    .findFirst()
                    .orElseThrow();
            sh("cd '" + dir.resolve("store") + "' && cp " + first + " _drills/drill-20991231T235959999Z-ffffff.json"
                    + " && cp " + first + ".sig _drills/drill-20991231T235959999Z-ffffff.json.sig");
            // and 250 junk reports named after every real one, written with printf
            sh("cd '" + drills
                    + "' && for i in $(seq 100 349); do printf '{}' > drill-20991231T000000${i}Z-abcdef.json;"
                    + " done");
            StoreCheckHealth flooded = drills(m.checkBackupFreshness());
            assertEquals(HealthStatus.CRITICAL, flooded.status(), flooded.toString());
            assertTrue(flooded.toString().contains("FAILED: restore: INTEGRITY: damaged"), flooded.toString());
            assertEquals(251, flooded.facts().get("unauthenticated"), flooded.toString());
        }
    }

    @Test
    void reportsEditedToSayPassedNeverCountAndRequiredDrillsWithoutOneWarn() throws Exception {
        try (LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"))) {
            MutableClock clock = MutableClock.at(T.plus(Duration.ofDays(1)));
            BackupMonitor required = monitor(store, clock, trust(), null, "database", "files");
            StoreCheckHealth nothing = drills(required.checkBackupFreshness());
            assertEquals(HealthStatus.WARNING, nothing.status());
            assertEquals(2, nothing.findings().size(), nothing.toString());
            assertTrue(nothing.findings()
                    .get(1)
                    .message()
                    .contains("no files restore drill has passed (drills of it" + " are required)"));

            String key = drill(DrillReport.Outcome.FAILED, T, store.location()).storeIn(store, trust());
            Path report = dir.resolve("store").resolve(key);
            assertTrue(Files.readString(report).contains("\"outcome\" : \"failed\""));
            // an attacker with write access rewrites the verdict: with the signature kept, and as an unsigned copy
            sh("sed -i 's/\"outcome\" : \"failed\"/\"outcome\" : \"passed\"/; s/\"FAILED\"/\"PASSED\"/' '" + report
                    + "' && sed 's/2026-12-01T04:30:00Z/2026-12-01T05:30:00Z/' '" + report + "' > '"
                    + report.getParent().resolve("drill-20261201T053000000Z-abcdef.json") + "'");

            BackupMonitor m = monitor(store, clock, trust(), null);
            StoreCheckHealth h = drills(m.checkBackupFreshness());
            assertEquals(HealthStatus.WARNING, h.status(), h.toString());
            assertTrue(h.summary().contains("no authenticated drill report; 2 set aside"), h.summary());
            assertTrue(
                    h.findings()
                            .get(0)
                            .message()
                            .startsWith("2 recent drill report(s) do not count (not authenticated"),
                    h.toString());
            assertEquals(2, h.facts().get("unauthenticated"));

            // a report of the right key, read by a monitor without a key: nothing can be checked, nothing counts
            String signed =
                    drill(DrillReport.Outcome.PASSED, T, store.location()).storeIn(store, trust());
            StoreCheckHealth counted = drills(m.checkBackupFreshness());
            assertTrue(counted.summary().startsWith("database passed"), counted.summary());
            assertEquals(1, counted.findings().size(), "only the edited reports are still named: " + counted);
            StoreCheckHealth blind = drills(
                    monitor(store, clock, BackupTrust.STORE, null, "database").checkBackupFreshness());
            assertEquals(HealthStatus.WARNING, blind.status(), blind.toString());
            assertTrue(blind.toString().contains(signed), blind.toString());
            assertTrue(blind.toString().contains("no key here can check its signature"), blind.toString());
        }
    }
}
