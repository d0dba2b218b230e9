package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.testing.s3.CuttingProxy;
import com.jiffoo.backup.testing.s3.LoopbackProxy;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testing.s3.TappingProxy;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.MemoryTarget;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProviderChain;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Exception;

class S3SinkTest {
    private static final long MIB = 1 << 20;

    @RegisterExtension
    static final S3ProxyServer.PerClass S3PROXY = S3ProxyServer.perClass();

    private static final AtomicInteger RUN = new AtomicInteger();

    @TempDir
    Path tmp;

    /**
     * Reading the first bytes of a large object and closing it (the monitor's key check reads 64 KiB of the newest
     * backup) must not download the rest: the Apache client drains an unread body on close unless aborted.
     */
    @Test
    void closingAPartlyReadObjectDoesNotDownloadTheRest() throws Exception {
        String prefix = newPrefix();
        long size = 40L << 20;
        try (S3Sink direct = sinkAt(prefix).build()) {
            try (SinkOutput out = direct.create("big.bin")) {
                new GeneratedSource("x", size, 5).writeTo(out);
                out.commit();
            }
        }
        java.util.concurrent.atomic.AtomicLong down = new java.util.concurrent.atomic.AtomicLong();
        try (LoopbackProxy counting =
                        new LoopbackProxy(S3PROXY.server().endpoint().getPort(), "counting-proxy") {
                            @Override
                            protected void serve(java.net.Socket client, java.net.Socket upstream) {
                                start(() -> pump(client, upstream), "counting-up");
                                start(
                                        () -> pump(upstream, client, (buf, n, in, o) -> {
                                            down.addAndGet(n);
                                            o.write(buf, 0, n);
                                            return true;
                                        }),
                                        "counting-down");
                            }
                        };
                S3Sink sink = sinkAt(prefix)
                        .endpointOverride(URI.create("http://127.0.0.1:" + counting.port()))
                        .build()) {
            try (InputStream in = sink.open("big.bin")) {
                assertThat(in.readNBytes(64 * 1024)).hasSize(64 * 1024);
            }
            Thread.sleep(500);
            assertThat(down.get()).as("bytes downloaded").isLessThan(size / 2);
        }
    }

    private static String newPrefix() {
        return "t" + RUN.incrementAndGet();
    }

    private static S3Sink.Builder sinkAt(String prefix) {
        return S3SinkContractTest.sinkAt(S3PROXY.server(), prefix);
    }

