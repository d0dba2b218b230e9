package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RetentionPolicy.Verdict;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.retention.Pruner;
import com.jiffoo.backup.retention.Retention;
import com.jiffoo.backup.testing.MutableClock;
import com.jiffoo.backup.testing.s3.DenyingProxy;
import com.jiffoo.backup.testing.s3.S3MockServer;
import com.jiffoo.backup.testing.s3.TappingProxy;
import com.jiffoo.backup.testutil.GeneratedSource;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

/**
 * Object Lock against Adobe's S3Mock, which implements the Object Lock API (buckets with Object Lock,
 * GetObjectLockConfiguration, Put/GetObjectRetention) and checks {@code Content-MD5}. S3Mock does not apply the lock
 * headers of a write nor refuse to delete a locked object, so: the write headers are checked on the wire (and their
 * {@code Content-MD5} by the server, which refuses a wrong one), and the locked backup of the prune test gets its
 * retention through PutObjectRetention, as a server that applies the headers would have set it at write time.
 */
class S3ObjectLockIT {
    private static final long MIB = 1 << 20;
    private static final String LOCKED = "jiffoo-locked";
    private static final String PLAIN = "jiffoo-plain";
    private static final AtomicInteger RUN = new AtomicInteger();

    @RegisterExtension
    static final S3MockServer.PerClass S3MOCK = S3MockServer.perClass();

    private static S3Client admin;

    @TempDir
    Path tmp;

    @BeforeAll
    static void buckets() {
        admin = client(S3MOCK.server().endpoint());
        admin.createBucket(b -> b.bucket(LOCKED).objectLockEnabledForBucket(true));
        admin.createBucket(b -> b.bucket(PLAIN));
    }

    @AfterAll
    static void closeClient() {
        if (admin != null) {
            admin.close();
        }
    }

