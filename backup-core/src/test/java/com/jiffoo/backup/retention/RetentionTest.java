package com.jiffoo.backup.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.RetentionPolicy;
import com.jiffoo.backup.RetentionPolicy.Verdict;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * 90 days of daily backups (02:00 UTC, 2026-01-01 .. 2026-03-31) with gaps — Jan 10-12 and Feb 9 never ran, the
 * Mar 25 run failed (no manifest, so it is not a backup) — and a second backup on Mar 20 at 14:00, judged on
 * 2026-03-31 at 12:00 UTC. 2026-03-31 is a Tuesday.
 */
class RetentionTest {
    private static final Clock NOW = Clock.fixed(Instant.parse("2026-03-31T12:00:00Z"), ZoneOffset.UTC);
    private static final Set<LocalDate> NEVER_RAN = Set.of(
            LocalDate.of(2026, 1, 10),
            LocalDate.of(2026, 1, 11),
            LocalDate.of(2026, 1, 12),
            LocalDate.of(2026, 2, 9),
            LocalDate.of(2026, 3, 25));

    private static List<BackupManifest> ninetyDays(LocalDate last) {
        List<BackupManifest> out = new ArrayList<>();
        for (LocalDate d = LocalDate.of(2026, 1, 1); !d.isAfter(last); d = d.plusDays(1)) {
            if (!NEVER_RAN.contains(d)) {
                out.add(backup(d.atTime(2, 0).toInstant(ZoneOffset.UTC)));
            }
        }
        if (!last.isBefore(LocalDate.of(2026, 3, 20))) {
            out.add(backup(Instant.parse("2026-03-20T14:00:00Z")));
        }
        Collections.shuffle(out, new Random(1)); // order must come from the manifests, not from the list
        return out;
    }

    private static BackupManifest backup(Instant completed) {
        String id = "db_backup_" + completed.toString().replaceAll("[-:TZ]", "");
        return BackupManifest.builder()
                .id(id)
                .kind("database")
                .startedAt(completed.minusSeconds(60))
                .completedAt(completed)
                .object("database/" + id + ".sql.gpg", 10, "0".repeat(64))
                .plaintext(10, "1".repeat(64))
                .build();
    }

    private static List<String> survivors(RetentionPolicy policy, List<BackupManifest> backups) {
        List<Verdict> verdicts = policy.evaluate(backups, NOW);
        assertThat(verdicts).hasSize(backups.size());
        for (int i = 0; i < backups.size(); i++) {
            assertThat(verdicts.get(i).backup()).isSameAs(backups.get(i)); // same order as given
        }
        return verdicts.stream()
                .filter(Verdict::keep)
                .map(v -> v.backup().completedAt())
                .sorted(java.util.Comparator.reverseOrder())
                .map(t -> t.toString().substring(0, 16))
                .toList();
    }

    @Test
    void keepLastKeepsTheNewestByCompletionTime() {
        assertThat(survivors(Retention.builder().keepLast(5).build(), ninetyDays(LocalDate.of(2026, 3, 31))))
                .containsExactly(
                        "2026-03-31T02:00",
                        "2026-03-30T02:00",
                        "2026-03-29T02:00",
                        "2026-03-28T02:00",
                        "2026-03-27T02:00");
    }

    @Test
    void keepWithinKeepsWhatCompletedInThePeriod() {
        assertThat(survivors(
                        Retention.builder().keepWithin(Duration.ofDays(7)).build(),
                        ninetyDays(LocalDate.of(2026, 3, 31))))
                .containsExactly(
                        "2026-03-31T02:00",
                        "2026-03-30T02:00",
                        "2026-03-29T02:00",
                        "2026-03-28T02:00",
                        "2026-03-27T02:00",
                        "2026-03-26T02:00");
    }

    @Test
    void keepDailyCountsDaysThatHaveBackupsAndKeepsEachDaysNewest() {
        assertThat(survivors(Retention.builder().keepDaily(12).build(), ninetyDays(LocalDate.of(2026, 3, 31))))
                .containsExactly(
                        "2026-03-31T02:00",
                        "2026-03-30T02:00",
                        "2026-03-29T02:00",
                        "2026-03-28T02:00",
                        "2026-03-27T02:00",
                        "2026-03-26T02:00",
                        "2026-03-24T02:00",
                        "2026-03-23T02:00",
                        "2026-03-22T02:00",
                        "2026-03-21T02:00",
                        "2026-03-20T14:00",
                        "2026-03-19T02:00");
    }

