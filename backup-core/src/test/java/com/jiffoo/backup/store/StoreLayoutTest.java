package com.jiffoo.backup.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class StoreLayoutTest {
    private static final String DATA = "database/db_backup_20260111_020000.sql.gpg";
    private static final Instant AT = Instant.parse("2026-01-11T04:00:00.123Z");

    @Test
    void namesEveryObjectOfABackupAsStoresHoldThem() {
        assertThat(StoreLayout.dataKey("database", "db_backup_20260111_020000", ".sql.gpg"))
                .isEqualTo(DATA);
        assertThat(StoreLayout.kindPrefix("files")).isEqualTo("files/");
        assertThat(StoreLayout.kindOf(DATA)).isEqualTo("database");
        assertThat(StoreLayout.sidecarKey(DATA)).isEqualTo(DATA + ".sha256");
        assertThat(StoreLayout.manifestKey(DATA)).isEqualTo(DATA + ".manifest.json");
        assertThat(StoreLayout.signatureKey(DATA)).isEqualTo(DATA + ".manifest.json.sig");
        assertThat(StoreLayout.newVerificationKey(DATA, AT))
                .matches("\\Q" + DATA + ".verified-20260111T040000123Z-\\E[0-9a-f]{6}\\.json");
        assertThat(StoreLayout.newMonitorReportKey(AT))
                .matches("_monitor/health-20260111T040000123Z-[0-9a-f]{6}\\.json");
    }

    @Test
    void findsTheDataKeyOfEachObjectOfABackup() {
        for (String key : new String[] {
            DATA,
            DATA + ".sha256",
            DATA + ".manifest.json",
            DATA + ".manifest.json.sig",
            StoreLayout.newVerificationKey(DATA, AT)
        }) {
            assertThat(StoreLayout.dataKeyOf(key)).as(key).isEqualTo(DATA);
        }
        assertThat(StoreLayout.isManifestKey(DATA + ".manifest.json")).isTrue();
        assertThat(StoreLayout.isVerificationKey(StoreLayout.newVerificationKey(DATA, AT)))
                .isTrue();
        // a backup whose own name holds the infix is no record
        String odd = "files/x.verified-backup.tar.gz.gpg";
        assertThat(StoreLayout.isVerificationKey(StoreLayout.manifestKey(odd))).isFalse();
        assertThat(StoreLayout.dataKeyOf(StoreLayout.manifestKey(odd))).isEqualTo(odd);
    }

    @Test
    void reservesKeysForWhatComesNext() {
        assertThat(StoreLayout.walSegmentKey("000000010000000000000003", ".gpg"))
                .isEqualTo("wal/0000000100000000/000000010000000000000003.gpg");
        assertThat(StoreLayout.timelineHistoryKey("00000002", ".gpg")).isEqualTo("wal/00000002.history.gpg");
        assertThat(StoreLayout.baseBackupKey("base_backup_20260111_020000", ".tar.gpg"))
                .isEqualTo("base/base_backup_20260111_020000.tar.gpg");
        assertThat(StoreLayout.manifestKey(StoreLayout.baseBackupKey("b", ".tar.gpg")))
                .isEqualTo("base/b.tar.gpg.manifest.json");
        assertThat(StoreLayout.newDrillReportKey(AT)).matches("_drills/drill-20260111T040000123Z-[0-9a-f]{6}\\.json");
        assertThatThrownBy(() -> StoreLayout.walSegmentKey("00000001000000000000003", "")) // 23 digits
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> StoreLayout.timelineHistoryKey("2", "")).isInstanceOf(IllegalArgumentException.class);
        for (String kind : new String[] {"wal", "_monitor", "a/b", ""}) {
            assertThatThrownBy(() -> StoreLayout.dataKey(kind, "id", ".gpg"))
                    .as(kind)
                    .isInstanceOf(ConfigurationException.class);
        }
    }

    @Test
    void placesEveryFilePostgresArchivesUnderWal() {
        assertThat(StoreLayout.walFileKey("000000010000000000000003", ".zst.gpg"))
                .isEqualTo("wal/0000000100000000/000000010000000000000003.zst.gpg");
        assertThat(StoreLayout.walFileKey("000000010000000000000003.partial", ".zst.gpg"))
                .isEqualTo("wal/0000000100000000/000000010000000000000003.partial.zst.gpg");
        assertThat(StoreLayout.walFileKey("000000010000000000000003.00000028.backup", ".zst.gpg"))
                .isEqualTo("wal/0000000100000000/000000010000000000000003.00000028.backup.zst.gpg")
                .isEqualTo(StoreLayout.walBackupHistoryKey("000000010000000000000003.00000028.backup", ".zst.gpg"));
        assertThat(StoreLayout.walFileKey("00000002.history", ".zst.gpg")).isEqualTo("wal/00000002.history.zst.gpg");
        for (String bad : new String[] {
            "RECOVERYXLOG",
            "00000002.history.x",
            "0000000100000000000000030",
            "000000010000000000000003.backup",
            "00000001000000000000000a",
            "../00000002.history"
        }) {
            assertThatThrownBy(() -> StoreLayout.walFileKey(bad, ""))
                    .as(bad)
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void readsTheBackupKeyAtTheEndOfAPath() {
        assertThat(StoreLayout.backupKeyAtEndOf("prod/eu/" + DATA)).isEqualTo(DATA);
        assertThat(StoreLayout.backupKeyAtEndOf(DATA)).isEqualTo(DATA);
        for (String bad : new String[] {"x.sql.gpg", "prod/database/", "/x"}) {
            assertThatThrownBy(() -> StoreLayout.backupKeyAtEndOf(bad))
                    .as(bad)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("<kind>/<file>");
        }
    }
}
