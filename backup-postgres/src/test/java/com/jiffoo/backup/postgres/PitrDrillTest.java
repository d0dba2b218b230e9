package com.jiffoo.backup.postgres;

import static com.jiffoo.backup.postgres.PitrFixture.query;
import static com.jiffoo.backup.postgres.PitrFixture.sql;
import static com.jiffoo.backup.postgres.PitrRestoreTest.freePort;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Drills through point-in-time recovery on one throwaway cluster archiving its WAL with cp (a base backup, order 1,
 * time T, order 2): a drill as of T passes with order 1 and without order 2, its RPO small and reported; one whose
 * smoke query finds no row fails; a target before the base backup is refused. Each leaves no scratch directory and no
 * server on its port.
 */
class PitrDrillTest {
    static ThrowawayCluster pg;
    static Path work;
    static Path archive;
    static Path scratch;
    static LocalDirectorySink sink;
    static OpenPgpTransform pgp;
    static BackupManifest base;
    static String timeT;
    static Instant order1;

    @BeforeAll
    static void setUp() throws Exception {
        work = PitrFixture.workDirectory("jiffoo-pitr-drill-");
        archive = work.resolve("archive");
        scratch = work.resolve("scratch");
        Files.createDirectories(scratch);
        pg = PitrFixture.archivingInto(archive);
        sink = LocalDirectorySink.create(work.resolve("store"));
        Path key = TestKeys.keyFile(work, "backup.key");
        pgp = OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(key)).build();
        sql(pg, "CREATE TABLE orders (id int PRIMARY KEY, note text, made timestamptz DEFAULT clock_timestamp())");
        base = BaseBackupSourceTest.backUp(pg.connection(), sink, key);
        sql(pg, "INSERT INTO orders (id, note) VALUES (1, 'before T')");
        order1 = Instant.parse(query(
                pg,
                "SELECT to_char(made AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                        + " FROM orders WHERE id = 1"));
        timeT = PitrFixture.timeBetween(pg);
        sql(pg, "INSERT INTO orders (id, note) VALUES (2, 'after T')");
        PitrFixture.switchAndWait(pg, PitrFixture.inArchive(archive));
    }

    @AfterAll
    static void tearDown() throws Exception {
        PitrFixture.tearDown(pg, work);
    }

    @AfterEach
    void noScratchLeft() throws IOException {
        PitrFixture.assertNoScratchLeft(scratch);
    }

    private static PitrDrill.Builder drill() {
        return PitrDrill.builder()
                .source(PitrDrill.Source.of(sink, pgp, BackupTrust.of(List.of(pgp)), "cp " + archive + "/%f %p", false))
                .scratchParent(scratch);
    }

    @Test
    void aDrillAsOfTHasTheRowsBeforeTAndNoneAfterAndReportsTheRpo() throws Exception {
        int port = freePort();
        DrillReport r = drill().asOf(timeT)
                .port(port)
                .smokeQueries(List.of(
                        "SELECT 1 FROM orders WHERE id = 1 AND note = 'before T'",
                        "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM orders WHERE id = 2)"))
                .build()
                .run();
        assertThat(r.passed()).as(r.toString()).isTrue();
        assertThat(r.backupKey()).isEqualTo(base.objectKey());
        assertThat(r.scratch())
                .startsWith("cluster " + scratch + "/" + PitrDrill.SCRATCH_PREFIX)
                .endsWith(":" + port);
        assertThat(r.phases())
                .extracting(DrillReport.Phase::name)
                .containsExactly("locate", "restore", "recovery", "checks", "cleanup");
        assertThat(r.checks())
                .extracting(c -> c.name() + "=" + c.status())
                .containsExactly(
                        "restore=PASSED",
                        "recovery=PASSED",
                        "recovery-point=PASSED",
                        "row-counts=SKIPPED",
                        "full-read=PASSED",
                        "amcheck=PASSED",
                        "smoke-queries=PASSED");
        assertThat(r.checks().get(3).detail()).startsWith("not applicable");
        assertThat(r.checks().get(4).detail()).contains("postgres: 1 table(s), 1 row(s) read");
        // the last recovered transaction is order 1's commit: after the insert, before T; the RPO is T minus it
        DrillReport.Recovery rec = r.recovery();
        assertThat(rec.targetTime())
                .isEqualTo(RecoveryTarget.time(timeT, true).instant().orElseThrow());
        assertThat(rec.lastTransaction()).isAfterOrEqualTo(order1).isBefore(rec.targetTime());
        assertThat(rec.rpo().orElseThrow()).isPositive().isLessThan(Duration.ofSeconds(5));
        assertThat(r.toMarkdown())
                .contains("- **RPO**: ")
                .contains("last recovered transaction " + rec.lastTransaction());
        assertThat(new String(r.toJson(), StandardCharsets.UTF_8))
                .contains("\"rpoMillis\" : " + rec.rpo().get().toMillis());
        assertThat(DrillReport.fromJson(r.toJson(), "k").recovery()).isEqualTo(rec);
        assertThat(listening(port)).as("no server is left on port %d", port).isFalse();
    }

    @Test
    void aSmokeQueryWithoutRowsFailsTheDrillAndTheScratchClusterIsGone() throws Exception {
        int port = freePort();
        DrillReport r = drill().asOf(timeT)
                .port(port)
                .smokeQueries(List.of("SELECT 1 FROM orders WHERE id = 2"))
                .build()
                .run();
        assertThat(r.outcome()).isEqualTo(DrillReport.Outcome.FAILED);
        assertThat(r.findings())
                .anyMatch(f -> f.startsWith("smoke-queries failed: 1 of 1")
                        && f.contains("SELECT 1 FROM orders WHERE id = 2` returned no rows"));
        assertThat(r.phase("cleanup")).isPresent();
        assertThat(listening(port)).as("no server is left on port %d", port).isFalse();
    }

    @Test
    void aTargetBeforeTheBaseBackupIsRefused() {
        assertThatThrownBy(() -> drill().asOf("2020-01-01 00:00:00+00").build().run())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("No base backup in")
                .hasMessageContaining("ends before the target")
                .hasMessageContaining("Choose a later target");
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
