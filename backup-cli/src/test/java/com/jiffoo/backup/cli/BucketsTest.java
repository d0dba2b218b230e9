package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.store.StoreSettings;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The uploads bucket's settings: its own UPLOADS_* ones when any is set (never mixed with the store's), else the store's. */
class BucketsTest {
    @Test
    void withoutUploadsSettingsTheBucketUsesTheStores() {
        StoreSettings b = Buckets.settings(Settings.load(
                Map.of("S3_ENDPOINT", "http://store:9000", "AWS_ACCESS_KEY_ID", "store-key", "RETENTION_DAYS", "7"),
                null));
        assertThat(b.get("S3_ENDPOINT")).contains("http://store:9000");
        assertThat(b.get("AWS_ACCESS_KEY_ID")).contains("store-key");
        assertThat(b.get("RETENTION_DAYS")).as("not a bucket's setting").isEmpty();
    }

    @Test
    void anyUploadsSettingMakesTheBucketReadOnlyItsOwn() {
        StoreSettings b = Buckets.settings(Settings.load(
                Map.of(
                        "S3_ENDPOINT", "http://store:9000",
                        "AWS_ACCESS_KEY_ID", "store-key",
                        "AWS_SECRET_ACCESS_KEY", "store-secret",
                        "UPLOADS_AWS_ACCESS_KEY_ID", "uploads-key",
                        "UPLOADS_AWS_SECRET_ACCESS_KEY", "uploads-secret"),
                null));
        assertThat(b.get("AWS_ACCESS_KEY_ID")).contains("uploads-key");
        assertThat(b.get("AWS_SECRET_ACCESS_KEY")).contains("uploads-secret");
        assertThat(b.get("S3_ENDPOINT")).as("not the store's endpoint").isEmpty();
    }

    @Test
    void uploadsSecretsAreSecretsAndNeverFlags() {
        Settings s = Settings.load(Map.of("UPLOADS_AWS_SECRET_ACCESS_KEY", "hunter2-uploads"), null);
        assertThat(s.redact("failed with hunter2-uploads")).doesNotContain("hunter2-uploads");
        assertThatThrownBy(() -> s.flag("UPLOADS_AWS_SECRET_ACCESS_KEY", "x"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aLocationThatIsNoBucketIsRefused() {
        Settings s = Settings.load(Map.of(), null);
        assertThatThrownBy(() -> Buckets.open(s, "/srv/uploads", "--from"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("--from")
                .hasMessageContaining("s3://bucket/prefix");
        assertThatThrownBy(() -> Buckets.open(s, "minio://host:9000", "--to"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("minio://host:port/bucket/prefix");
    }
}
