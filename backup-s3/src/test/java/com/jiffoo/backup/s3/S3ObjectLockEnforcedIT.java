package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.retention.Pruner;
import com.jiffoo.backup.retention.Retention;
import com.jiffoo.backup.testing.MutableClock;
import com.jiffoo.backup.testing.s3.CephRgwServer;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.MemoryTarget;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ObjectLockRetentionMode;
import software.amazon.awssdk.services.s3.model.ObjectVersion;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * Object Lock against a server that enforces it: Ceph's RADOS Gateway ({@link CephRgwServer}). Where
 * {@link S3ObjectLockIT} (S3Mock) checks what is sent and how {@code prune} reads locks, this shows that what a
 * locked store writes is really undeletable: the server itself refuses to delete each version of a backup's objects
 * before its date, and the backup restores afterwards; a GOVERNANCE lock falls only to a delete that asks to bypass
 * it. Skipped, with the reason, where the Ceph packages are missing.
 */
class S3ObjectLockEnforcedIT {
    private static final long MIB = 1 << 20;
    private static final String BUCKET = "jiffoo-enforced";
    private static final AtomicInteger RUN = new AtomicInteger();

    @RegisterExtension
    static final CephRgwServer.PerClass RGW = CephRgwServer.perClass();

    private static S3Client admin;

    @TempDir
    Path tmp;

