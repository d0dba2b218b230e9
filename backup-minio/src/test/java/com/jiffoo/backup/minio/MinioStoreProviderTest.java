package com.jiffoo.backup.minio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import com.jiffoo.backup.testing.StoreUris;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.net.URI;
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
            StoreUris.assertOpensAndLocates(
                    location, "", settings, MinioSink.class, "files/files_backup_20260111_030000.tar.gz.gpg");
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
