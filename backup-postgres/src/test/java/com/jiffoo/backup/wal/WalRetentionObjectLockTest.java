package com.jiffoo.backup.wal;

import static com.jiffoo.backup.wal.WalContinuityTest.seg;
import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.s3.S3Sink;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.testing.s3.DenyingProxy;
import com.jiffoo.backup.testing.s3.S3MockServer;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ObjectLockRetentionMode;

/**
 * WAL retention on a bucket with Object Lock (Adobe's S3Mock, which implements GetObjectRetention but neither applies
 * the lock headers of a write nor refuses to delete a locked object: the locked file's retention is set with
 * PutObjectRetention, as a server that applies the headers would have set it at write time), and behind a proxy
 * that denies deletes (a bucket policy for credentials that may write but not delete): a file that is locked in any
 * part, or whose manifest the store refuses to delete, is kept whole and reported as retained.
 */
class WalRetentionObjectLockTest {
    private static final String BUCKET = "jiffoo-wal-locked";
    private static final AtomicInteger RUN = new AtomicInteger();

    @RegisterExtension
    static final S3MockServer.PerClass S3MOCK = S3MockServer.perClass();

    private static S3Client admin;

    @BeforeAll
    static void bucket() {
        S3MockServer s = S3MOCK.server();
        admin = S3Client.builder()
                .endpointOverride(s.endpoint())
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKey(), s.secretKey())))
                .build();
        admin.createBucket(b -> b.bucket(BUCKET).objectLockEnabledForBucket(true));
    }

    @AfterAll
    static void closeClient() {
        if (admin != null) {
            admin.close();
        }
    }

    private static S3Sink sink(URI endpoint, String prefix) {
        S3MockServer s = S3MOCK.server();
        return S3Sink.builder()
                .uri("s3://" + BUCKET + "/" + prefix)
                .endpointOverride(endpoint)
                .pathStyleAccess(true)
                .credentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKey(), s.secretKey())))
                .build();
    }

    private static List<String> walKeys(Sink sink) throws Exception {
        return sink.list(StoreLayout.WAL_PREFIX).stream().map(StoredObject::key).toList();
    }

    private static List<String> objectsOf(String dataKey) {
        return List.of(StoreLayout.manifestKey(dataKey), StoreLayout.signatureKey(dataKey), dataKey);
    }

    @Test
    void aSegmentLockedInAnyPartIsKeptWholeAndReportedTheOthersGo() throws Exception {
        String prefix = "locked" + RUN.incrementAndGet();
        try (S3Sink s = sink(S3MOCK.server().endpoint(), prefix)) {
            String[] data = new String[6];
            for (int n = 1; n <= 5; n++) {
                data[n] = WalStores.push(s, seg(1, n), new byte[] {(byte) n});
            }
            BackupManifest base = WalStores.base(s, "base_4", 1, seg(1, 4), seg(1, 4), Instant.now());
            // the data object of segment 2 only: its manifest and signature are not locked
            Instant until = Instant.now().plus(Duration.ofDays(1)).truncatedTo(ChronoUnit.SECONDS);
            admin.putObjectRetention(r -> r.bucket(BUCKET)
                    .key(prefix + "/" + data[2])
                    .retention(t -> t.mode(ObjectLockRetentionMode.COMPLIANCE).retainUntilDate(until)));
            assertThat(s.lock(data[2])).contains(new Sink.ObjectLock("COMPLIANCE", until));

            WalRetention.Report dry = WalRetention.of(s).prune(List.of(base), true);
            assertThat(dry.deleted()).containsExactly(seg(1, 1), seg(1, 3));
            assertThat(dry.retained()).containsOnlyKeys(seg(1, 2));
            assertThat(walKeys(s)).hasSize(15);

            WalRetention.Report r = WalRetention.of(s).prune(List.of(base), false);
            assertThat(r.keepFrom()).isEqualTo(seg(1, 4));
            assertThat(r.deleted()).containsExactly(seg(1, 1), seg(1, 3));
            assertThat(r.retained()).containsOnlyKeys(seg(1, 2));
            assertThat(r.retained().get(seg(1, 2))).isEqualTo(data[2] + " is locked (COMPLIANCE) until " + until);
            assertThat(r.kept()).isEqualTo(3);
            List<String> left = walKeys(s);
            assertThat(left).containsAll(objectsOf(data[2])).containsAll(objectsOf(data[4]));
            assertThat(left)
                    .doesNotContainAnyElementsOf(objectsOf(data[1]))
                    .doesNotContainAnyElementsOf(objectsOf(data[3]));
            // nothing half-deleted: no data without its manifest, the archive from the base backup whole
            WalContinuity.Report c = WalContinuity.builder().sink(s).build().check();
            assertThat(c.uncommitted()).isEmpty();
            assertThat(c.continuous()).as(c.toString()).isTrue();

            // once the lock has ended, the next prune deletes it
            WalRetention.Report later = WalRetention.of(s)
                    .withClock(java.time.Clock.fixed(until.plusSeconds(1), java.time.ZoneOffset.UTC))
                    .prune(List.of(base), false);
            assertThat(later.deleted()).containsExactly(seg(1, 2));
            assertThat(later.retained()).isEmpty();
            assertThat(walKeys(s)).doesNotContainAnyElementsOf(objectsOf(data[2]));
        }
    }

    @Test
    void aDeleteTheStoreDeniesKeepsEachSegmentWholeAndIsReportedNotThrown() throws Exception {
        String prefix = "denied" + RUN.incrementAndGet();
        BackupManifest base;
        List<String> before;
        try (S3Sink s = sink(S3MOCK.server().endpoint(), prefix)) {
            for (int n = 1; n <= 3; n++) {
                WalStores.push(s, seg(1, n), new byte[] {(byte) n});
            }
            base = WalStores.base(s, "base_3", 1, seg(1, 3), seg(1, 3), Instant.now());
            before = walKeys(s);
        }
        try (DenyingProxy proxy = DenyingProxy.deletes(S3MOCK.server().port());
                S3Sink s = sink(URI.create("http://127.0.0.1:" + proxy.port()), prefix)) {
            WalRetention.Report r = WalRetention.of(s).prune(List.of(base), false);
            assertThat(r.deleted()).isEmpty();
            assertThat(r.retained()).containsOnlyKeys(seg(1, 1), seg(1, 2));
            assertThat(r.retained().get(seg(1, 1)))
                    .contains("the store refused to delete "
                            + StoreLayout.manifestKey(StoreLayout.walSegmentKey(seg(1, 1), WalStores.SUFFIXES)))
                    .contains("AccessDenied");
            assertThat(proxy.denied())
                    .as("one delete asked per file, its manifest")
                    .isEqualTo(2);
        }
        try (S3Sink s = sink(S3MOCK.server().endpoint(), prefix)) {
            assertThat(walKeys(s)).isEqualTo(before);
            assertThat(WalContinuity.builder().sink(s).build().check().uncommitted())
                    .isEmpty();
        }
    }
}