    @Test
    void keepWeeklyMonthlyYearlyKeepTheNewestOfEachPeriod() {
        List<BackupManifest> all = ninetyDays(LocalDate.of(2026, 3, 31));
        assertThat(survivors(Retention.builder().keepWeekly(4).build(), all))
                .containsExactly("2026-03-31T02:00", "2026-03-29T02:00", "2026-03-22T02:00", "2026-03-15T02:00");
        assertThat(survivors(Retention.builder().keepMonthly(3).build(), all))
                .containsExactly("2026-03-31T02:00", "2026-02-28T02:00", "2026-01-31T02:00");
        assertThat(survivors(Retention.builder().keepYearly(5).build(), all)).containsExactly("2026-03-31T02:00");
    }

    @Test
    void rulesCombineSoThatAnyRuleKeepsABackup() {
        Retention policy =
                Retention.builder().keepDaily(7).keepWeekly(4).keepMonthly(3).build();
        List<BackupManifest> all = ninetyDays(LocalDate.of(2026, 3, 31));
        assertThat(survivors(policy, all))
                .containsExactly(
                        "2026-03-31T02:00",
                        "2026-03-30T02:00",
                        "2026-03-29T02:00",
                        "2026-03-28T02:00",
                        "2026-03-27T02:00",
                        "2026-03-26T02:00",
                        "2026-03-24T02:00",
                        "2026-03-22T02:00",
                        "2026-03-15T02:00",
                        "2026-02-28T02:00",
                        "2026-01-31T02:00");
        Verdict newest = policy.evaluate(all, NOW).stream()
                .filter(v -> v.backup().completedAt().equals(Instant.parse("2026-03-31T02:00:00Z")))
                .findFirst()
                .orElseThrow();
        assertThat(newest.reason()).isEqualTo("daily 2026-03-31, weekly 2026-W14, monthly 2026-03");
        Verdict dropped = policy.evaluate(all, NOW).stream()
                .filter(v -> v.backup().completedAt().equals(Instant.parse("2026-03-20T02:00:00Z")))
                .findFirst()
                .orElseThrow();
        assertThat(dropped.keep()).isFalse();
        assertThat(dropped.reason()).contains("no rule keeps it").contains("daily 7, weekly 4, monthly 3");
    }

    @Test
    void theNewestBackupIsNeverDeletedEvenWhenBackupsStoppedLongAgo() {
        // backups stopped on Feb 15; the runbook's 30 days would otherwise delete them all
        List<BackupManifest> stale = ninetyDays(LocalDate.of(2026, 2, 15));
        assertThat(survivors(Retention.maxAgeDays(30), stale)).containsExactly("2026-02-15T02:00");
        assertThat(Retention.maxAgeDays(30).evaluate(stale, NOW).stream()
                        .filter(Verdict::keep)
                        .findFirst()
                        .orElseThrow()
                        .reason())
                .isEqualTo("newest backup (never deleted)");
        assertThat(survivors(
                        Retention.builder()
                                .keepWithin(Duration.ofDays(30))
                                .minimum(3)
                                .build(),
                        stale))
                .containsExactly("2026-02-15T02:00", "2026-02-14T02:00", "2026-02-13T02:00");
    }

    @Test
    void theMinimumCountsBackupsKeptByRulesToo() {
        List<BackupManifest> all = ninetyDays(LocalDate.of(2026, 3, 31));
        assertThat(survivors(Retention.builder().keepLast(2).minimum(4).build(), all))
                .containsExactly("2026-03-31T02:00", "2026-03-30T02:00", "2026-03-29T02:00", "2026-03-28T02:00");
        assertThat(survivors(Retention.builder().keepLast(6).minimum(4).build(), all))
                .hasSize(6);
    }

    @Test
    void daysBeginInTheConfiguredZone() {
        // 23:30 UTC on Mar 30 is already Mar 31 in Berlin (UTC+2 from Mar 29): one Berlin day, two UTC days
        List<BackupManifest> two =
                List.of(backup(Instant.parse("2026-03-30T23:30:00Z")), backup(Instant.parse("2026-03-31T02:00:00Z")));
        assertThat(survivors(Retention.builder().keepDaily(2).build(), two)).hasSize(2);
        assertThat(survivors(
                        Retention.builder()
                                .keepDaily(2)
                                .zone(java.time.ZoneId.of("Europe/Berlin"))
                                .build(),
                        two))
                .containsExactly("2026-03-31T02:00");
    }

    @Test
    void anEmptyStoreHasNothingToJudgeAndBadRulesAreRefused() {
        assertThat(Retention.maxAgeDays(30).evaluate(List.of(), NOW)).isEmpty();
        assertThatThrownBy(() -> Retention.builder().minimum(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("never deleted");
        assertThatThrownBy(() -> Retention.builder().keepWithin(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Retention.builder().keepDaily(-1)).isInstanceOf(IllegalArgumentException.class);
    }
}
