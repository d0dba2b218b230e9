package com.jiffoo.backup.minio;

import static com.jiffoo.backup.minio.MinioSinkContractTest.openUploads;
import static com.jiffoo.backup.minio.MinioSinkContractTest.sinkIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.MemoryTarget;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.InputStream;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Backups through the whole pipeline (OpenPGP, SHA-256, manifest) into a MinioSink on S3Proxy, and back. */
class MinioPipelineTest {
    private static S3ProxyServer s3;

    @TempDir
    Path dir;

    @BeforeAll
    static void startServer() throws Exception {
        s3 = S3ProxyServer.startTransient();
    }

    @AfterAll
    static void stopServer() throws Exception {
        s3.close();
    }

    private OpenPgpTransform pgp() {
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(TestKeys.keyFile(dir, "backup.key")))
                .build();
    }

    @Test
    void encryptedBackupOfSeveralPartsRestoresByteIdentical() throws Exception {
        String bucket = s3.createBucket();
        OpenPgpTransform pgp = pgp();
        GeneratedSource source = new GeneratedSource("database", 12L * 1024 * 1024 + 7, 42);
        try (MinioSink sink = sinkIn(s3, bucket).prefix("prod").partsInFlight(2).build()) {
            BackupManifest manifest = BackupPipeline.builder()
                    .source(source)
                    .encryption(pgp)
                    .sink(sink)
                    .build()
                    .run();

            assertThat(sink.list("database/"))
                    .extracting(StoredObject::key)
                    .containsExactly(
                            manifest.objectKey(),
                            manifest.manifestKey(),
                            manifest.signatureKey(),
                            manifest.sha256Key());
            assertThat(manifest.objectSize()).isGreaterThan(2 * MinioSink.MIN_PART_SIZE);
            assertThat(openUploads(s3, bucket)).isEmpty();

            MemoryTarget target = new MemoryTarget();
            RestoreResult r = RestorePipeline.builder()
                    .sink(sink)
                    .target(target)
                    .decryption(pgp)
                    .build()
                    .restore(manifest.objectKey());
            try (InputStream expected = source.stream()) {
                assertThat(target.committed()).isEqualTo(expected.readAllBytes());
            }
            assertThat(r.manifest().objectSha256()).isEqualTo(manifest.objectSha256());
        }
    }

    @Test
    void aSourceFailingMidStreamLeavesNothingAndNoOpenUpload() throws Exception {
        String bucket = s3.createBucket();
        GeneratedSource failing = new GeneratedSource("files", 20L * 1024 * 1024, 5).failingAfter(11L * 1024 * 1024);
        try (MinioSink sink = sinkIn(s3, bucket).build()) {
            assertThatThrownBy(() -> BackupPipeline.builder()
                            .source(failing)
                            .encryption(pgp())
                            .sink(sink)
                            .build()
                            .run())
                    .isInstanceOf(BackupException.class)
                    .hasMessageContaining("failed on purpose");
            assertThat(sink.list("")).isEmpty();
            assertThat(openUploads(s3, bucket)).isEmpty();
            assertThat(s3.openMultipartUploads(bucket)).isEmpty();
        }
    }
}
