package com.jiffoo.backup.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RetentionPolicy.Verdict;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.KindHealth;
import com.jiffoo.backup.monitor.SlackNotifier;
import com.jiffoo.backup.retention.Pruner;
import com.jiffoo.backup.retention.Retention;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Retention, verification records and {@link BackupMonitor} against a real store, as a JUnit 5 suite a sink's test
 * extends in a few lines (like {@link SinkContractTest}): 90 days of daily backups with gaps and a failed run pruned
 * to the exact survivors; freshness at 25 h and 27 h with a {@link MutableClock}; a flipped byte caught by
 * {@code verifyBackupIntegrity}; a swapped {@code .sha256} caught by the manifest; the newest backup that verified
 * good survives any policy; a Slack alert and a recovery received by a local {@link WebhookServer}; with the webhook
 * down, the report still comes back; the key check with the right and the wrong key.
 *
 * <p>Each test gets a new, empty sink from {@link #createSink()} and closes it afterwards.
 */
public abstract class StoreHealthContractTest {
    private static final char[] PASSPHRASE = "correct horse battery staple".toCharArray();
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The sink under test. */
    protected Sink sink;

    private final OpenPgpTransform pgp = OpenPgpTransform.builder()
            .passphrase(PASSPHRASE.clone(), "test key")
            .build();

    /** Creates an empty sink for one test. */
    protected abstract Sink createSink() throws Exception;

    /** Creates the sink. */
    @BeforeEach
    void createSinkUnderTest() throws Exception {
        sink = createSink();
    }

    /** Closes the sink. */
    @AfterEach
    void closeSinkUnderTest() throws Exception {
        sink.close();
    }

    // ---------------------------------------------------------------- retention

    @Test
    void pruningNinetyDaysOfDailyBackupsLeavesExactlyThePolicysSurvivors() throws Exception {
        Set<LocalDate> neverRan = Set.of(
                LocalDate.of(2026, 1, 10),
                LocalDate.of(2026, 1, 11),
                LocalDate.of(2026, 1, 12),
                LocalDate.of(2026, 2, 9));
        int made = 0;
        for (LocalDate d = LocalDate.of(2026, 1, 1); !d.isAfter(LocalDate.of(2026, 3, 31)); d = d.plusDays(1)) {
            if (neverRan.contains(d)) {
                continue;
            }
            if (d.equals(LocalDate.of(2026, 3, 25))) {
                // the run of Mar 25 failed after writing its data: no manifest, so it is not a backup
                put("database/db_backup_20260325_020000.sql", new byte[] {1, 2, 3});
                continue;
            }
            backup("database", d.atTime(2, 0).toInstant(ZoneOffset.UTC), false);
            made++;
        }
        assertEquals(85, made);
        Pruner pruner = Pruner.builder()
                .sink(sink)
                .policy(Retention.builder()
                        .keepDaily(7)
                        .keepWeekly(4)
                        .keepMonthly(3)
                        .build())
                .clock(Clock.fixed(Instant.parse("2026-03-31T12:00:00Z"), ZoneOffset.UTC))
                .build();
        List<String> expected = List.of(
                "20260331",
                "20260330",
                "20260329",
                "20260328",
                "20260327",
                "20260326",
                "20260324",
                "20260322",
                "20260315",
                "20260228",
                "20260131");

        Pruner.PruneReport dry = pruner.prune("database", true);
        assertEquals(85, dry.verdicts().size());
        assertEquals(74, dry.deleted().size());
        assertEquals(
                expected,
                dates(dry.verdicts().stream()
                        .filter(Verdict::keep)
                        .map(Verdict::backup)
                        .toList()));
        assertEquals(85, StoredBackups.of(sink).committed("database").size(), "a dry run deletes nothing");

        Pruner.PruneReport real = pruner.prune("database", false);
        assertEquals(dry.deleted(), real.deleted());
        assertEquals(expected, dates(StoredBackups.of(sink).committed("database")));
        // the failed run's object is younger than the grace period by the store's own clock: kept, not a backup
        assertEquals(List.of("database/db_backup_20260325_020000.sql"), real.orphansTooYoung());
        List<String> left = keys("database/");
        assertEquals(11 * 3 + 1, left.size(), left.toString());
    }

    @Test
    void retentionNeverDeletesTheNewestBackupThatVerifiedGood() throws Exception {
        List<BackupManifest> days = new ArrayList<>();
        for (int day = 1; day <= 5; day++) {
            days.add(backup("database", Instant.parse("2026-02-0" + day + "T02:00:00Z"), true));
        }
        BackupMonitor monitor = monitor(MutableClock.at(Instant.parse("2026-02-05T03:00:00Z")), null)
                .kinds("database")
                .build();
        assertTrue(monitor.verifyBackupIntegrity(days.get(0).objectKey()).passed());
        for (BackupManifest m : days.subList(1, 4)) { // days 2-4 get damaged in the store and fail verification
            flipByte(m.objectKey(), 5);
            VerificationRecord r = monitor.verifyBackupIntegrity(m.objectKey());
            assertFalse(r.passed());
        }
        Pruner.PruneReport report = Pruner.builder()
                .sink(sink)
                .policy(Retention.builder().keepLast(1).build())
                .clock(Clock.fixed(Instant.parse("2026-02-05T12:00:00Z"), ZoneOffset.UTC))
                .build()
                .prune("database", false);
        assertEquals(
                List.of("20260205", "20260201"), dates(StoredBackups.of(sink).committed("database")));
        Verdict kept = report.verdicts().stream()
                .filter(v -> v.backup().id().equals(days.get(0).id()))
                .findFirst()
                .orElseThrow();
        assertTrue(kept.keep());
        assertTrue(kept.reason().contains("newest backup that passed verification"), kept.reason());
        // the deleted backups' verification records went with them
        for (BackupManifest m : days.subList(1, 4)) {
            assertEquals(List.of(), keys(m.objectKey()), "left of " + m.id());
        }
        assertEquals(1, StoredBackups.of(sink).verifications(days.get(0)).size());
    }

    // ---------------------------------------------------------------- nothing in the store is trusted without the key

    @Test
    void aManifestEditedOrUnsignedInTheStoreIsRefusedAndTheMonitorSaysSo() throws Exception {
        Instant now = Instant.parse("2026-03-10T12:00:00Z");
        BackupManifest older = backup("database", now.minus(Duration.ofHours(30)), true);
        BackupManifest newest = backup("database", now.minus(Duration.ofHours(2)), true);
        BackupTrust trust = BackupTrust.of(List.of(pgp));
        assertEquals(
                BackupTrust.Authenticity.AUTHENTICATED,
                StoredBackups.of(sink, trust).manifest(newest.objectKey()).authenticity());

        editManifest(newest, "completedAt", now.minus(Duration.ofMinutes(5)));
        IntegrityException e = assertThrows(
                IntegrityException.class, () -> StoredBackups.of(sink, trust).manifest(newest.objectKey()));
        assertTrue(e.getMessage().contains("not authentic"), e.getMessage());
        HealthReport report =
                monitor(MutableClock.at(now), null).kinds("database").build().runHealthChecks();
        assertEquals(HealthStatus.CRITICAL, report.status());
        assertTrue(
                String.join("\n", report.kinds().get(0).problems()).contains(newest.manifestKey()),
                report.summaryLines().toString());
        IntegrityException latest = assertThrows(
                IntegrityException.class,
                () -> StoredBackups.of(sink, trust).scan("database").latestTrusted());
        assertTrue(
                latest.getMessage().contains(older.objectKey()),
                "names the newest trusted one: " + latest.getMessage());

        sink.delete(older.signatureKey()); // as a backup written before signing
        assertThrows(
                IntegrityException.class, () -> StoredBackups.of(sink, trust).manifest(older.objectKey()));
        assertEquals(
                BackupTrust.Authenticity.UNAUTHENTICATED,
                StoredBackups.of(
                                sink,
                                trust.toBuilder().allowUnauthenticated(true).build())
                        .manifest(older.objectKey())
                        .authenticity());
    }

    // ---------------------------------------------------------------- a wrong clock, a damaged newest backup

    @Test
    void aBackupDatedInTheFutureIsCriticalNeverFresh() throws Exception {
        Instant now = Instant.parse("2026-01-20T12:00:00Z");
        backup("database", now.minus(Duration.ofDays(3)), true);
        // backups stopped two days ago, and that last run's host had a clock four days ahead: its manifest, signed
        // as any, says two days from now (a hand edit would break the signature: AuthenticityTest)
        BackupManifest edited = backup("database", now.plus(Duration.ofDays(2)), true);
        BackupMonitor monitor =
                monitor(MutableClock.at(now), null).kinds("database").build();

        for (HealthReport report : List.of(monitor.checkBackupFreshness(), monitor.runHealthChecks())) {
            assertEquals(
                    HealthStatus.CRITICAL,
                    report.status(),
                    report.summaryLines().toString());
            KindHealth db = report.kinds().get(0);
            String problems = String.join("\n", db.problems());
            assertTrue(problems.contains("dated in the future") && problems.contains(edited.manifestKey()), problems);
            assertTrue(
                    problems.contains("backups have stopped"),
                    "the newest believable backup is 3 days old: " + problems);
            assertFalse(db.newestAge().isNegative(), "never a negative age: " + db.newestAge());
            assertFalse(db.newest().id().equals(edited.id()), "a future-dated backup is never the freshest");
        }
        // within the tolerance (a clock a little ahead) it is no finding; the tolerance is configurable
        HealthReport tolerant = monitor(MutableClock.at(now), null)
                .kinds("database")
                .clockSkewTolerance(Duration.ofDays(3))
                .build()
                .checkBackupFreshness();
        assertFalse(String.join(" ", tolerant.kinds().get(0).problems()).contains("dated in the future"));
    }

    @Test
    void aVerificationRecordDatedInTheFutureNeverCountsAsPassed() throws Exception {
        Instant now = Instant.parse("2026-01-20T12:00:00Z");
        BackupManifest m = backup("database", now.minus(Duration.ofHours(1)), true);
        // a verifier on a host whose clock runs ten days ahead
        BackupMonitor wrongClock = monitor(MutableClock.at(now.plus(Duration.ofDays(10))), null)
                .kinds("database")
                .build();
        assertTrue(wrongClock.verifyBackupIntegrity(m.objectKey()).passed());

        HealthReport report =
                monitor(MutableClock.at(now), null).kinds("database").build().runHealthChecks();
        assertEquals(
                HealthStatus.CRITICAL, report.status(), report.summaryLines().toString());
        KindHealth db = report.kinds().get(0);
        assertNull(db.lastPassedVerification(), "a future-dated record is never the last passed verification");
        String problems = String.join("\n", db.problems());
        assertTrue(problems.contains("dated in the future") && problems.contains(m.objectKey()), problems);
        assertTrue(problems.contains("has ever passed a verification"), problems);
    }

    @Test
    void aFutureDatedBackupSatisfiesNoKeepRuleAndPruneRefusesUntilAllowed() throws Exception {
        Instant now = Instant.parse("2026-01-20T12:00:00Z");
        BackupManifest older = backup("database", now.minus(Duration.ofDays(2)), false);
        BackupManifest newest = backup("database", now.minus(Duration.ofDays(1)), false);
        BackupManifest future = backup("database", now.plus(Duration.ofDays(3)), false); // a run with a wrong clock
        Pruner.Builder pruner = Pruner.builder()
                .sink(sink)
                .policy(Retention.builder().keepLast(1).build())
                .clock(Clock.fixed(now, ZoneOffset.UTC));

        IntegrityException refused =
                assertThrows(IntegrityException.class, () -> pruner.build().prune("database", false));
        assertTrue(
                refused.getMessage().contains("dated in the future")
                        && refused.getMessage().contains(future.manifestKey())
                        && refused.getMessage().contains("allowFutureDated(true)"),
                refused.getMessage());
        assertEquals(3, StoredBackups.of(sink).committed("database").size(), "nothing deleted");

        Pruner.PruneReport dry = pruner.build().prune("database", true);
        assertEquals(List.of(future.manifestKey()), dry.futureDated());
        assertEquals(List.of(older.objectKey()), dry.deleted(), "keep-last 1 counts only real backups");

        Pruner.PruneReport report = pruner.allowFutureDated(true).build().prune("database", false);
        assertEquals(List.of(older.objectKey()), report.deleted());
        Verdict kept = report.verdicts().stream()
                .filter(v -> v.backup().id().equals(future.id()))
                .findFirst()
                .orElseThrow();
        assertTrue(kept.keep() && kept.reason().contains("dated in the future"), kept.reason());
        assertEquals(
                List.of(future.id(), newest.id()),
                StoredBackups.of(sink).committed("database").stream()
                        .map(BackupManifest::id)
                        .toList());
    }

    @Test
    void pruneKeepsTheNewestIntactBackupWhenTheNewestIsDamaged() throws Exception {
        Instant now = Instant.parse("2026-01-20T12:00:00Z");
        BackupManifest oldest = backup("database", now.minus(Duration.ofDays(3)), true);
        BackupManifest intact = backup("database", now.minus(Duration.ofDays(2)), true);
        BackupManifest damaged = backup("database", now.minus(Duration.ofDays(1)), true);
        flipByte(damaged.objectKey(), (int) (damaged.objectSize() / 2)); // never verified: nothing recorded says so
        Pruner pruner = Pruner.builder()
                .sink(sink)
                .policy(Retention.builder().keepLast(1).build())
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .build();

        Pruner.PruneReport dry = pruner.prune("database", true);
        assertEquals(List.of(oldest.objectKey()), dry.deleted());
        Pruner.PruneReport report = pruner.prune("database", false);
        assertEquals(List.of(oldest.objectKey()), report.deleted());
        assertEquals(List.of(damaged.objectKey()), List.copyOf(report.damaged().keySet()));
        assertTrue(
                report.damaged().get(damaged.objectKey()).contains("does not match"),
                report.damaged().toString());
        Verdict kept = report.verdicts().stream()
                .filter(v -> v.backup().id().equals(intact.id()))
                .findFirst()
                .orElseThrow();
        assertTrue(kept.keep() && kept.reason().contains("newest backup that passed the intact check"), kept.reason());
        assertEquals(
                List.of(damaged.id(), intact.id()),
                StoredBackups.of(sink).committed("database").stream()
                        .map(BackupManifest::id)
                        .toList());
    }

    // ---------------------------------------------------------------- verification

    @Test
    void aFlippedByteInTheStoredObjectIsCaughtByVerifyBackupIntegrity() throws Exception {
        Instant at = Instant.parse("2026-01-11T02:00:00Z");
        BackupManifest m = backup("database", at, true);
        MutableClock clock = MutableClock.at(at.plus(Duration.ofHours(2)));
        BackupMonitor monitor = monitor(clock, null).kinds("database").build();
        VerificationRecord good = monitor.verifyBackupIntegrity(m.objectKey());
        assertTrue(good.passed());
        assertTrue(good.deep(), "deep when the key is configured");

        flipByte(m.objectKey(), (int) (m.objectSize() / 2));
        clock.advance(Duration.ofMinutes(5));
        VerificationRecord deep = monitor.verifyBackupIntegrity(m.objectKey());
        assertFalse(deep.passed());
        assertEquals(ErrorCode.INTEGRITY.name(), deep.errorCode());
        assertEquals(m.id(), deep.backupId());
        clock.advance(Duration.ofMinutes(5));
        VerificationRecord quick = monitor.verifyBackupIntegrity(m.objectKey(), false);
        assertFalse(quick.passed());
        assertTrue(quick.message().contains("does not match"), quick.message());

        List<VerificationRecord> records = StoredBackups.of(sink).verifications(m);
        assertEquals(3, records.size());
        assertFalse(records.get(0).passed());
        assertFalse(records.get(0).deep());
        assertTrue(records.get(2).passed());

        HealthReport report = monitor.runHealthChecks();
        assertEquals(HealthStatus.CRITICAL, report.status());
        assertTrue(
                report.kinds().get(0).problems().stream()
                        .anyMatch(p -> p.contains("newest backup " + m.id() + " failed its last quick verification")),
                report.kinds().get(0).problems().toString());
    }

    @Test
    void aSwappedChecksumFileIsCaughtByTheManifest() throws Exception {
        BackupManifest a = backup("files", Instant.parse("2026-01-10T03:00:00Z"), true);
        BackupManifest b = backup("files", Instant.parse("2026-01-11T03:00:00Z"), true);
        // someone regenerated a's checksum file from b's data (a's name, b's digest)
        String forged =
                b.objectSha256() + "  " + a.objectKey().substring(a.objectKey().lastIndexOf('/') + 1) + "\n";
        replace(a.sha256Key(), forged.getBytes(StandardCharsets.UTF_8));

        MutableClock clock = MutableClock.at(Instant.parse("2026-01-11T04:00:00Z"));
        VerificationRecord r = monitor(clock, null).kinds("files").build().verifyBackupIntegrity(a.objectKey());
        assertFalse(r.passed());
        assertTrue(r.message().contains("disagrees with the manifest"), r.message());
        assertTrue(monitor(clock, null)
                .kinds("files")
                .build()
                .verifyBackupIntegrity(b.objectKey())
                .passed());

        // and when the newest backup's sidecar is the one swapped, the health check says so
        replace(
                b.sha256Key(),
                forged.replace(b.objectSha256(), a.objectSha256())
                        .replace(
                                a.objectKey().substring(a.objectKey().lastIndexOf('/') + 1),
                                b.objectKey().substring(b.objectKey().lastIndexOf('/') + 1))
                        .getBytes(StandardCharsets.UTF_8));
        IntegrityException e = assertThrows(
                IntegrityException.class, () -> StoredBackups.of(sink).checkSidecar(b));
        assertTrue(e.getMessage().contains("disagrees with the manifest"));
        HealthReport report = monitor(clock, null).kinds("files").build().runHealthChecks();
        assertEquals(HealthStatus.CRITICAL, report.status());
        assertTrue(
                report.kinds().get(0).problems().get(0).contains("fails its checksum check"),
                report.kinds().get(0).problems().toString());
    }

    // ---------------------------------------------------------------- freshness

    @Test
    void freshnessIsOkAt25HoursAndCriticalAt27() throws Exception {
        Instant at = Instant.parse("2026-01-11T02:00:00Z");
        backup("database", at, true);
        MutableClock clock = MutableClock.at(at.plus(Duration.ofHours(25)));
        BackupMonitor monitor = monitor(clock, null).kinds("database").build();

        HealthReport fresh = monitor.checkBackupFreshness();
        assertEquals(HealthStatus.OK, fresh.status());
        assertEquals(Duration.ofHours(25), fresh.kinds().get(0).newestAge());

        clock.set(at.plus(Duration.ofHours(27)));
        HealthReport stale = monitor.checkBackupFreshness();
        assertEquals(HealthStatus.CRITICAL, stale.status());
        String problem = stale.kinds().get(0).problems().get(0);
        assertTrue(problem.contains("27h 0m ago") && problem.contains("limit of 26h 0m"), problem);

        HealthReport withFiles = monitor(clock, null)
                .kinds("database", "files")
                .maxAge("database", Duration.ofHours(30))
                .build()
                .checkBackupFreshness();
        assertEquals(HealthStatus.OK, withFiles.kinds().get(0).status(), "per-kind limit");
        assertEquals(HealthStatus.CRITICAL, withFiles.kinds().get(1).status());
        assertTrue(withFiles.kinds().get(1).problems().get(0).startsWith("no files backup"));
    }

    // ---------------------------------------------------------------- health, key, report

    @Test
    void healthChecksProveTheKeyAndReportEverythingAsJson() throws Exception {
        Instant at = Instant.parse("2026-01-11T02:00:00Z");
        backup("database", at.minus(Duration.ofDays(1)), true);
        BackupManifest newest = backup("database", at, true);
        MutableClock clock = MutableClock.at(at.plus(Duration.ofHours(1)));
        BackupMonitor monitor = monitor(clock, null).kinds("database").build();

        HealthReport unverified = monitor.runHealthChecks();
        assertEquals(HealthStatus.WARNING, unverified.status(), "never verified");
        assertTrue(unverified.kinds().get(0).problems().get(0).contains("has ever passed a verification"));
        assertEquals(KindHealth.KeyCheck.PASSED, unverified.kinds().get(0).keyCheck());

        assertTrue(monitor.verifyBackupIntegrity(newest.objectKey()).passed());
        clock.advance(Duration.ofMinutes(30));
        HealthReport ok = monitor.runHealthChecks();
        assertEquals(HealthStatus.OK, ok.status(), ok.summaryLines().toString());
        KindHealth db = ok.kinds().get(0);
        assertEquals(2, db.count());
        assertEquals(newest.id(), db.newest().id());
        assertEquals(Duration.ofMinutes(90), db.newestAge());
        assertNotNull(db.lastPassedVerification());

        JsonNode json = JSON.readTree(ok.toJson());
        assertEquals("OK", json.get("status").asText());
        assertEquals(sink.location(), json.get("store").asText());
        JsonNode kind = json.get("kinds").get(0);
        assertEquals("database", kind.get("kind").asText());
        assertEquals(2, kind.get("count").asInt());
        assertEquals(db.totalBytes(), kind.get("totalBytes").asLong());
        assertEquals(newest.objectKey(), kind.get("newest").get("key").asText());
        assertEquals(5400, kind.get("newest").get("ageSeconds").asLong());
        assertEquals("passed", kind.get("lastVerification").get("result").asText());
        assertEquals("deep", kind.get("lastVerification").get("mode").asText());
        assertEquals("PASSED", kind.get("keyCheck").get("result").asText());

        OpenPgpTransform wrong = OpenPgpTransform.builder()
                .passphrase("not the key".toCharArray(), "wrong")
                .build();
        // a monitor whose key file is not the backups': nothing it reads is authentic, and it says why
        HealthReport wrongKeyFile = monitor(clock, null)
                .kinds("database")
                .transforms(List.of(wrong))
                .build()
                .runHealthChecks();
        assertEquals(HealthStatus.CRITICAL, wrongKeyFile.status());
        assertTrue(
                String.join("\n", wrongKeyFile.kinds().get(0).problems())
                        .contains("not the one the backups are made with"),
                wrongKeyFile.summaryLines().toString());
        // authenticated by the right signer, but its decryption key cannot open the backup (public-key mode)
        HealthReport lostKey = monitor(clock, null)
                .kinds("database")
                .transforms(List.of(wrong))
                .trust(BackupTrust.of(List.of(pgp)))
                .build()
                .runHealthChecks();
        assertEquals(HealthStatus.CRITICAL, lostKey.status());
        assertEquals(KindHealth.KeyCheck.FAILED, lostKey.kinds().get(0).keyCheck());
        assertTrue(lostKey.kinds().get(0).problems().get(0).contains("cannot open the newest backup"));

        HealthReport noKey = monitor(clock, null)
                .kinds("database")
                .transforms(List.of())
                .build()
                .runHealthChecks();
        assertEquals(KindHealth.KeyCheck.NO_KEY, noKey.kinds().get(0).keyCheck());
        assertEquals(HealthStatus.OK, noKey.status(), "a public-key-only host cannot check the key, and says so");
    }

    // ---------------------------------------------------------------- alerts

    @Test
    void slackReceivesAReadableAlertThenARecoveryThenNothing() throws Exception {
        Instant at = Instant.parse("2026-01-11T02:00:00Z");
        BackupManifest first = backup("database", at, true);
        MutableClock clock = MutableClock.at(at.plus(Duration.ofHours(27)));
        try (WebhookServer slack = WebhookServer.start()) {
            BackupMonitor monitor = monitor(clock, slack).kinds("database").build();
            monitor.verifyBackupIntegrity(first.objectKey());
            assertEquals(0, slack.bodies().size(), "a passed verification sends nothing");

            HealthReport stale = monitor.runHealthChecks();
            assertEquals(HealthStatus.CRITICAL, stale.status());
            assertEquals(List.of("Slack webhook (127.0.0.1): sent"), stale.notifications());
            assertEquals(1, slack.bodies().size());
            JsonNode alert = JSON.readTree(slack.bodies().get(0));
            assertTrue(alert.get("text").asText().contains("CRITICAL"), alert.toString());
            assertTrue(alert.get("text").asText().contains(sink.location()), alert.toString());
            String details = alert.get("blocks").get(1).get("text").get("text").asText();
            assertTrue(details.contains("database: CRITICAL"), details);
            assertTrue(details.contains("27h 0m ago"), details);
            assertFalse(slack.bodies().get(0).contains(WebhookServer.PATH), "the webhook URL is a secret");

            // the job runs again; a new monitor (a new process: state comes from the store) sees the recovery
            backup("database", clock.instant().minus(Duration.ofMinutes(5)), true);
            clock.advance(Duration.ofMinutes(1));
            HealthReport ok = monitor(clock, slack).kinds("database").build().runHealthChecks();
            assertEquals(HealthStatus.OK, ok.status(), ok.summaryLines().toString());
            assertEquals(2, slack.bodies().size());
            JsonNode recovery = JSON.readTree(slack.bodies().get(1));
            assertTrue(recovery.get("text").asText().contains("recovered"), recovery.toString());

            clock.advance(Duration.ofMinutes(1));
            monitor(clock, slack).kinds("database").build().runHealthChecks();
            assertEquals(2, slack.bodies().size(), "healthy twice: nothing to say");
        }
    }

    @Test
    void withTheWebhookDownHealthChecksStillReturnTheirReport() throws Exception {
        Instant at = Instant.parse("2026-01-11T02:00:00Z");
        backup("database", at, true);
        MutableClock clock = MutableClock.at(at.plus(Duration.ofHours(30)));
        String url;
        try (WebhookServer slack = WebhookServer.start()) {
            url = slack.url();
            slack.answer(500, 503);
            BackupMonitor failing = monitor(clock, null)
                    .kinds("database")
                    .notifier(SlackNotifier.builder()
                            .webhookUrl(url)
                            .attempts(2)
                            .backoff(Duration.ofMillis(10))
                            .build())
                    .build();
            HealthReport report = failing.runHealthChecks();
            assertEquals(HealthStatus.CRITICAL, report.status());
            assertEquals(1, report.notifications().size());
            String note = report.notifications().get(0);
            assertTrue(note.contains("failed") && note.contains("HTTP 503"), note);
            assertFalse(note.contains(WebhookServer.PATH), "the webhook URL is a secret");
            assertEquals(2, slack.bodies().size(), "retried once");
        }
        // the server is gone: connection refused
        HealthReport report = monitor(clock, null)
                .kinds("database")
                .notifier(SlackNotifier.builder().webhookUrl(url).attempts(1).build())
                .build()
                .runHealthChecks();
        assertEquals(HealthStatus.CRITICAL, report.status());
        assertTrue(
                report.notifications().get(0).contains("cannot reach"),
                report.notifications().toString());
        assertFalse(report.toJson().contains(WebhookServer.PATH));
    }

    // ---------------------------------------------------------------- helpers

    private BackupMonitor.Builder monitor(Clock clock, WebhookServer slack) {
        BackupMonitor.Builder b =
                BackupMonitor.builder().sink(sink).clock(clock).transforms(List.of(pgp));
        if (slack != null) {
            b.notifier(
                    SlackNotifier.builder().webhookUrl(slack.url()).attempts(1).build());
        }
        return b;
    }

    private BackupManifest backup(String kind, Instant at, boolean encrypted) {
        BackupPipeline.Builder b = BackupPipeline.builder()
                .source(new BytesSource(kind, at.getEpochSecond(), 20 * 1024))
                .sink(sink)
                .clock(Clock.fixed(at, ZoneOffset.UTC));
        return (encrypted ? b.encryption(pgp) : b.unencrypted()).build().run();
    }

    private static List<String> dates(List<BackupManifest> backups) {
        return backups.stream()
                .map(m -> m.id().replaceAll(".*_(\\d{8})_\\d{6}$", "$1"))
                .toList();
    }

    private List<String> keys(String prefix) throws IOException {
        return sink.list(prefix).stream().map(StoredObject::key).toList();
    }

    private byte[] read(String key) throws IOException {
        try (InputStream in = sink.open(key)) {
            return in.readAllBytes();
        }
    }

    private void put(String key, byte[] bytes) throws IOException {
        try (SinkOutput out = sink.create(key)) {
            out.write(bytes);
            out.commit();
        }
    }

    /** Overwrites a stored object behind the library's back (objects are write-once: delete, then write). */
    private void replace(String key, byte[] bytes) throws IOException {
        sink.delete(key);
        put(key, bytes);
    }

    /** Edits a date in a stored manifest's JSON text, as a text editor would. */
    private void editManifest(BackupManifest m, String field, Instant value) throws IOException {
        String json = new String(read(m.manifestKey()), StandardCharsets.UTF_8);
        String edited = json.replaceFirst("(\"" + field + "\"\\s*:\\s*\")[^\"]+\"", "$1" + value + "\"");
        assertFalse(edited.equals(json), "no " + field + " in " + json);
        replace(m.manifestKey(), edited.getBytes(StandardCharsets.UTF_8));
    }

    private void flipByte(String key, int at) throws IOException {
        byte[] bytes = read(key);
        bytes[at] ^= 0x40;
        replace(key, bytes);
    }
}
