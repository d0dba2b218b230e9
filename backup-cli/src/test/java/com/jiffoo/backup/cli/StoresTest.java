package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Stores#openAll}: the store and its copies as the settings name them. */
class StoresTest {
    @TempDir
    Path dir;

    /** The store's label in metrics: no credentials, whatever characters they hold, no query, no fragment. */
    @Test
    void theMetricsLabelOfAStoreHoldsNoSecret() {
        assertThat(Stores.label("s3://AKIAEXAMPLE:se#cr?e/t@jiffoo-backups/prod?profile=eu#x"))
                .isEqualTo("s3://jiffoo-backups/prod");
        assertThat(Stores.label("minio://minio:p@ss@10.0.0.5:9000/bucket/prefix"))
                .isEqualTo("minio://10.0.0.5:9000/bucket/prefix");
        assertThat(Stores.label("s3://jiffoo-backups/prod?endpoint=http://127.0.0.1:9000"))
                .isEqualTo("s3://jiffoo-backups/prod");
        assertThat(Stores.label("/var/backups/jiffoo")).isEqualTo("/var/backups/jiffoo");
        assertThat(Stores.label("file:/var/backups/jiffoo")).isEqualTo("/var/backups/jiffoo");
        Settings s = Settings.load(
                Map.of("S3_BUCKET", "s3://AKIAEXAMPLE:topsecret@jiffoo-backups/prod", "AWS_SECRET_ACCESS_KEY", "zzz"),
                null);
        assertThat(Stores.configuredLocation(s)).isEqualTo("s3://jiffoo-backups/prod");
    }

    @Test
    void aCopyNamedAsTheStoreIsTheStoreItselfNotASecondCopy() throws Exception {
        Path a = Files.createDirectory(dir.resolve("a"));
        Path b = Files.createDirectory(dir.resolve("b"));
        // docs/copies.md, "Restoring from another region": --store names a copy of BACKUP_COPIES
        Settings s = Settings.load(Map.of("STORE", b.toString(), "BACKUP_COPIES", a + "," + b), null);
        List<Sink> all = Stores.openAll(s);
        try {
            assertThat(all).hasSize(2);
            assertThat(all.get(0).location()).contains(b.toString());
            assertThat(all.get(1).location()).contains(a.toString());
        } finally {
            for (Sink x : all) {
                Stores.close(x);
            }
        }
    }

    @Test
    void anEmptyCopyToMeansNoCopiesWhateverBackupCopiesSays() throws Exception {
        Path a = Files.createDirectory(dir.resolve("a"));
        Path b = Files.createDirectory(dir.resolve("b"));
        // restore pitr's restore_command when the store it used has no copies after it
        Settings s = Settings.load(Map.of("STORE", a.toString(), "BACKUP_COPIES", b.toString()), null)
                .flag("BACKUP_COPIES", "");
        assertThat(Stores.copies(s)).isEmpty();
        Settings given = Settings.load(Map.of("STORE", a.toString(), "BACKUP_COPIES", b.toString()), null);
        assertThat(Stores.copies(given)).hasSize(1);
    }

    @Test
    void aCopyNamedTwiceIsRefused() throws Exception {
        Path a = Files.createDirectory(dir.resolve("a"));
        Path b = Files.createDirectory(dir.resolve("b"));
        Settings s = Settings.load(Map.of("STORE", a.toString(), "BACKUP_COPIES", b + "," + b), null);
        assertThatThrownBy(() -> Stores.openAll(s))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("named twice");
    }
}
