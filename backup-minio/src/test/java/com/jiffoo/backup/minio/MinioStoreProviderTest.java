package com.jiffoo.backup.minio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MinioStoreProviderTest {

    @Test
    void opensTheStoreItsLocationNamesAndLocatesABackupInIt() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.startTransient()) {
            String bucket = s3.createBucket();
            StoreSettings settings = StoreSettings.of(Map.of(
                    "MINIO_ENDPOINT",
                    s3.endpoint().toString(),
                    "AWS_ACCESS_KEY_ID",
                    s3.accessKey(),
                    "AWS_SECRET_ACCESS_KEY",
                    s3.secretKey()));
            URI endpoint = s3.endpoint();
            String location = "minio://" + endpoint.getHost() + ":" + endpoint.getPort() + "/" + bucket + "/prod";
            String key = "files/files_backup_20260111_030000.tar.gz.gpg";
            String uri;
            try (Sink store = StoreProviders.open(location, settings);
                    SinkOutput out = store.create(key)) {
                assertThat(store).isInstanceOf(MinioSink.class);
                assertThat(store.location()).isEqualTo(location);
                out.write("stored".getBytes(StandardCharsets.UTF_8));
                out.commit();
                uri = StoreProviders.backupUri(store, key);
            }
            StoreProviders.Located at = StoreProviders.locate(uri, settings);
            try (Sink store = at.store();
                    InputStream in = store.open(at.key())) {
                assertThat(at.key()).isEqualTo(key);
                assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                        .isEqualTo("stored");
            }
            assertThatThrownBy(() -> StoreProviders.open("minio://elsewhere:9000/" + bucket, settings))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("MINIO_ENDPOINT");
        }
    }

    @Test
    void needsTheServersUrlAndKeys() {
        assertThat(StoreProviders.schemes()).contains("minio", "file");
        assertThatThrownBy(() -> StoreProviders.open("minio://minio.internal:9000/b", StoreSettings.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("MINIO_ENDPOINT");
        assertThatThrownBy(() -> StoreProviders.open(
                        "minio://minio.internal:9000/bucket?endpoint=https://minio.internal:9000", StoreSettings.NONE))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("AWS_ACCESS_KEY_ID");
    }
}