    @BeforeAll
    static void bucket() {
        CephRgwServer s = RGW.server();
        admin = S3Client.builder()
                .endpointOverride(s.endpoint())
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKey(), s.secretKey())))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build();
        admin.createBucket(b -> b.bucket(BUCKET).objectLockEnabledForBucket(true));
    }

    @AfterAll
    static void closeClient() {
        if (admin != null) {
            admin.close();
        }
    }

    private static S3Sink.Builder sink(String prefix) {
        CephRgwServer s = RGW.server();
        return S3Sink.builder()
                .uri("s3://" + BUCKET + "/" + prefix)
                .endpointOverride(s.endpoint())
                .pathStyleAccess(true)
                .credentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKey(), s.secretKey())))
                .partSize(S3Sink.MIN_PART_SIZE);
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

    private BackupManifest backup(S3Sink sink, GeneratedSource source, MutableClock clock) {
        return BackupPipeline.builder()
                .source(source)
                .encryption(pgp())
                .sink(sink)
                .clock(clock)
                .build()
                .run();
    }

    /** Every version the server keeps of {@code key}; a locked object has exactly one. */
    private static List<ObjectVersion> versions(String key) {
        return admin.listObjectVersions(r -> r.bucket(BUCKET).prefix(key)).versions().stream()
                .filter(v -> v.key().equals(key))
                .toList();
    }

    /** The retention the server keeps for a version; fails naming the key when it keeps none. */
    private static software.amazon.awssdk.services.s3.model.ObjectLockRetention retention(String key, String id) {
        try {
            return admin.getObjectRetention(r -> r.bucket(BUCKET).key(key).versionId(id))
                    .retention();
        } catch (S3Exception e) {
            throw new AssertionError(
                    "the server keeps no retention for " + key + " (version " + id + "): "
                            + e.awsErrorDetails().errorCode() + " " + e.statusCode(),
                    e);
        }
    }

    private static S3Exception deleteVersion(String key, String versionId, boolean bypassGovernance) {
        return catchThrowableOfType(
                S3Exception.class,
                () -> admin.deleteObject(r -> r.bucket(BUCKET)
                        .key(key)
                        .versionId(versionId)
                        .bypassGovernanceRetention(bypassGovernance ? Boolean.TRUE : null)));
    }

    @Test
    void aComplianceLockedBackupCannotBeDeletedByTheServerRestoresAndPruneKeepsItWhole() throws Exception {
        String prefix = "compliance" + RUN.incrementAndGet();
        MutableClock clock = MutableClock.at(Instant.now().minus(Duration.ofDays(3)));
        GeneratedSource source = new GeneratedSource("files", 12 * MIB + 5, RUN.incrementAndGet()); // multipart
        BackupManifest locked;
        BackupManifest newer;
        Instant before = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        try (S3Sink s = sink(prefix)
                .objectLock(S3ObjectLock.compliance(Duration.ofDays(1)))
                .build()) {
            locked = backup(s, source, clock);
            clock.advance(Duration.ofHours(1));
            newer = backup(s, new GeneratedSource("files", 100_000, RUN.incrementAndGet()), clock);
        }
        assertThat(locked.keys()).hasSize(4); // manifest, signature, sidecar, data
        for (String k : locked.keys()) {
            String key = prefix + "/" + k;
            List<ObjectVersion> v = versions(key);
            assertThat(v).as(key).hasSize(1);
            String id = v.get(0).versionId();
            var retention = retention(key, id);
            assertThat(retention.mode()).as(key).isEqualTo(ObjectLockRetentionMode.COMPLIANCE);
            assertThat(retention.retainUntilDate()).as(key).isAfterOrEqualTo(before.plus(Duration.ofDays(1)));

            S3Exception refused = deleteVersion(key, id, false);
            assertThat(refused).as("the server refused to delete " + key).isNotNull();
            assertThat(refused.statusCode()).as(key).isEqualTo(403);
            assertThat(refused.awsErrorDetails().errorCode()).as(key).isEqualTo("AccessDenied");
            // not even with the bypass, which only a GOVERNANCE lock yields to
            S3Exception bypass = deleteVersion(key, id, true);
            assertThat(bypass).as("COMPLIANCE ignores the bypass for " + key).isNotNull();
            assertThat(bypass.statusCode()).isEqualTo(403);
            assertThat(versions(key))
                    .as(key)
                    .extracting(ObjectVersion::versionId)
                    .containsExactly(id);
        }

        try (S3Sink s = sink(prefix).build()) {
            MemoryTarget target = new MemoryTarget();
            RestorePipeline.builder()
                    .sink(s)
                    .decryption(pgp())
                    .target(target)
                    .build()
                    .restore(locked.objectKey());
            try (InputStream expected = source.stream()) {
                assertThat(target.committed()).isEqualTo(expected.readAllBytes());
            }

            Pruner.PruneReport r = Pruner.builder()
                    .sink(s)
                    .policy(Retention.builder().keepLast(1).build())
                    .build()
                    .prune("files", false);
            assertThat(r.deleted()).as(r.toString()).isEmpty();
            assertThat(r.retained()).as(r.toString()).containsOnlyKeys(locked.objectKey());
            assertThat(r.retained().get(locked.objectKey())).contains("is locked (COMPLIANCE) until");
            List<String> keys = s.list("files/").stream().map(StoredObject::key).toList();
            assertThat(keys).containsAll(locked.keys()).containsAll(newer.keys());
            assertThatCode(() -> BackupVerifier.builder().sink(s).build().verify(locked.objectKey(), false))
                    .doesNotThrowAnyException();
        }
    }

    /**
     * GOVERNANCE: the same refusal, except for a delete that sends {@code x-amz-bypass-governance-retention: true}
     * with credentials allowed {@code s3:BypassGovernanceRetention} (here the bucket's owner) — what an operator with
     * such credentials can do, and what jiffoo-backup never asks for.
     */
    @Test
    void aGovernanceLockFallsOnlyToADeleteThatAsksToBypassIt() throws Exception {
        String prefix = "governance" + RUN.incrementAndGet();
        BackupManifest m;
        try (S3Sink s = sink(prefix)
                .objectLock(S3ObjectLock.governance(Duration.ofDays(1)))
                .build()) {
            m = backup(s, new GeneratedSource("files", 100_000, RUN.incrementAndGet()), MutableClock.at(Instant.now()));
        }
        for (String k : m.keys()) {
            String key = prefix + "/" + k;
            String id = versions(key).get(0).versionId();
            assertThat(admin.getObjectRetention(r -> r.bucket(BUCKET).key(key).versionId(id))
                            .retention()
                            .mode())
                    .isEqualTo(ObjectLockRetentionMode.GOVERNANCE);
            S3Exception refused = deleteVersion(key, id, false);
            assertThat(refused).as("the server refused to delete " + key).isNotNull();
            assertThat(refused.statusCode()).isEqualTo(403);
            assertThat(refused.awsErrorDetails().errorCode()).isEqualTo("AccessDenied");
            assertThat(versions(key)).hasSize(1);
        }
        for (String k : m.keys()) {
            String key = prefix + "/" + k;
            String id = versions(key).get(0).versionId();
            assertThat(deleteVersion(key, id, true))
                    .as("the bypass deletes " + key)
                    .isNull();
            assertThat(versions(key)).as(key).isEmpty();
        }
    }
}
