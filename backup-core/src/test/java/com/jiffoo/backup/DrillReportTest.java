package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DrillReport}: its JSON reads back as written, it is stored signed and a report signed with another key, or
 * not signed where authentication is required, is refused; its Markdown entry and alert say what an operator needs.
 */
class DrillReportTest {
    @TempDir
    Path dir;

    private static DrillReport overTarget() {
        return new DrillReport(
                "database",
                DrillReport.Outcome.OVER_TARGET,
                Instant.parse("2026-12-02T04:00:00Z"),
                "drill-host",
                "database/db_backup_20261202_020000.sql.gpg",
                Instant.parse("2026-12-02T02:03:00Z"),
                "file:/var/backups/jiffoo",
                "database jiffoo_drill_20261202_040000_0123abcd on 127.0.0.1:5432",
                List.of(
                        new DrillReport.Phase("locate", Duration.ofMillis(700)),
                        new DrillReport.Phase("restore", Duration.ofMinutes(100)),
                        new DrillReport.Phase("checks", Duration.ofMinutes(25)),
                        new DrillReport.Phase("cleanup", Duration.ofSeconds(2))),
                Duration.ofMinutes(125).plusMillis(2700),
                Duration.ofHours(2),
                List.of(
                        new DrillReport.Check("restore", DrillReport.Status.PASSED, "restored"),
                        new DrillReport.Check("amcheck", DrillReport.Status.SKIPPED, "no | extension")),
                List.of("the drill took 2h 05m 02s, over the RTO target"));
    }

    private static BackupTrust trust(String passphrase) {
        return BackupTrust.of(List.of(OpenPgpTransform.builder()
                .passphrase(passphrase.toCharArray(), "k")
                .build()));
    }

    @Test
    void jsonReadsBackAsWritten() {
        DrillReport r = overTarget();
        assertThat(DrillReport.fromJson(r.toJson(), "k")).isEqualTo(r);
        assertThatThrownBy(() -> DrillReport.fromJson("{\"formatVersion\":2}".getBytes(), "k"))
                .isInstanceOf(IntegrityException.class);
    }

    @Test
    void storedSignedAndRefusedWithAnotherKeyOrUnsigned() throws Exception {
        DrillReport r = overTarget();
        try (LocalDirectorySink sink = LocalDirectorySink.create(dir)) {
            String key = r.storeIn(sink, trust("right"));
            assertThat(key).startsWith("_drills/drill-20261202T040000000Z-").endsWith(".json");
            assertThat(dir.resolve(key + ".sig")).exists();
            assertThat(DrillReport.readFrom(sink, key, trust("right"))).isEqualTo(r);
            assertThat(DrillReport.keysIn(sink)).containsExactly(key);
            assertThatThrownBy(() -> DrillReport.readFrom(sink, key, trust("wrong")))
                    .isInstanceOf(IntegrityException.class);
            Files.delete(dir.resolve(key + ".sig"));
            assertThatThrownBy(() -> DrillReport.readFrom(sink, key, trust("right")))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("not signed");
        }
    }

    @Test
    void markdownAndAlertSayTheVerdictAndByHowMuchTheTargetWasMissed() {
        String md = overTarget().toMarkdown();
        assertThat(md)
                .startsWith("## 2026-12-02 04:00 UTC — database drill: OVER-TARGET")
                .contains("**RTO**: 2h 05m 02s measured, target 2h 00m 00s — **over target by 5m 02s**")
                .contains("| restore | 1h 40m 00s |")
                .contains("| amcheck | skipped | no \\| extension |")
                .contains("- the drill took 2h 05m 02s, over the RTO target");
        assertThat(overTarget().toAlert().text())
                .startsWith("jiffoo-backup database restore drill OVER-TARGET: file:/var/backups/jiffoo")
                .contains("over by 5m 02s");
    }

    @Test
    void outcomesMapToTheLaunchersExitCodes() {
        assertThat(DrillReport.Outcome.PASSED.exitCode()).isZero();
        assertThat(DrillReport.Outcome.FAILED.exitCode()).isEqualTo(12);
        assertThat(DrillReport.Outcome.OVER_TARGET.exitCode()).isEqualTo(13);
    }
}
