package com.jiffoo.backup.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreProvidersTest {
    @TempDir
    Path dir;

    @Test
    void opensALocalDirectoryByPathOrFileUri() throws Exception {
        for (String location :
                new String[] {dir.toString(), "file:" + dir, dir.toUri().toString()}) {
            try (Sink store = StoreProviders.open(location, StoreSettings.NONE)) {
                assertThat(store).as(location).isInstanceOf(LocalDirectorySink.class);
                assertThat(store.location()).isEqualTo("file:" + dir);
            }
        }
        assertThat(StoreProviders.schemes()).contains("file");
        assertThat(StoreProviders.find("FILE")).containsInstanceOf(LocalStoreProvider.class);
    }

    @Test
    void locatesOneBackupByTheUriItsStorePrints() throws Exception {
        String key = "files/files_backup_20260111_030000.tar.gz.gpg";
        String uri;
        try (Sink store = StoreProviders.open(dir.toString(), StoreSettings.NONE);
                SinkOutput out = store.create(key)) {
            out.write("data".getBytes(StandardCharsets.UTF_8));
            out.commit();
            uri = StoreProviders.backupUri(store, key);
        }
        StoreProviders.Located at = StoreProviders.locate(uri, StoreSettings.NONE);
        try (Sink store = at.store();
                InputStream in = store.open(at.key())) {
            assertThat(at.key()).isEqualTo(key);
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("data");
        }
    }

    @Test
    void refusesAnUnknownSchemeNamingTheKnownOnes() {
        assertThatThrownBy(() -> StoreProviders.open("nosuch://bucket/prefix", StoreSettings.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("'nosuch:'")
                .hasMessageContaining("file");
    }

    @Test
    void refusesCredentialsInAUriWithoutShowingThem() {
        assertThatThrownBy(() -> StoreProviders.open("file://Someone:S3cret@host/x", StoreSettings.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("credentials")
                .hasMessageNotContaining("S3cret")
                .hasMessageNotContaining("Someone");
        assertThat(StoreProviders.redact("s3://KEY:S3cret@bucket/p")).isEqualTo("s3://***@bucket/p");
        // a password typed with '@' or '/' in it: no part of it shows
        assertThat(StoreProviders.redact("minio://admin:p@ss@host:9000/b")).isEqualTo("minio://***@host:9000/b");
        assertThat(StoreProviders.redact("minio://admin:p/s@s@host:9000/b")).isEqualTo("minio://***@host:9000/b");
    }

    /**
     * An AWS secret often holds a {@code /}, which ends a URI's authority early (so the URI sees no user info), and
     * one with a character a URI may not hold makes the URI's own error message repeat it: neither gets through.
     */
    @Test
    void refusesCredentialsThatAUriParserDoesNotSee() {
        for (String location : new String[] {
            "s3://AKIAKEY:abc/S3cret+x@bucket/p",
            "s3://AKIAKEY:S3cret x@bucket/p",
            "minio://AKIAKEY:S3cret|x@host:9000/bucket"
        }) {
            assertThatThrownBy(() -> StoreProviders.open(location, StoreSettings.NONE))
                    .as(location)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("credentials")
                    .hasMessageNotContaining("S3cret")
                    .hasMessageNotContaining("AKIAKEY");
            assertThat(StoreProviders.redact(location))
                    .as(location)
                    .doesNotContain("S3cret")
                    .doesNotContain("AKIAKEY");
        }
        assertThatThrownBy(() -> StoreProviders.open("s3://bucket/a b^c", StoreSettings.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("is not a valid URI");
    }

    @Test
    void refusesAMissingDirectory() {
        assertThatThrownBy(() -> StoreProviders.open(dir.resolve("absent").toString(), StoreSettings.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("does not exist");
    }

    @Test
    void queryParametersOverrideSettingsAndUnknownOnesAreNamed() {
        StoreSettings settings = StoreSettings.of(Map.of("AWS_REGION", "eu-west-1", "S3_PATH_STYLE", "yes"));
        StoreSettings merged =
                settings.withQuery(URI.create("s3://b/p?region=us-east-1"), Map.of("region", "AWS_REGION"));
        assertThat(merged.get("AWS_REGION")).contains("us-east-1");
        assertThat(merged.bool("S3_PATH_STYLE")).contains(true);
        assertThatThrownBy(() -> settings.withQuery(URI.create("s3://b/p?secret=x"), Map.of("region", "AWS_REGION")))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("region");
        assertThatThrownBy(() -> StoreSettings.of(Map.of("E", "ftp://x")).httpUrl("E"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("E=https://");
    }
}
