package com.jiffoo.backup.minio;

import static com.jiffoo.backup.minio.MinioSinkContractTest.openUploads;
import static com.jiffoo.backup.minio.MinioSinkContractTest.sinkIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.groups.Tuple.tuple;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class MinioSinkTest {
    private static S3ProxyServer s3;
    private String bucket;
    private MinioSink sink;

    @BeforeAll
    static void startServer() throws Exception {
        s3 = S3ProxyServer.startTransient();
    }

    @AfterAll
    static void stopServer() throws Exception {
        s3.close();
    }

    @BeforeEach
    void newBucket() {
        bucket = s3.createBucket();
        sink = sinkIn(s3, bucket).prefix("jiffoo/prod").build();
    }

    @AfterEach
    void closeSink() {
        sink.close();
    }

    private void put(String key, byte[] data) throws Exception {
        try (SinkOutput out = sink.create(key)) {
            out.write(data);
            out.commit();
        }
    }

    private byte[] read(String key) throws Exception {
        try (InputStream in = sink.open(key)) {
            return in.readAllBytes();
        }
    }

    @Test
    void writesReadsListsAndDeletes() throws Exception {
        put("database/a.sql.gpg", "hello".getBytes(StandardCharsets.UTF_8));
        put("files/b.tar.gz.gpg", new byte[0]);
        assertThat(read("database/a.sql.gpg")).asString(StandardCharsets.UTF_8).isEqualTo("hello");
        assertThat(read("files/b.tar.gz.gpg")).isEmpty();
        assertThat(sink.list(""))
                .extracting(StoredObject::key, StoredObject::size)
                .containsExactly(tuple("database/a.sql.gpg", 5L), tuple("files/b.tar.gz.gpg", 0L));
        assertThat(sink.list("files/")).extracting(StoredObject::key).containsExactly("files/b.tar.gz.gpg");
        assertThat(sink.list("nothing/")).isEmpty();
        sink.delete("database/a.sql.gpg");
        sink.delete("database/a.sql.gpg");
        assertThat(sink.list("")).extracting(StoredObject::key).containsExactly("files/b.tar.gz.gpg");
    }

    @Test
    void storesUnderThePrefixInTheBucket() throws Exception {
        put("files/x", new byte[] {1});
        try (MinioSink whole = sinkIn(s3, bucket).build()) {
            assertThat(whole.list("")).extracting(StoredObject::key).containsExactly("jiffoo/prod/files/x");
        }
        assertThat(sink.location())
                .isEqualTo("minio://127.0.0.1:" + s3.endpoint().getPort() + "/" + bucket + "/jiffoo/prod");
    }

    @Test
    void closeWithoutCommitLeavesNoObjectAndNoOpenUpload() throws Exception {
        try (SinkOutput out = sink.create("files/small.bin")) {
            out.write(new byte[1000]);
        }
        try (SinkOutput out = sink.create("files/big.bin")) {
            out.write(TestKeys.randomBytes(17 * 1024 * 1024, 2)); // 3 full parts sent, the 4th buffered
            assertThat(openUploads(s3, bucket)).hasSize(1);
        }
        assertThat(sink.list("")).isEmpty();
        assertThat(openUploads(s3, bucket)).isEmpty();
        assertThat(s3.openMultipartUploads(bucket)).isEmpty();
        try (MinioSink whole = sinkIn(s3, bucket).build()) {
            assertThat(whole.list("")).isEmpty();
        }
    }

    @Test
    void largeObjectRoundTripsByteForByteInSeveralParts() throws Exception {
        int size = 16 * 1024 * 1024 + 12345; // 4 parts of 5 MiB, the last short
        MessageDigest expected = MessageDigest.getInstance("SHA-256");
        try (SinkOutput out = sink.create("database/big.sql.gpg");
                InputStream in = TestKeys.randomStream(size, 7)) {
            byte[] buf = new byte[100_000]; // writes that straddle part boundaries
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                expected.update(buf, 0, n);
            }
            assertThat(openUploads(s3, bucket)).hasSize(1);
            out.commit();
        }
        assertThat(openUploads(s3, bucket)).isEmpty();
        MessageDigest actual = MessageDigest.getInstance("SHA-256");
        long total = 0;
        try (InputStream in = sink.open("database/big.sql.gpg")) {
            byte[] buf = new byte[64 * 1024];
            int n;
            while ((n = in.read(buf)) > 0) {
                actual.update(buf, 0, n);
                total += n;
            }
        }
        assertThat(total).isEqualTo(size);
        assertThat(actual.digest()).isEqualTo(expected.digest());
        assertThat(sink.list("database/")).extracting(StoredObject::size).containsExactly((long) size);
    }

    @Test
    void failedPartUploadsAreRetried() throws Exception {
        byte[] data = TestKeys.randomBytes(12 * 1024 * 1024, 8);
        try (MinioSink retrying = sinkIn(s3, bucket)
                .maxAttempts(4)
                .retryDelays(Duration.ofMillis(1), Duration.ofMillis(10))
                .build()) {
            s3.failNextPartUploads(2);
            try (SinkOutput out = retrying.create("files/retried.bin")) {
                out.write(data);
                out.commit();
            }
            assertThat(s3.pendingPartFailures()).isZero();
            try (InputStream in = retrying.open("files/retried.bin")) {
                assertThat(in.readAllBytes()).isEqualTo(data);
            }
        } finally {
            s3.failNextPartUploads(0);
        }
    }

    private static Response errorResponse(Request request, int status, String code) {
        String xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>staged "
                + code + "</Message><Resource>" + request.url().encodedPath() + "</Resource><RequestId>1</RequestId>"
                + "</Error>";
        return new Response.Builder()
                .request(request)
                .protocol(Protocol.HTTP_1_1)
                .code(status)
                .message(code)
                .header("Content-Type", "application/xml")
                .body(ResponseBody.create(xml, MediaType.get("application/xml")))
                .build();
    }

    @Test
    void anObjectOfExactlyOnePartIsASinglePut() throws Exception {
        byte[] data = TestKeys.randomBytes((int) MinioSink.MIN_PART_SIZE, 3);
        try (SinkOutput out = sink.create("files/one-part.bin")) {
            out.write(data);
            assertThat(openUploads(s3, bucket)).isEmpty();
            out.commit();
        }
        assertThat(read("files/one-part.bin")).isEqualTo(data);
    }

    @Test
    void withoutConditionalWritesTheCheckAloneIsNotAtomic() throws Exception {
        try (MinioSink unconditional =
                sinkIn(s3, bucket).conditionalWrites(false).build()) {
            s3.writeRightAfterNextLookup(bucket, "late", "first writer");
            try (SinkOutput out = unconditional.create("late")) {
                out.write("second writer".getBytes(StandardCharsets.UTF_8));
                out.commit(); // the race this test stages: the check passed, the first writer's object is replaced
            }
            try (InputStream in = unconditional.open("late")) {
                assertThat(in.readAllBytes()).asString(StandardCharsets.UTF_8).isEqualTo("second writer");
            }
        }
    }

    @Test
    void listsMoreThanOnePageOfKeys() throws Exception {
        int count = 1_050;
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String key = String.format("files/k%05d", i);
            keys.add(key);
            put(key, new byte[] {(byte) i});
        }
        assertThat(sink.list("files/")).extracting(StoredObject::key).containsExactlyElementsOf(keys);
        sink.deleteAll(keys); // two batches
        assertThat(sink.list("")).isEmpty();
    }

    @Test
    void storesUserMetadataAndAsksForServerSideEncryption() throws Exception {
        try (MinioSink sse = sinkIn(s3, bucket)
                .serverSideEncryptionS3()
                .metadata(Map.of("host", "db1"))
                .build()) {
            // S3Proxy reports AES256 for every object, so check what the sink sends: the client's HTTP trace
            ByteArrayOutputStream trace = new ByteArrayOutputStream();
            sse.client().traceOn(trace);
            try (SinkOutput out = sse.create("m/one", Map.of("Backup-Id", "20260111T020000Z-1"))) {
                out.write(1);
                out.commit();
            }
            try (SinkOutput out = sse.create("m/many", Map.of("backup-id", "b2"))) {
                out.write(TestKeys.randomBytes(6 * 1024 * 1024, 5));
                out.commit();
            }
            sse.client().traceOff();
            String sent = trace.toString(StandardCharsets.UTF_8);
            // the header among the request's own header lines (they end at the first empty line)
            assertThat(sent)
                    .containsPattern("(?i)PUT /" + bucket + "/m/one[^\\n]*\\n([^\\n]+\\n)*?"
                            + "x-amz-server-side-encryption: AES256");
            assertThat(sent)
                    .containsPattern("PUT /" + bucket + "/m/one[^\\n]*\\n([^\\n]+\\n)*?" + "If-None-Match: \\*");
            assertThat(sent)
                    .containsPattern("(?i)POST /" + bucket + "/m/many\\?uploads[^\\n]*\\n([^\\n]+\\n)*?"
                            + "x-amz-server-side-encryption: AES256");
            assertThat(sent)
                    .containsPattern("PUT /" + bucket + "/m/one[^\\n]*\\n([^\\n]+\\n)*?"
                            + "x-amz-meta-backup-id: 20260111T020000Z-1");
            assertThat(sse.metadataOf("m/one"))
                    .containsEntry("backup-id", "20260111T020000Z-1")
                    .containsEntry("host", "db1");
            assertThat(sse.metadataOf("m/many"))
                    .containsEntry("backup-id", "b2")
                    .containsEntry("host", "db1");
        }
    }

    @Test
    void openOfAMissingKeyIsNotFound() {
        assertThatThrownBy(() -> sink.open("files/none"))
                .isInstanceOf(NotFoundException.class)
                .hasMessageContaining("files/none")
                .hasMessageContaining(bucket);
    }

    @Test
    void aMissingBucketSaysSo() throws Exception {
        try (MinioSink missing = sinkIn(s3, "no-such-bucket").build()) {
            assertThatThrownBy(missing::checkBucket)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("'no-such-bucket' does not exist");
            assertThatThrownBy(() -> missing.list(""))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("does not exist");
            SinkOutput out = missing.create("x");
            out.write(1);
            assertThatThrownBy(out::commit)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("does not exist");
            out.close();
        }
    }

    @Test
    void aWrongSecretIsAConfigurationErrorThatDoesNotShowTheSecret() {
        String wrong = "wrong-secret-7d2e";
        try (MinioSink bad = sinkIn(s3, bucket)
                .credentials(s3.accessKey(), wrong.toCharArray())
                .build()) {
            Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> bad.list(""));
            assertThat(t).isInstanceOf(ConfigurationException.class).hasMessageContaining("rejected the credentials");
            StringWriter trace = new StringWriter();
            t.printStackTrace(new PrintWriter(trace));
            assertThat(trace.toString()).doesNotContain(wrong).doesNotContain(s3.secretKey());
            assertThat(bad.toString()).doesNotContain(wrong);
            assertThat(bad.toBuilder().toString()).doesNotContain(wrong).contains("***");
        }
    }

    @Test
    void missingCredentialsAreAClearError() {
        assertThatThrownBy(() -> MinioSink.builder()
                        .endpoint(s3.endpoint().toString())
                        .bucket(bucket)
                        .build())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("No credentials")
                .hasMessageContaining("credentials(accessKey, secretKey)");
        assertThatThrownBy(() ->
                        MinioSink.builder().bucket(bucket).credentials("a", "b").build())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("No MinIO endpoint");
    }

    @Test
    void anUnreachableEndpointSaysSo() {
        try (MinioSink away = MinioSink.builder()
                .endpoint("http://127.0.0.1:1")
                .bucket(bucket)
                .credentials("a", "b")
                .maxAttempts(2)
                .retryDelays(Duration.ofMillis(1), Duration.ofMillis(5))
                .build()) {
            assertThatThrownBy(() -> away.list(""))
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("Cannot reach the MinIO endpoint http://127.0.0.1:1");
        }
    }

    @Test
    void refusesBadKeysAndSettings() {
        for (String bad : new String[] {"../x", "/etc/passwd", "a//b", "a/./b", ""}) {
            assertThatThrownBy(() -> sink.create(bad)).as(bad).isInstanceOf(ConfigurationException.class);
        }
        assertThatThrownBy(() -> MinioSink.builder().partSize(4 * 1024 * 1024))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MinioSink.builder().bucket("Bad_Bucket")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() ->
                        sinkIn(s3, bucket).serverSideEncryptionKms("key-1").build())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("https");
    }
}