    private static S3Client client(URI endpoint) {
        S3MockServer s = S3MOCK.server();
        return S3Client.builder()
                .endpointOverride(endpoint)
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create(s.accessKey(), s.secretKey())))
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build();
    }

    private static S3Sink.Builder sink(URI endpoint, String bucket, String prefix) {
        S3MockServer s = S3MOCK.server();
        return S3Sink.builder()
                .uri("s3://" + bucket + "/" + prefix)
                .endpointOverride(endpoint)
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

    private BackupManifest backup(Sink sink, long size, MutableClock clock) {
        return BackupPipeline.builder()
                .source(new GeneratedSource("files", size, RUN.incrementAndGet()))
                .encryption(pgp())
                .sink(sink)
                .clock(clock)
                .build()
                .run();
    }

    @Test
    void everyWriteCarriesTheLockAndAContentMd5ThatTheServerChecks() throws Exception {
        String prefix = "write" + RUN.incrementAndGet();
        Instant before = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        BackupManifest m;
        List<String> heads;
        try (TappingProxy tap = new TappingProxy(S3MOCK.server().port());
                S3Sink s = sink(URI.create("http://127.0.0.1:" + tap.port()), LOCKED, prefix)
                        .objectLock(S3ObjectLock.compliance(Duration.ofDays(31)))
                        .build()) {
            m = backup(s, 12 * MIB + 5, MutableClock.at(Instant.now())); // multipart: 3 parts
            heads = List.copyOf(tap.requestHeads());
        }
        Instant after = Instant.now();
        List<String> objectPuts = new ArrayList<>();
        List<String> partPuts = new ArrayList<>();
        List<String> uploadStarts = new ArrayList<>();
        List<String> retentionPuts = new ArrayList<>();
        for (String h : heads) {
            String line = h.substring(0, h.indexOf("\r\n"));
            if (!line.contains("/" + LOCKED + "/" + prefix + "/")) {
                continue;
            }
            if (line.startsWith("PUT ") && line.contains("?retention")) {
                retentionPuts.add(h);
            } else if (line.startsWith("PUT ")) {
                (line.contains("partNumber=") ? partPuts : objectPuts).add(h);
            } else if (line.startsWith("POST ") && line.contains("?uploads")) {
                uploadStarts.add(h);
            }
        }
        assertThat(uploadStarts).as("the data went as a multipart upload").hasSize(1);
        assertThat(partPuts).as("its parts").hasSize(3);
        assertThat(retentionPuts)
                .as("the completed upload's version gets its retention set (Ceph's RADOS Gateway ignores the headers"
                        + " of CreateMultipartUpload)")
                .hasSize(1)
                .allMatch(h -> h.startsWith("PUT /" + LOCKED + "/" + prefix + "/" + m.objectKey() + "?retention"));
        assertThat(objectPuts).as("the sidecar and the manifest").hasSizeGreaterThanOrEqualTo(2);
        List<String> locked = new ArrayList<>(objectPuts);
        locked.addAll(uploadStarts);
        for (String h : locked) {
            assertThat(header(h, "x-amz-object-lock-mode")).as(h).isEqualTo("COMPLIANCE");
            Instant until = Instant.parse(header(h, "x-amz-object-lock-retain-until-date"));
            assertThat(until).as(h).isBetween(before.plus(Duration.ofDays(31)), after.plus(Duration.ofDays(31)));
        }
        List<String> withBody = new ArrayList<>(objectPuts);
        withBody.addAll(partPuts);
        for (String h : withBody) {
            assertThat(header(h, "content-md5")).as(h).matches("[A-Za-z0-9+/]{22}==");
        }
        // S3Mock refuses a Content-MD5 that does not match the body (checked in the shell): the upload went through,
        // so each was right; the backup verifies end to end
        try (S3Sink s = sink(S3MOCK.server().endpoint(), LOCKED, prefix).build()) {
            assertThatCode(() -> BackupVerifier.builder().sink(s).build().verify(m.objectKey(), false))
                    .doesNotThrowAnyException();
        }
    }

    private static String header(String head, String name) {
        Matcher x = Pattern.compile("(?im)^" + Pattern.quote(name) + ":\\s*(.*?)\\s*$")
                .matcher(head);
        assertThat(x.find()).as("header " + name + " in\n" + head).isTrue();
        return x.group(1);
    }

    @Test
    void pruneKeepsALockedBackupWholeReportsItAndDeletesTheOthers() throws Exception {
        String prefix = "prune" + RUN.incrementAndGet();
        MutableClock clock = MutableClock.at(Instant.now().minus(Duration.ofDays(3)));
        try (S3Sink s = sink(S3MOCK.server().endpoint(), LOCKED, prefix).build()) {
            BackupManifest oldest = backup(s, 100_000, clock);
            clock.advance(Duration.ofHours(1));
            BackupManifest middle = backup(s, 100_000, clock);
            clock.advance(Duration.ofHours(1));
            BackupManifest newest = backup(s, 100_000, clock);
            Instant until = Instant.now().plus(Duration.ofDays(1)).truncatedTo(ChronoUnit.SECONDS);
            admin.putObjectRetention(r -> r.bucket(LOCKED)
                    .key(prefix + "/" + oldest.objectKey())
                    .retention(t -> t.mode(ObjectLockRetentionMode.COMPLIANCE).retainUntilDate(until)));
            assertThat(s.lock(oldest.objectKey())).contains(new Sink.ObjectLock("COMPLIANCE", until));
            assertThat(s.lock(oldest.manifestKey())).isEmpty();

            Pruner.PruneReport dry = Pruner.builder()
                    .sink(s)
                    .policy(Retention.builder().keepLast(1).build())
                    .build()
                    .prune("files", true);
            assertThat(dry.retained()).containsOnlyKeys(oldest.objectKey());
            assertThat(dry.deleted()).containsExactly(middle.objectKey());

            Pruner.PruneReport r = Pruner.builder()
                    .sink(s)
                    .policy(Retention.builder().keepLast(1).build())
                    .build()
                    .prune("files", false);
            assertThat(r.retained()).containsOnlyKeys(oldest.objectKey());
            assertThat(r.retained().get(oldest.objectKey()))
                    .contains(oldest.objectKey() + " is locked (COMPLIANCE) until " + until);
            assertThat(r.deleted()).containsExactly(middle.objectKey());
            Verdict v = r.verdicts().stream()
                    .filter(x -> x.backup().objectKey().equals(oldest.objectKey()))
                    .findFirst()
                    .orElseThrow();
            assertThat(v.keep()).isTrue();
            assertThat(v.reason()).startsWith("retained: ").contains("the policy would drop it");

            List<String> keys = s.list("files/").stream().map(StoredObject::key).toList();
            assertThat(keys).contains(oldest.manifestKey(), oldest.sha256Key(), oldest.objectKey());
            assertThat(keys).contains(newest.manifestKey(), newest.objectKey());
            assertThat(keys).noneMatch(k -> k.startsWith(middle.objectKey()));
            assertThatCode(() -> BackupVerifier.builder().sink(s).build().verify(oldest.objectKey(), false))
                    .doesNotThrowAnyException();
        }
    }

    @Test
    void aDeleteTheStoreDeniesKeepsTheBackupWholeAndIsReportedNotThrown() throws Exception {
        String prefix = "denied" + RUN.incrementAndGet();
        MutableClock clock = MutableClock.at(Instant.now().minus(Duration.ofDays(3)));
        BackupManifest oldest;
        BackupManifest newest;
        try (S3Sink s = sink(S3MOCK.server().endpoint(), LOCKED, prefix).build()) {
            oldest = backup(s, 100_000, clock);
            clock.advance(Duration.ofHours(1));
            newest = backup(s, 100_000, clock);
        }
        try (DenyingProxy proxy = DenyingProxy.deletes(S3MOCK.server().port());
                S3Sink s = sink(URI.create("http://127.0.0.1:" + proxy.port()), LOCKED, prefix)
                        .build()) {
            Pruner.PruneReport r = Pruner.builder()
                    .sink(s)
                    .policy(Retention.builder().keepLast(1).build())
                    .build()
                    .prune("files", false);
            assertThat(r.deleted()).isEmpty();
            assertThat(r.retained()).containsOnlyKeys(oldest.objectKey());
            assertThat(r.retained().get(oldest.objectKey()))
                    .contains("the store refused to delete " + oldest.manifestKey())
                    .contains("AccessDenied")
                    .contains("nothing of the backup was deleted");
            assertThat(proxy.denied()).as("one delete asked, none after it").isEqualTo(1);
        }
        try (S3Sink s = sink(S3MOCK.server().endpoint(), LOCKED, prefix).build()) {
            List<String> keys = s.list("files/").stream().map(StoredObject::key).toList();
            assertThat(keys).contains(oldest.manifestKey(), oldest.sha256Key(), oldest.objectKey());
            assertThat(keys).contains(newest.manifestKey());
            assertThatCode(() -> BackupVerifier.builder().sink(s).build().verify(oldest.objectKey(), false))
                    .doesNotThrowAnyException();
        }
    }

    /**
     * Credentials of a prune set up before Object Lock (neither GetBucketObjectLockConfiguration nor GetObjectRetention
     * allowed) still prune; on a bucket that says it has Object Lock, a retention that may not be read refuses.
     */
    @Test
    void pruneWithoutTheRightToReadLocksGoesOnOnlyWhereTheBucketCannotSayItLocks() throws Exception {
        String prefix = "noread" + RUN.incrementAndGet();
        MutableClock clock = MutableClock.at(Instant.now().minus(Duration.ofDays(3)));
        BackupManifest oldest;
        try (S3Sink s = sink(S3MOCK.server().endpoint(), LOCKED, prefix).build()) {
            oldest = backup(s, 100_000, clock);
            clock.advance(Duration.ofHours(1));
            backup(s, 100_000, clock);
            clock.advance(Duration.ofHours(1));
            backup(s, 100_000, clock);
        }
        try (DenyingProxy proxy = new DenyingProxy(S3MOCK.server().port(), l -> l.contains("?retention"));
                S3Sink s = sink(URI.create("http://127.0.0.1:" + proxy.port()), LOCKED, prefix)
                        .build()) {
            assertThatThrownBy(() -> Pruner.builder()
                            .sink(s)
                            .policy(Retention.builder().keepLast(1).build())
                            .build()
                            .prune("files", false))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("which has Object Lock enabled")
                    .hasMessageContaining("Allow s3:GetObjectRetention");
            assertThat(s.list("files/").stream().map(StoredObject::key))
                    .as("nothing deleted")
                    .contains(oldest.manifestKey(), oldest.objectKey());
        }
        try (DenyingProxy proxy = new DenyingProxy(
                        S3MOCK.server().port(), l -> l.contains("?retention") || l.contains("?object-lock"));
                S3Sink s = sink(URI.create("http://127.0.0.1:" + proxy.port()), LOCKED, prefix)
                        .build()) {
            Pruner.PruneReport r = Pruner.builder()
                    .sink(s)
                    .policy(Retention.builder().keepLast(1).build())
                    .build()
                    .prune("files", false);
            assertThat(r.deleted()).hasSize(2).contains(oldest.objectKey());
            assertThat(r.retained()).isEmpty();
            assertThat(proxy.denied())
                    .as("the bucket asked once, one object once")
                    .isEqualTo(2);
        }
    }

    @Test
    void aLockAskedForOnABucketWithoutObjectLockIsRefusedBeforeAnythingIsWritten() throws Exception {
        String prefix = "nolock" + RUN.incrementAndGet();
        try (S3Sink s = sink(S3MOCK.server().endpoint(), PLAIN, prefix)
                .objectLock(S3ObjectLock.governance(Duration.ofDays(31)))
                .build()) {
            for (long size : new long[] {100_000, 12 * MIB}) { // one PutObject; a multipart upload
                assertThatThrownBy(() -> backup(s, size, MutableClock.at(Instant.now())))
                        .isInstanceOf(ConfigurationException.class)
                        .hasMessageContaining("the bucket '" + PLAIN + "' does not have Object Lock enabled")
                        .hasMessageContaining("unset S3_OBJECT_LOCK");
            }
            // refused when the write starts, before any byte is sent
            assertThatThrownBy(() -> s.create("files/x.bin"))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("Nothing was written");
            assertThat(s.list("")).isEmpty();
            assertThat(s.partialWrites("")).isEmpty();
        }
    }
}
