package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.internal.StoreOverlap;
import com.jiffoo.backup.store.ObjectBucket;
import com.jiffoo.backup.store.StoreSettings;
import java.util.List;
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

    @Test
    void uploadsSettingsWithoutUploadsCredentialsAreRefusedRatherThanFallingBackToTheStoresKeys() {
        Settings s = Settings.load(
                Map.of(
                        "UPLOADS_S3_ENDPOINT", "http://uploads:9000",
                        "AWS_ACCESS_KEY_ID", "store-key",
                        "AWS_SECRET_ACCESS_KEY", "store-secret"),
                null);
        assertThatThrownBy(() -> Buckets.settings(s))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("UPLOADS_AWS_ACCESS_KEY_ID")
                .hasMessageContaining("UPLOADS_AWS_SECRET_ACCESS_KEY")
                .hasMessageContaining("UPLOADS_AWS_PROFILE")
                .hasMessageNotContaining("store-secret");
        assertThatThrownBy(() -> Buckets.open(s, "s3://uploads/prefix", "--from"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("UPLOADS_AWS_ACCESS_KEY_ID");
        Settings keyOnly = Settings.load(
                Map.of("UPLOADS_AWS_ACCESS_KEY_ID", "uploads-key", "AWS_SECRET_ACCESS_KEY", "store-secret"), null);
        assertThatThrownBy(() -> Buckets.settings(keyOnly))
                .as("a key without its secret")
                .isInstanceOf(ConfigurationException.class);
        StoreSettings profile = Buckets.settings(
                Settings.load(Map.of("UPLOADS_S3_ENDPOINT", "http://uploads:9000", "UPLOADS_AWS_PROFILE", "up"), null));
        assertThat(profile.get("AWS_PROFILE")).contains("up");
        assertThat(profile.get("AWS_ACCESS_KEY_ID")).isEmpty();
    }

    @Test
    void aBucketLocationWithUserInfoIsRefusedWithoutEchoingIt() {
        Settings s = Settings.load(Map.of(), null);
        for (String location : new String[] {
            "minio://user:hunter2-secret@host:9000/bucket/prefix",
            "minio://user:hunter2/secret@host:9000/bucket/prefix",
            "s3://user:hunter2-secret@bucket/prefix"
        }) {
            assertThatThrownBy(() -> Buckets.open(s, location, "--to"))
                    .as(location)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageNotContaining("hunter2");
        }
    }

    @Test
    void aMalformedBucketLocationIsAConfigurationErrorThatDoesNotEchoUserInfo() {
        Settings s = Settings.load(Map.of(), null);
        assertThatThrownBy(() -> Buckets.open(s, "minio://host:9000/bucket/a b{c}", "--from"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("--from")
                .hasMessageContaining("minio://host:port/bucket/prefix");
        assertThatThrownBy(() -> Buckets.open(s, "minio://u:hunter2@host:9000/bucket/a b", "--from"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageNotContaining("hunter2");
    }

    /** The settings of an S3 server that is not contacted (nothing listens on port 9), with {@code more}. */
    private static Settings server(String... more) {
        Map<String, String> env = new java.util.HashMap<>(
                Map.of("S3_ENDPOINT", "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID", "k", "AWS_SECRET_ACCESS_KEY", "s"));
        for (int i = 0; i < more.length; i += 2) {
            env.put(more[i], more[i + 1]);
        }
        return Settings.load(env, null);
    }

    /**
     * The command line's check is the library's ({@code StoreOverlap}, the rule in {@code BucketLocationTest}), run
     * against the configured store and copies as opened from the settings, with the flag named; a minio:// bucket on
     * the store's server (127.0.0.1 and localhost alike) is the same server. Nothing is contacted: the stores and
     * buckets are only opened.
     */
    @Test
    void aBucketThatIsHoldsOrLiesInsideTheStoreOrACopyIsRefusedNamingTheFlag() throws Exception {
        Settings store = server("STORE", "s3://shop/backups", "BACKUP_COPIES", "s3://drc/x");
        for (String overlapping : List.of(
                "s3://shop",
                "s3://shop/backups/",
                "s3://shop/backups/database",
                "s3://drc",
                "minio://localhost:9/drc/x/y")) {
            try (ObjectBucket b = Buckets.open(store, overlapping, "--to")) {
                assertThatThrownBy(() -> Buckets.refuseOverlap(store, b, "--to", StoreOverlap.Use.RESTORE))
                        .as(overlapping)
                        .isInstanceOf(ConfigurationException.class)
                        .hasMessageContaining("Refusing to restore into the bucket s3://")
                        .hasMessageContaining("(--to): it overlaps the backup store")
                        .hasMessageNotContaining("AWS_SECRET");
            }
        }
        for (String apart : List.of(
                "s3://shop/media", "s3://shop/backups2", "s3://other/backups", "s3://drc/y", "minio://m2:9000/drc")) {
            try (ObjectBucket b = Buckets.open(store, apart, "--to")) {
                Buckets.refuseOverlap(store, b, "--to", StoreOverlap.Use.RESTORE); // no exception
            }
        }
        Settings legacy = server("S3_BUCKET", "shop"); // the whole bucket is the store
        try (ObjectBucket b = Buckets.open(legacy, "s3://shop/media", "--from")) {
            assertThatThrownBy(() -> Buckets.refuseOverlap(legacy, b, "--from", StoreOverlap.Use.BACKUP))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("Refusing to back up the bucket s3://shop/media (--from)")
                    .hasMessageContaining("it lies inside the store")
                    .hasMessageContaining("The store takes the whole bucket s3://shop");
        }
        Settings none = server();
        try (ObjectBucket b = Buckets.open(none, "s3://shop", "--to")) {
            Buckets.refuseOverlap(none, b, "--to", StoreOverlap.Use.RESTORE); // no store configured: nothing to check
        }
    }
}
