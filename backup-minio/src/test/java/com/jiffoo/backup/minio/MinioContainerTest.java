package com.jiffoo.backup.minio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.testutil.TestKeys;
import io.minio.MakeBucketArgs;
import io.minio.MinioAsyncClient;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.MinIOContainer;

/**
 * The sink against a real MinIO server in a container. Skipped where Docker is not available (the S3Proxy tests in
 * {@link MinioSinkTest} cover the S3 protocol without Docker).
 */
class MinioContainerTest {
    private static final String IMAGE = "minio/minio:RELEASE.2025-09-07T16-13-09Z";
    private static MinIOContainer minio;
    private static MinioAsyncClient admin;
    private static boolean docker;

    @BeforeAll
    static void start() throws Exception {
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            docker = false;
        }
        if (!docker) {
            return;
        }
        minio = new MinIOContainer(IMAGE);
        minio.start();
        admin = MinioAsyncClient.builder()
                .endpoint(minio.getS3URL())
                .credentials(minio.getUserName(), minio.getPassword())
                .build();
    }

    /** Per test, so that each skipped test carries the reason in the report (a class-level skip loses it). */
    @BeforeEach
    void needsDocker() {
        Assumptions.assumeTrue(
                docker,
                "Docker is not available, so this MinIO container test is skipped; "
                        + "MinioSinkTest covers the same behaviour against S3Proxy");
    }

    @AfterAll
    static void stop() throws Exception {
        if (admin != null) {
            admin.close();
        }
        if (minio != null) {
            minio.stop();
        }
    }

    private static MinioSink sink(String bucket) throws Exception {
        admin.makeBucket(MakeBucketArgs.builder().bucket(bucket).build()).get();
        return MinioSink.builder()
                .endpoint(minio.getS3URL())
                .bucket(bucket)
                .credentials(minio.getUserName(), minio.getPassword().toCharArray())
                .partSize(MinioSink.MIN_PART_SIZE)
                .build();
    }

    @Test
    void multipartObjectRoundTripsAndIsWriteOnce() throws Exception {
        try (MinioSink sink = sink("roundtrip")) {
            byte[] data = TestKeys.randomBytes(16 * 1024 * 1024 + 5, 9);
            try (SinkOutput out = sink.create("database/x.sql.gpg")) {
                out.write(data);
                assertThat(sink.list("")).isEmpty();
                out.commit();
            }
            try (InputStream in = sink.open("database/x.sql.gpg")) {
                assertThat(in.readAllBytes()).isEqualTo(data);
            }
            try (SinkOutput out = sink.create("database/x.sql.gpg")) {
                out.write("again".getBytes(StandardCharsets.UTF_8));
                assertThatThrownBy(out::commit).isInstanceOf(ObjectExistsException.class);
            }
            assertThat(sink.list("")).extracting(StoredObject::size).containsExactly((long) data.length);
        }
    }

    @Test
    void closeWithoutCommitLeavesNoOpenUpload() throws Exception {
        try (MinioSink sink = sink("abort")) {
            try (SinkOutput out = sink.create("files/y")) {
                out.write(TestKeys.randomBytes(12 * 1024 * 1024, 3));
            }
            assertThat(sink.list("")).isEmpty();
            assertThat(admin.listMultipartUploadsAsync("abort", null, null, null, null, 1000, null, null, null, null)
                            .get()
                            .result()
                            .uploads())
                    .isEmpty();
        }
    }
}
