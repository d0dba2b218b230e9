package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.monitor.Alert;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.ChainHealth;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.KindHealth;
import com.jiffoo.backup.monitor.Notifier;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitor reports each chain of incremental file backups: real chains made by {@link DirectorySource} in a local
 * store, links deleted with {@code rm} and overwritten in place with {@code dd}, as a failing disk or a careless
 * hand would.
 */
class ChainMonitorTest {
    @TempDir
    Path dir;

    private Path tree;
    private LocalDirectorySink store;
    private OpenPgpTransform pgp;
    private Instant now = Instant.parse("2026-03-01T00:00:00Z");
    private final List<Alert> alerts = new ArrayList<>();
    /** How long after the last backup the monitor's clock reads. */
    private Duration monitorAfter = Duration.ofMinutes(10);

    @BeforeEach
    void setUp() throws Exception {
        tree = dir.resolve("uploads");
        TestTrees.createSampleTree(tree);
        store = LocalDirectorySink.create(dir.resolve("store"));
        pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(TestKeys.keyFile(dir, "backup.key")))
                .build();
    }

    /** One backup planned by the default policy, an hour after the previous one, after a change to the tree. */
    private BackupManifest backUp() throws Exception {
        now = now.plus(Duration.ofHours(1));
        Files.writeString(tree.resolve("changed-" + now.getEpochSecond() + ".txt"), "at " + now);
        FileChain.Plan plan = FileChain.policy().plan(StoredBackups.of(store).committed("files"), tree, now);
        return BackupPipeline.builder()
                .source(DirectorySource.builder(tree)
                        .chain(plan.parent().orElse(null))
                        .build())
                .encryption(pgp)
                .sink(store)
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .build()
                .run();
    }

    /** A monitor whose clock reads {@link #monitorAfter} (ten minutes) after the last backup; the files limit is 2 h. */
    private BackupMonitor monitor() {
        return BackupMonitor.builder()
                .sink(store)
                .kinds("files")
                .maxAge(Duration.ofHours(2))
                .transforms(List.of(pgp))
                .innerCheck("files", TarListCheck.create())
                .notifier(new Notifier() {
                    @Override
                    public void send(Alert alert) {
                        alerts.add(alert);
                    }

                    @Override
                    public String describe() {
                        return "test list";
                    }
                })
                .recordReports(false)
                .clock(Clock.fixed(now.plus(monitorAfter), ZoneOffset.UTC))
                .build();
    }

    private static KindHealth files(HealthReport r) {
        return r.kinds().get(0);
    }

    /** The JSON of the report's first chain. */
    private static JsonNode firstChainJson(HealthReport r) throws Exception {
        return new ObjectMapper()
                .readTree(r.toJson())
                .path("kinds")
                .path(0)
                .path("chains")
                .path(0);
    }

    /** Overwrites bytes of a link's data object in place with dd: same size, so only a verification sees it. */
    private void overwriteInPlace(BackupManifest link) throws Exception {
        sh(
                dir,
                "printf 'XXXXXXXX' | dd of=" + q(store.pathOf(link.objectKey()))
                        + " bs=1 seek=300 conv=notrunc status=none");
    }

    @Test
    void aWholeChainIsReportedWithItsFullBackupIncrementsAgesAndVerification() throws Exception {
        BackupManifest full = backUp();
        backUp();
        backUp();
        BackupManifest newest = backUp();
        HealthReport r = monitor().runHealthChecks();
        assertThat(r.status()).as(r.summaryLines().toString()).isEqualTo(HealthStatus.WARNING); // never verified
        KindHealth k = files(r);
        assertThat(k.newest().id()).isEqualTo(newest.id());
        assertThat(k.chains()).hasSize(1);
        ChainHealth c = k.chains().get(0);
        assertThat(c.base()).isEqualTo(full.id());
        assertThat(c.increments()).isEqualTo(3);
        assertThat(c.newest()).isEqualTo(newest.id());
        assertThat(c.baseAge()).isEqualTo(Duration.ofMinutes(190));
        assertThat(c.newestAge()).isEqualTo(Duration.ofMinutes(10));
        assertThat(c.whole()).isTrue();
        assertThat(c.verified()).isEqualTo(ChainHealth.Verified.NOT_VERIFIED);
        assertThat(r.summaryLines())
                .anySatisfy(l -> assertThat(l)
                        .startsWith("  files chain " + full.id() + ": OK — full backup 3h 10m old, 3 increments,"
                                + " newest link " + newest.id() + " 10m old; every link present and bound;"
                                + " not verified"));

        VerificationRecord v = monitor().verifyBackupIntegrity(newest.objectKey());
        assertThat(v.passed()).as(String.valueOf(v.message())).isTrue();
        r = monitor().runHealthChecks();
        assertThat(r.status()).as(r.summaryLines().toString()).isEqualTo(HealthStatus.OK);
        assertThat(files(r).chains().get(0).verified()).isEqualTo(ChainHealth.Verified.PASSED);
        JsonNode json = new ObjectMapper().readTree(r.toJson());
        JsonNode jc = json.path("kinds").path(0).path("chains").path(0);
        assertThat(jc.path("base").asText()).isEqualTo(full.id());
        assertThat(jc.path("status").asText()).isEqualTo("OK");
        assertThat(jc.path("increments").asInt()).isEqualTo(3);
        assertThat(jc.path("newest").asText()).isEqualTo(newest.id());
        assertThat(jc.path("baseAgeSeconds").asLong()).isEqualTo(190 * 60);
        assertThat(jc.path("newestAgeSeconds").asLong()).isEqualTo(600);
        assertThat(jc.path("whole").asBoolean()).isTrue();
        assertThat(jc.path("damage").isNull()).isTrue();
        assertThat(jc.path("verified").asText()).isEqualTo("PASSED");
        // the first run's WARNING alert (never verified): Slack's text carries the chain's line
        assertThat(alerts)
                .singleElement()
                .satisfies(a -> assertThat(a.lines())
                        .anySatisfy(l -> assertThat(l).contains("files chain " + full.id() + ": OK — full backup")));
    }

    @Test
    void aLinkDeletedWithRmIsCriticalNamingItAndAFreshIncrementAfterItDoesNotCount() throws Exception {
        BackupManifest full = backUp();
        BackupManifest inc1 = backUp();
        BackupManifest inc2 = backUp();
        BackupManifest inc3 = backUp();
        // the data object of the second increment deleted by hand: its manifest stays
        sh(dir, "rm " + q(store.pathOf(inc2.objectKey())));
        for (boolean full1 : new boolean[] {false, true}) {
            BackupMonitor m = monitor();
            HealthReport r = full1 ? m.runHealthChecks() : m.checkBackupFreshness();
            assertThat(r.status()).isEqualTo(HealthStatus.CRITICAL);
            KindHealth k = files(r);
            ChainHealth c = k.chains().get(0);
            assertThat(c.whole()).isFalse();
            assertThat(c.damage()).contains(inc2.id()).contains("missing its data object " + inc2.objectKey());
            // the newest backup that restores is inc1: 2h 10m old, over the limit of 2 h, although inc3 is 10 minutes
            // old
            assertThat(k.newest().id()).isEqualTo(inc1.id());
            assertThat(k.findings())
                    .anySatisfy(f -> {
                        assertThat(f.check()).isEqualTo("chains");
                        assertThat(f.status()).isEqualTo(HealthStatus.CRITICAL);
                        assertThat(f.message())
                                .contains("the chain of " + full.id())
                                .contains(inc2.id());
                    })
                    .anySatisfy(f -> {
                        assertThat(f.check()).isEqualTo("freshness");
                        assertThat(f.message()).contains(inc1.id()).contains("2h 10m ago");
                    });
            assertThat(r.summaryLines())
                    .anySatisfy(l -> assertThat(l)
                            .startsWith("  files chain " + full.id() + ": CRITICAL — full backup 3h 10m old, 3"
                                    + " increments, newest link " + inc3.id() + " 10m old; BROKEN"));
        }
        // the alert (Slack's text) carries the chain's line and the finding naming the link
        assertThat(alerts).isNotEmpty();
        assertThat(alerts.get(alerts.size() - 1).lines())
                .anySatisfy(l -> assertThat(l).contains("files chain " + full.id() + ": CRITICAL"))
                .anySatisfy(l -> assertThat(l).contains(inc2.objectKey()));

        // the manifest of the link deleted too: the chain is broken at the missing link
        sh(dir, "rm " + q(store.pathOf(StoreLayout.manifestKey(inc2.objectKey()))));
        HealthReport r = monitor().checkBackupFreshness();
        ChainHealth c = files(r).chains().get(0);
        assertThat(c.whole()).isFalse();
        assertThat(c.damage()).contains("its link " + inc2.id() + " (parent of " + inc3.id() + ") is missing");
        assertThat(files(r).newest().id()).isEqualTo(inc1.id());
        assertThat(r.status()).isEqualTo(HealthStatus.CRITICAL);

        // the next backup starts a new chain: fresh and whole; the broken chain is still reported CRITICAL
        BackupManifest next = backUp();
        r = monitor().checkBackupFreshness();
        assertThat(files(r).newest().id()).isEqualTo(next.id());
        assertThat(files(r).chains()).extracting(ChainHealth::base).containsExactly(next.id(), full.id());
        assertThat(files(r).chains().get(0).whole()).isTrue();
        assertThat(files(r).findings())
                .singleElement()
                .satisfies(f -> assertThat(f.check()).isEqualTo("chains"));
    }

    @Test
    void aLinkChangedInPlaceWithDdIsFoundByVerificationAndReportedNamingIt() throws Exception {
        BackupManifest full = backUp();
        BackupManifest inc1 = backUp();
        backUp();
        BackupManifest inc3 = backUp();
        // bytes of the first increment overwritten in place: same size, so only a verification can see it
        overwriteInPlace(inc1);
        HealthReport before = monitor().checkBackupFreshness();
        assertThat(before.status()).isEqualTo(HealthStatus.OK);
        assertThat(files(before).chains().get(0).verified()).isEqualTo(ChainHealth.Verified.NOT_CHECKED);

        VerificationRecord v = monitor().verifyBackupIntegrity(inc3.objectKey(), true);
        assertThat(v.passed()).isFalse();
        assertThat(v.message()).contains(inc1.objectKey());

        HealthReport r = monitor().runHealthChecks();
        assertThat(r.status()).isEqualTo(HealthStatus.CRITICAL);
        ChainHealth c = files(r).chains().get(0);
        assertThat(c.whole()).isFalse();
        assertThat(c.verified()).isEqualTo(ChainHealth.Verified.FAILED);
        assertThat(c.damage())
                .startsWith("its link " + inc1.id() + " is damaged: the deep verification of " + inc3.id());
        // only the full backup still restores: 3h 10m old
        assertThat(files(r).newest().id()).isEqualTo(full.id());
        assertThat(files(r).findings())
                .anySatisfy(f -> assertThat(f.message())
                        .contains("the chain of " + full.id() + " (3 increments")
                        .contains(inc1.id()))
                .anySatisfy(f -> assertThat(f.message()).contains("the newest backup " + full.id()));
        JsonNode jc = firstChainJson(r);
        assertThat(jc.path("status").asText()).isEqualTo("CRITICAL");
        assertThat(jc.path("whole").asBoolean()).isFalse();
        assertThat(jc.path("verified").asText()).isEqualTo("FAILED");
        assertThat(jc.path("damage").asText()).contains(inc1.id());
    }

    @Test
    void anUnreadableVerificationRecordMakesTheChainWarningNamingItNeverOk() throws Exception {
        BackupManifest full = backUp();
        BackupManifest inc1 = backUp();
        backUp();
        BackupManifest inc3 = backUp();
        assertThat(monitor().verifyBackupIntegrity(inc3.objectKey(), true).passed())
                .isTrue();
        HealthReport ok = monitor().runHealthChecks();
        assertThat(ok.status()).as(ok.summaryLines().toString()).isEqualTo(HealthStatus.OK);

        // the first increment damaged in place, then found by a later deep verification of the newest link
        overwriteInPlace(inc1);
        monitorAfter = Duration.ofMinutes(20);
        assertThat(monitor().verifyBackupIntegrity(inc3.objectKey(), true).passed())
                .isFalse();
        assertThat(monitor().runHealthChecks().status()).isEqualTo(HealthStatus.CRITICAL);

        // that failed record garbled (a disk, a hand): the earlier passed one must not make the chain OK
        String failedRecord = StoredBackups.of(store).recordObjects(inc3.objectKey()).stream()
                .map(o -> o.key())
                .max(String::compareTo)
                .orElseThrow();
        sh(dir, "printf '{\"formatVersion\": 1, \"resu' > " + q(store.pathOf(failedRecord)));
        HealthReport r = monitor().runHealthChecks();
        assertThat(r.status()).as(r.summaryLines().toString()).isEqualTo(HealthStatus.WARNING);
        ChainHealth c = files(r).chains().get(0);
        assertThat(c.verified()).isEqualTo(ChainHealth.Verified.UNREADABLE);
        assertThat(c.status()).isEqualTo(HealthStatus.WARNING);
        assertThat(c.verifiedDetail()).contains(failedRecord).contains(inc3.id());
        assertThat(files(r).findings()).anySatisfy(f -> {
            assertThat(f.check()).isEqualTo("chains");
            assertThat(f.status()).isEqualTo(HealthStatus.WARNING);
            assertThat(f.message())
                    .contains("the chain of " + full.id() + " cannot be told intact")
                    .contains(failedRecord);
        });
        assertThat(r.summaryLines())
                .anySatisfy(l -> assertThat(l)
                        .startsWith("  files chain " + full.id() + ": WARNING")
                        .contains("cannot tell (")
                        .contains(failedRecord));
        JsonNode jc = firstChainJson(r);
        assertThat(jc.path("status").asText()).isEqualTo("WARNING");
        assertThat(jc.path("verified").asText()).isEqualTo("UNREADABLE");
    }
}
