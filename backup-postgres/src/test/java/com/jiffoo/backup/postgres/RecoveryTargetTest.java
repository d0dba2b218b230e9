package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RecoveryTargetTest {
    @Test
    void readsTheTimeFormsPostgresqlPrintsAndIso8601() {
        Instant t = Instant.parse("2026-12-01T21:05:07.123456Z");
        assertThat(RecoveryTarget.time("2026-12-01 21:05:07.123456+00", true).instant())
                .contains(t);
        assertThat(RecoveryTarget.time("2026-12-01 22:05:07.123456+01:00", true).instant())
                .contains(t);
        assertThat(RecoveryTarget.time("2026-12-01 21:05:07.123456 UTC", true).instant())
                .contains(t);
        assertThat(RecoveryTarget.time("2026-12-01T21:05:07.123456Z", true).instant())
                .contains(t);
        assertThat(RecoveryTarget.time("2026-12-01 21:05:07+00", true).text()).isEqualTo("2026-12-01 21:05:07+00");
        // PostgreSQL refuses to start with a Z in recovery_target_time
        assertThat(RecoveryTarget.time("2026-12-01T21:05:07.123456Z", true).text())
                .isEqualTo("2026-12-01T21:05:07.123456+00");
    }

    @Test
    void aTimeWithoutAZoneIsRefusedUnlessTheBackupIsNamed() {
        assertThatThrownBy(() -> RecoveryTarget.time("2026-12-01 21:05:07", true))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("with a zone");
        RecoveryTarget passed = RecoveryTarget.time("yesterday", false);
        assertThat(passed.instant()).isEmpty();
        assertThat(passed.text()).isEqualTo("yesterday");
    }

    @Test
    void positionsAndSegmentNamesFollowPostgresql() {
        assertThat(RecoveryTarget.lsn("0/3000060").setting()).contains("recovery_target_lsn");
        assertThat(WalPosition.parse("1/A2000028").segmentName(2, 16 * 1024 * 1024))
                .isEqualTo("0000000200000001000000A2");
        assertThat(WalPosition.parse("0/2000028").toString()).isEqualTo("0/2000028");
        assertThatThrownBy(() -> RecoveryTarget.lsn("3000060")).isInstanceOf(ConfigurationException.class);
    }
}
