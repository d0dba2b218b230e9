package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which recorded verification stands for a backup (the rule documented in docs/monitoring.md). */
class VerificationRecordTest {
    private static final Instant T0 = Instant.parse("2026-02-01T04:00:00Z");

    private static VerificationRecord record(int hour, boolean deep, boolean passed) {
        return new VerificationRecord(
                "files/files_backup_20260201_030000.tar.gz.gpg",
                "files_backup_20260201_030000",
                T0.plus(Duration.ofHours(hour)),
                deep,
                passed,
                passed ? null : "INTEGRITY",
                passed ? null : "damaged",
                Duration.ofSeconds(1),
                "host");
    }

    private static VerificationRecord standing(VerificationRecord... records) {
        return VerificationRecord.standing(List.of(records)).orElseThrow();
    }

    @Test
    void aLaterQuickPassDoesNotClearAFailedDeepVerification() {
        VerificationRecord deepFailed = record(1, true, false);
        assertThat(standing(deepFailed, record(2, false, true))).isEqualTo(deepFailed);
        assertThat(standing(record(3, false, true), deepFailed, record(2, false, true)))
                .isEqualTo(deepFailed);
    }

    @Test
    void aLaterDeepPassClearsAnyFailure() {
        VerificationRecord deepPassed = record(3, true, true);
        assertThat(standing(record(1, true, false), deepPassed)).isEqualTo(deepPassed);
        assertThat(standing(record(1, false, false), deepPassed)).isEqualTo(deepPassed);
        assertThat(standing(record(1, true, false), record(2, false, false), deepPassed, record(4, false, true)))
                .as("the newest pass once nothing stands against it")
                .isEqualTo(record(4, false, true));
    }

    @Test
    void aLaterQuickPassClearsAFailedQuickVerification() {
        VerificationRecord quickPassed = record(2, false, true);
        assertThat(standing(record(1, false, false), quickPassed)).isEqualTo(quickPassed);
    }

    @Test
    void aLaterFailureOfEitherModeStandsOverAnEarlierPass() {
        VerificationRecord quickFailed = record(2, false, false);
        assertThat(standing(record(1, true, true), quickFailed)).isEqualTo(quickFailed);
        VerificationRecord deepFailed = record(2, true, false);
        assertThat(standing(record(1, false, true), deepFailed)).isEqualTo(deepFailed);
    }

    @Test
    void ofSeveralStandingFailuresTheNewestStandsAndNoRecordsMeanNone() {
        VerificationRecord quickFailed = record(3, false, false);
        assertThat(standing(record(1, true, false), record(2, false, true), quickFailed))
                .isEqualTo(quickFailed);
        assertThat(standing(record(1, true, false), quickFailed, record(4, false, true)))
                .as("the quick failure is cleared by the quick pass; the deep one is not")
                .isEqualTo(record(1, true, false));
        assertThat(VerificationRecord.standing(List.of())).isEmpty();
    }
}