    private static S3Client rawClient() {
        return S3Client.builder()
                .region(Region.US_EAST_1)
                .endpointOverride(S3PROXY.server().endpoint())
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(
                        S3PROXY.server().accessKey(), S3PROXY.server().secretKey())))
                .build();
    }

    private static List<String> openUploads(String prefix) {
        return S3PROXY.server().openMultipartUploads().stream()
                .filter(k -> k.startsWith(prefix + "/"))
                .toList();
    }

    @Test
    void backupObjectsCarryTheBackupIdAndTheSidecarAndManifestTheDataSha256() throws Exception {
        String prefix = newPrefix();
        BackupManifest m;
        try (S3Sink sink = sinkAt(prefix).build()) {
            m = BackupPipeline.builder()
                    .source(new GeneratedSource("files", 100_000, 9))
                    .unencrypted()
                    .sink(sink)
                    .build()
                    .run();
        }
        try (S3Client s3 = rawClient()) {
            HeadObjectResponse data =
                    s3.headObject(r -> r.bucket(S3PROXY.server().bucket()).key(prefix + "/" + m.objectKey()));
            assertThat(data.metadata())
                    .containsEntry(BackupPipeline.META_BACKUP_ID, m.id())
                    .containsEntry(BackupPipeline.META_KIND, "files");
            for (String k : List.of(m.sha256Key(), m.manifestKey())) {
                HeadObjectResponse h =
                        s3.headObject(r -> r.bucket(S3PROXY.server().bucket()).key(prefix + "/" + k));
                assertThat(h.metadata())
                        .as(k)
                        .containsEntry(BackupPipeline.META_BACKUP_ID, m.id())
                        .containsEntry(BackupPipeline.META_OBJECT_SHA256, m.objectSha256());
            }
        }
    }

    @Test
    void builderChecksSettings() {
        assertThatThrownBy(() -> S3Sink.builder().partSize(4 * MIB)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> S3Sink.builder().partsInFlight(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> S3Sink.builder().uri("http://bucket/x")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> S3Sink.builder().uri("s3://Bad_Bucket/x")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> S3Sink.builder().storageClass("COLD")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> S3Sink.builder().build())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("s3://bucket/prefix");
        try (S3Sink sink = sinkAt("x/y/").build()) {
            assertThat(sink.location()).isEqualTo("s3://" + S3PROXY.server().bucket() + "/x/y");
            assertThat(sink.prefix()).isEqualTo("x/y");
            assertThat(sink.toBuilder().build().location()).isEqualTo(sink.location());
        }
    }

    @Test
    void multipartUploadOfFourPartsRoundTripsAndLeavesNoUploadOpen() throws Exception {
        String prefix = newPrefix();
        GeneratedSource data = new GeneratedSource("x", 3 * S3Sink.MIN_PART_SIZE + 777, 5);
        try (S3Sink sink = sinkAt(prefix).partsInFlight(2).build()) {
            try (SinkOutput out = sink.create("big.bin", Map.of("backup-id", "b-1"))) {
                data.writeTo(out);
                out.commit();
            }
            try (InputStream in = sink.open("big.bin");
                    InputStream expected = data.stream()) {
                assertThat(in).hasSameContentAs(expected);
            }
        }
        try (S3Client s3 = rawClient()) {
            HeadObjectResponse head =
                    s3.headObject(r -> r.bucket(S3PROXY.server().bucket()).key(prefix + "/big.bin"));
            assertThat(head.contentLength()).isEqualTo(3 * S3Sink.MIN_PART_SIZE + 777);
            assertThat(head.eTag()).endsWith("-4\"");
            assertThat(head.metadata()).containsEntry("backup-id", "b-1");
        }
        assertThat(openUploads(prefix)).isEmpty();
    }

    @Test
    void sseAndStorageClassAndMetadataAreSent() throws Exception {
        String prefix = newPrefix();
        try (S3Sink sink = sinkAt(prefix)
                .serverSideEncryption(ServerSideEncryption.SSE_S3)
                .storageClass("STANDARD")
                .metadata(Map.of("app", "jiffoo"))
                .build()) {
            try (SinkOutput out = sink.create("small.bin")) {
                out.write(new byte[] {1, 2, 3});
                out.commit();
            }
        }
        try (S3Client s3 = rawClient()) {
            HeadObjectResponse head =
                    s3.headObject(r -> r.bucket(S3PROXY.server().bucket()).key(prefix + "/small.bin"));
            assertThat(head.metadata()).containsEntry("app", "jiffoo");
        }
    }

    @Test
    void s3ProxyRefusesACompletionOverAnExistingKeyWithIfNoneMatch() {
        String key = newPrefix() + "/cond.bin";
        try (S3Client s3 = rawClient()) {
            s3.putObject(r -> r.bucket(S3PROXY.server().bucket()).key(key), RequestBody.fromBytes(new byte[] {1}));
            String id = s3.createMultipartUpload(
                            r -> r.bucket(S3PROXY.server().bucket()).key(key))
                    .uploadId();
            String etag = s3.uploadPart(
                            r -> r.bucket(S3PROXY.server().bucket())
                                    .key(key)
                                    .uploadId(id)
                                    .partNumber(1),
                            RequestBody.fromBytes(new byte[] {2}))
                    .eTag();
            assertThatThrownBy(() -> s3.completeMultipartUpload(
                            r -> r.bucket(S3PROXY.server().bucket())
                                    .key(key)
                                    .uploadId(id)
                                    .ifNoneMatch("*")
                                    .multipartUpload(m -> m.parts(CompletedPart.builder()
                                            .partNumber(1)
                                            .eTag(etag)
                                            .build()))))
                    .isInstanceOf(S3Exception.class)
                    .satisfies(e -> assertThat(((S3Exception) e).statusCode()).isEqualTo(412));
            s3.abortMultipartUpload(
                    r -> r.bucket(S3PROXY.server().bucket()).key(key).uploadId(id));
        }
    }

    @Test
    void aSecondMultipartWriterOfOneKeyGetsObjectExistsAndItsUploadIsAborted() throws Exception {
        String prefix = newPrefix();
        try (S3Sink sink = sinkAt(prefix).build()) {
            SinkOutput first = sink.create("k");
            SinkOutput second = sink.create("k");
            new GeneratedSource("x", S3Sink.MIN_PART_SIZE + 1, 1).writeTo(first);
            new GeneratedSource("x", S3Sink.MIN_PART_SIZE + 1, 2).writeTo(second);
            first.commit();
            assertThatThrownBy(second::commit).isInstanceOf(com.jiffoo.backup.ObjectExistsException.class);
            first.close();
            second.close();
            try (InputStream in = sink.open("k")) {
                assertThat(in).hasSameContentAs(GeneratedSource.stream(S3Sink.MIN_PART_SIZE + 1, 1));
            }
        }
        assertThat(openUploads(prefix)).isEmpty();
    }

    @Test
    void failedSourceThroughTheBackupPipelineLeavesNothingVisibleAndNoUploadOpen() throws Exception {
        String prefix = newPrefix();
        OpenPgpTransform pgp = pgp();
        try (S3Sink sink = sinkAt(prefix).build()) {
            GeneratedSource failing = new GeneratedSource("database", 40 * MIB, 3).failingAfter(17 * MIB);
            assertThatThrownBy(() -> BackupPipeline.builder()
                            .source(failing)
                            .encryption(pgp)
                            .sink(sink)
                            .build()
                            .run())
                    .isInstanceOf(BackupException.class);
            assertThat(sink.list("")).isEmpty();
        }
        assertThat(openUploads(prefix)).isEmpty();
    }

    @Test
    void backupWithOpenPgpToS3RestoresByteIdentical() throws Exception {
        String prefix = newPrefix();
        OpenPgpTransform pgp = pgp();
        GeneratedSource source = new GeneratedSource("database", 17 * MIB + 5, 11);
        try (S3Sink sink = sinkAt(prefix).build()) {
            BackupManifest m = BackupPipeline.builder()
                    .source(source)
                    .encryption(pgp)
                    .sink(sink)
                    .build()
                    .run();
            assertThat(sink.list(""))
                    .extracting(StoredObject::key)
                    .containsExactlyInAnyOrder(m.objectKey(), m.sha256Key(), m.manifestKey(), m.signatureKey());
            MemoryTarget target = new MemoryTarget();
            RestorePipeline.builder()
                    .sink(sink)
                    .decryption(pgp)
                    .target(target)
                    .build()
                    .restore(m.objectKey());
            try (InputStream expected = source.stream()) {
                assertThat(target.committed()).isEqualTo(expected.readAllBytes());
            }
        }
        assertThat(openUploads(prefix)).isEmpty();
    }

    @Test
    void batchedDeleteRemovesMoreThan1000Keys() throws Exception {
        String prefix = newPrefix();
        try (S3Sink sink = sinkAt(prefix).build()) {
            List<String> keys = new ArrayList<>();
            for (int i = 0; i < 1_005; i++) {
                String k = "d/" + i;
                try (SinkOutput out = sink.create(k)) {
                    out.write(1);
                    out.commit();
                }
                keys.add(k);
            }
            keys.add("d/absent");
            sink.deleteAll(keys);
            assertThat(sink.list("")).isEmpty();
        }
    }

    @Test
    void missingCredentialsSayWhatToSet() {
        try (S3Sink sink = sinkAt(newPrefix())
                .credentialsProvider(AwsCredentialsProviderChain.builder()
                        .credentialsProviders(ProfileCredentialsProvider.create("jiffoo-no-such-profile"))
                        .build())
                .build()) {
            assertThatThrownBy(() -> sink.list(""))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("Unable to locate credentials")
                    .hasMessageContaining("AWS_ACCESS_KEY_ID")
                    .hasMessageContaining("IAM role");
        }
    }

    @Test
    void wrongSecretIsRejectedWithoutShowingIt() {
        String wrong = "wrong-secret-" + System.nanoTime();
        try (S3Sink sink = sinkAt(newPrefix())
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(S3PROXY.server().accessKey(), wrong)))
                .maxAttempts(1)
                .build()) {
            assertThatThrownBy(() -> sink.list(""))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("secret access key")
                    .satisfies(e -> assertThat(e.getMessage())
                            .doesNotContain(wrong)
                            .doesNotContain(S3PROXY.server().secretKey()));
        }
    }

    @Test
    void missingBucketIsNamed() {
        try (S3Sink sink = sinkAt("x").uri("s3://no-such-bucket-jiffoo/x").build()) {
            assertThatThrownBy(() -> sink.list(""))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("no-such-bucket-jiffoo")
                    .hasMessageContaining("does not exist");
        }
    }

    @Test
    void unreachableEndpointIsNamed() throws IOException {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        URI dead = URI.create("http://127.0.0.1:" + port);
        try (S3Sink sink = sinkAt("x").endpointOverride(dead).maxAttempts(2).build()) {
            assertThatThrownBy(() -> sink.list(""))
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("Cannot reach the S3 endpoint " + dead);
        }
    }

    @Test
    void sseKmsAndStorageClassAreSentOnSinglePutsAndMultipartUploads() throws Exception {
        String prefix = newPrefix();
        String keyId = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        try (TappingProxy proxy = new TappingProxy(S3PROXY.server().endpoint().getPort());
                S3Sink sink = sinkAt(prefix)
                        .endpointOverride(URI.create("http://127.0.0.1:" + proxy.port()))
                        .serverSideEncryption(ServerSideEncryption.sseKms(keyId))
                        .storageClass("STANDARD_IA")
                        .build()) {
            for (long size : new long[] {1000, 2 * S3Sink.MIN_PART_SIZE + 1}) {
                try (SinkOutput out = sink.create("kms-" + size)) {
                    new GeneratedSource("x", size, 23).writeTo(out);
                    out.commit();
                } catch (IOException | RuntimeException e) {
                    // S3Proxy has no KMS; what matters here is what was sent
                }
            }
            java.util.List<String> writes = proxy.requestHeads().stream()
                    .filter(h -> h.startsWith("PUT /") && !h.contains("partNumber=")
                            || h.matches("(?s)POST /[^ ]*\\?uploads .*"))
                    .map(h -> h.toLowerCase(java.util.Locale.ROOT))
                    .toList();
            assertThat(writes)
                    .hasSize(2)
                    .allSatisfy(h -> assertThat(h)
                            .contains("x-amz-server-side-encryption: aws:kms")
                            .contains("x-amz-server-side-encryption-aws-kms-key-id: "
                                    + keyId.toLowerCase(java.util.Locale.ROOT))
                            .contains("x-amz-storage-class: standard_ia"));
        }
    }

    @Test
    void aConnectionCutDuringAPartIsRetriedAndTheBackupSucceeds() throws Exception {
        String prefix = newPrefix();
        try (CuttingProxy proxy = new CuttingProxy(S3PROXY.server().endpoint().getPort(), 2 * MIB, 1);
                S3Sink sink = sinkAt(prefix)
                        .endpointOverride(URI.create("http://127.0.0.1:" + proxy.port()))
                        .build()) {
            GeneratedSource data = new GeneratedSource("x", 3 * S3Sink.MIN_PART_SIZE + 99, 21);
            try (SinkOutput out = sink.create("cut.bin")) {
                data.writeTo(out);
                out.commit();
            }
            assertThat(proxy.cutsDone()).isEqualTo(1);
            try (InputStream in = sink.open("cut.bin");
                    InputStream expected = data.stream()) {
                assertThat(in).hasSameContentAs(expected);
            }
        }
        assertThat(openUploads(prefix)).isEmpty();
    }

    private OpenPgpTransform pgp() {
        Path key = tmp.resolve("backup.key");
        if (!key.toFile().exists()) {
            PassphraseKeyFile.generate(key);
        }
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(key))
                .build();
    }
}
