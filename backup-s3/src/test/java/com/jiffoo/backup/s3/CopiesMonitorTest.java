package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.CopyHealth;
import com.jiffoo.backup.monitor.Finding;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.SlackNotifier;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testing.BytesSource;
import com.jiffoo.backup.testing.MutableClock;
import com.jiffoo.backup.testing.WebhookServer;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitor of a store with copies ({@link BackupMonitor.Builder#copy}), on real stores: two S3Proxy servers as two
 * regions (S3Sink) and a local directory. Backups are written by {@link BackupPipeline} with copies, at the clock
 * times a test needs; the monitor's clock is a {@link MutableClock}.
 */
class CopiesMonitorTest {
    private static final Instant NOW = Instant.parse("2026-03-10T12:00:00Z");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final OpenPgpTransform pgp = OpenPgpTransform.builder()
            .passphrase("correct horse battery staple".toCharArray(), "test key")
            .build();
    private S3ProxyServer east;
    private S3ProxyServer west;
    private S3Sink eastStore;
    private S3Sink westStore;
    private LocalDirectorySink local;

    @BeforeEach
    void start() throws Exception {
        east = S3ProxyServer.startFilesystem(dir.resolve("east"));
        west = S3ProxyServer.startFilesystem(dir.resolve("west"));
        eastStore = S3SinkContractTest.sinkAt(east, "prod").build();
        westStore = S3SinkContractTest.sinkAt(west, "prod").build();
        local = LocalDirectorySink.create(Files.createDirectories(dir.resolve("local")));
    }

    @AfterEach
    void stop() throws Exception {
        eastStore.close();
        westStore.close();
        east.close();
        west.close();
    }

    /** One backup of {@code kind} completed at {@code at}, into {@code primary} and {@code copies}. */
    private BackupManifest backup(String kind, Instant at, Sink primary, Sink... copies) {
        BackupPipeline.Builder b = BackupPipeline.builder()
                .source(new BytesSource(kind, at.getEpochSecond(), 20 * 1024))
                .sink(primary)
                .encryption(pgp)
                .clock(Clock.fixed(at, ZoneOffset.UTC));
        for (Sink c : copies) {
            b.copy(c);
        }
        return b.build().run();
    }

    private BackupMonitor.Builder monitor(Clock clock) {
        return BackupMonitor.builder()
                .sink(eastStore)
                .copy(westStore)
                .copy(local)
                .kinds("database", "files")
                .transforms(List.of(pgp))
                .requireVerificationWithin(null)
                .clock(clock);
    }

    private static CopyHealth copy(HealthReport report, Sink store) {
        return report.copies().stream()
                .filter(c -> c.store().equals(store.location()))
                .findFirst()
                .orElseThrow();
    }

    private static List<Finding> findings(CopyHealth c) {
        List<Finding> all = new java.util.ArrayList<>(c.findings());
        c.kinds().forEach(k -> all.addAll(k.findings()));
        return all;
    }

    @Test
    void everyStoreFreshAndCompleteIsOk() throws Exception {
        backup("database", NOW.minus(Duration.ofHours(3)), eastStore, westStore, local);
        backup("files", NOW.minus(Duration.ofHours(2)), eastStore, westStore, local);

        HealthReport report = monitor(MutableClock.at(NOW)).build().runHealthChecks();

        assertThat(report.status()).as(report.summaryLines().toString()).isEqualTo(HealthStatus.OK);
        assertThat(report.copies())
                .extracting(CopyHealth::store)
                .containsExactly(westStore.location(), local.location());
        for (CopyHealth c : report.copies()) {
            assertThat(c.kinds()).hasSize(2);
            assertThat(c.kinds()).allSatisfy(k -> assertThat(k.count()).isEqualTo(1));
            assertThat(findings(c)).isEmpty();
        }
        assertThat(report.summaryLines())
                .contains("copy " + westStore.location() + " database: OK — newest "
                        + report.copies().get(0).kinds().get(0).newest().id() + ", 3h 0m old; 1 backup, "
                        + com.jiffoo.backup.internal.Support.humanBytes(
                                report.copies().get(0).kinds().get(0).totalBytes()));
        assertThat(report.summaryLines()).anyMatch(l -> l.startsWith("store " + eastStore.location() + " files: OK"));
    }

    @Test
    void aCopyThatLagsIsCriticalForThatCopyEvenWhenTheStoreIsFresh() throws Exception {
        // the west region stopped receiving backups 30 h ago; the store and the local copy are fresh
        BackupManifest old = backup("database", NOW.minus(Duration.ofHours(30)), eastStore, westStore, local);
        backup("database", NOW.minus(Duration.ofHours(2)), eastStore, local);
        backup("files", NOW.minus(Duration.ofHours(2)), eastStore, westStore, local);

        HealthReport report = monitor(MutableClock.at(NOW)).build().checkBackupFreshness();

        assertThat(report.status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(report.kinds()).allSatisfy(k -> assertThat(k.status()).isEqualTo(HealthStatus.OK));
        assertThat(findings(copy(report, local))).isEmpty();
        CopyHealth lagging = copy(report, westStore);
        assertThat(lagging.status()).isEqualTo(HealthStatus.CRITICAL);
        Finding stale = lagging.kinds().get(0).findings().stream()
                .filter(f -> f.check().equals("freshness"))
                .findFirst()
                .orElseThrow();
        assertThat(stale.status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(stale.message())
                .contains("the newest backup in the copy " + westStore.location() + ", " + old.id())
                .contains("30h 0m ago, more than the limit of 26h 0m")
                .contains("copy --from " + eastStore.location() + " --to " + westStore.location());
        assertThat(lagging.kinds().get(1).status()).isEqualTo(HealthStatus.OK); // files reached it
        // the text and the JSON name the store of each finding
        assertThat(report.summaryLines())
                .anyMatch(l -> l.startsWith("copy " + westStore.location() + " database: CRITICAL"))
                .anyMatch(l -> l.startsWith("  copy " + westStore.location() + " database: the newest backup in"));
        JsonNode json = JSON.readTree(report.toJson());
        assertThat(json.get("status").asText()).isEqualTo("CRITICAL");
        JsonNode westJson = json.get("copies").get(0);
        assertThat(westJson.get("store").asText()).isEqualTo(westStore.location());
        assertThat(westJson.get("status").asText()).isEqualTo("CRITICAL");
        JsonNode finding = westJson.get("kinds").get(0).get("findings").get(0);
        assertThat(finding.get("store").asText()).isEqualTo(westStore.location());
        assertThat(finding.get("check").asText()).isEqualTo("freshness");

        // a per-kind limit applies to the copies too
        HealthReport lenient = monitor(MutableClock.at(NOW))
                .maxAge("database", Duration.ofHours(31))
                .build()
                .checkBackupFreshness();
        assertThat(findings(copy(lenient, westStore)))
                .extracting(Finding::check)
                .containsExactly("missing"); // the 2 h old backup is missing there
    }

    @Test
    void aRecentBackupMissingFromACopyIsAWarningAfterTheGracePeriod() throws Exception {
        backup("database", NOW.minus(Duration.ofHours(20)), eastStore, westStore, local);
        BackupManifest missing = backup("database", NOW.minus(Duration.ofHours(3)), eastStore, westStore);
        BackupManifest young = backup("database", NOW.minus(Duration.ofMinutes(20)), eastStore, westStore);
        // an old backup pruned from the copy on another schedule: outside the freshness window, no finding
        backup("database", NOW.minus(Duration.ofDays(3)), eastStore, westStore);
        backup("files", NOW.minus(Duration.ofHours(2)), eastStore, westStore, local);

        HealthReport report = monitor(MutableClock.at(NOW)).build().runHealthChecks();

        assertThat(report.status()).as(report.summaryLines().toString()).isEqualTo(HealthStatus.WARNING);
        assertThat(findings(copy(report, westStore))).isEmpty();
        List<Finding> local = findings(copy(report, this.local));
        assertThat(local).hasSize(1);
        Finding f = local.get(0);
        assertThat(f.check()).isEqualTo("missing");
        assertThat(f.status()).isEqualTo(HealthStatus.WARNING);
        assertThat(f.message())
                .startsWith("1 database backup in the store " + eastStore.location() + " is missing from the copy "
                        + this.local.location() + ": " + missing.objectKey() + " (completed 3h 0m ago)")
                .doesNotContain(young.id()); // younger than the grace period (1 h): may still be copying

        // without a grace period the young one is missing too; with a longer one neither is
        assertThat(findings(copy(
                        monitor(MutableClock.at(NOW))
                                .copyGrace(Duration.ZERO)
                                .build()
                                .checkBackupFreshness(),
                        this.local)))
                .singleElement()
                .satisfies(g ->
                        assertThat(g.message()).startsWith("2 database backups").contains(young.objectKey()));
        assertThat(monitor(MutableClock.at(NOW))
                        .copyGrace(Duration.ofHours(4))
                        .build()
                        .checkBackupFreshness()
                        .status())
                .isEqualTo(HealthStatus.OK);

        // once the copy is caught up, the warning is gone
        com.jiffoo.backup.BackupCopier.builder()
                .from(eastStore)
                .to(this.local)
                .trust(com.jiffoo.backup.BackupTrust.of(List.of(pgp)))
                .build()
                .run();
        assertThat(monitor(MutableClock.at(NOW)).build().checkBackupFreshness().status())
                .isEqualTo(HealthStatus.OK);
    }

    @Test
    void aStoppedServerIsCriticalForThatStoreAndTheOthersAreStillCheckedAndSlackNamesIt() throws Exception {
        backup("database", NOW.minus(Duration.ofHours(3)), eastStore, westStore, local);
        backup("files", NOW.minus(Duration.ofHours(2)), eastStore, westStore, local);
        west.close(); // the second region is gone
        MutableClock clock = MutableClock.at(NOW);

        try (WebhookServer slack = WebhookServer.start()) {
            HealthReport report = monitor(clock)
                    .notifier(SlackNotifier.builder()
                            .webhookUrl(slack.url())
                            .attempts(1)
                            .build())
                    .build()
                    .runHealthChecks();

            assertThat(report.status()).isEqualTo(HealthStatus.CRITICAL);
            assertThat(report.kinds()).allSatisfy(k -> assertThat(k.status()).isEqualTo(HealthStatus.OK));
            CopyHealth down = copy(report, westStore);
            assertThat(down.status()).isEqualTo(HealthStatus.CRITICAL);
            assertThat(down.findings()).singleElement().satisfies(f -> {
                assertThat(f.check()).isEqualTo("store");
                assertThat(f.message()).startsWith("cannot read the copy " + westStore.location() + ": ");
            });
            // the local copy after it was still checked
            CopyHealth ok = copy(report, local);
            assertThat(ok.kinds()).hasSize(2);
            assertThat(ok.status()).isEqualTo(HealthStatus.OK);

            assertThat(slack.bodies()).hasSize(1);
            JsonNode alert = JSON.readTree(slack.bodies().get(0));
            assertThat(alert.get("text").asText())
                    .contains("CRITICAL")
                    .contains(eastStore.location())
                    .contains(westStore.location());
            assertThat(alert.get("blocks").get(1).get("text").get("text").asText())
                    .contains("copy " + westStore.location() + ": CRITICAL")
                    .contains("cannot read the copy " + westStore.location())
                    .contains("copy " + local.location() + " database: OK");
        }

        // the store itself down: CRITICAL for it, the copies still checked (nothing to compare them with)
        east.close();
        HealthReport storeDown = monitor(clock).build().checkBackupFreshness();
        assertThat(storeDown.kinds())
                .allSatisfy(
                        k -> assertThat(k.problems()).singleElement().asString().startsWith("cannot read the store"));
        assertThat(copy(storeDown, local).status()).isEqualTo(HealthStatus.OK);
        assertThat(copy(storeDown, westStore).status()).isEqualTo(HealthStatus.CRITICAL);
    }

    @Test
    void withoutCopiesTheReportIsAsBefore() throws Exception {
        backup("database", NOW.minus(Duration.ofHours(3)), eastStore, westStore);
        HealthReport report = BackupMonitor.builder()
                .sink(eastStore)
                .kinds("database")
                .transforms(List.of(pgp))
                .clock(MutableClock.at(NOW))
                .build()
                .checkBackupFreshness();
        assertThat(report.copies()).isEmpty();
        assertThat(report.where()).isEqualTo(eastStore.location());
        assertThat(report.summaryLines()).singleElement().asString().startsWith("database: OK — newest ");
        JsonNode json = JSON.readTree(report.toJson());
        assertThat(json.has("copies")).isFalse();
        assertThat(json.get("kinds").get(0).get("findings")).isEmpty();
    }
}
