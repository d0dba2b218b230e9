package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.files.BucketRestoreTarget;
import com.jiffoo.backup.files.BucketSource;
import com.jiffoo.backup.files.Compression;
import com.jiffoo.backup.store.ObjectBucket;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two restores into one prefix (S3Proxy, in-process): a restore's start deletes only staging prefixes older than
 * 24 hours, and a commit whose staging lost objects (another process deleted them) refuses, touching nothing; a
 * backup skips only prefixes named exactly as a staging, not a user's keys that start alike. The archives are made
 * (or read) by GNU tar.
 */
class BucketStagingS3ProxyTest {
    @RegisterExtension
    static final S3ProxyServer.PerClass S3PROXY = S3ProxyServer.perClass();

    @TempDir
    Path tmp;

    private ObjectBucket open() {
        return BucketFilesContract.bucket(S3PROXY.server(), "staging-" + System.nanoTime());
    }

    /** A plain tar of a.txt, d/b.txt and d/c.txt, made by GNU tar. */
    private byte[] tar() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("tree/d"));
        Files.writeString(dir.getParent().resolve("a.txt"), "a");
        Files.writeString(dir.resolve("b.txt"), "b");
        Files.writeString(dir.resolve("c.txt"), "c");
        Process p = new ProcessBuilder(
                        "tar", "-cf", "-", "-C", tmp.resolve("tree").toString(), ".")
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor()).isZero();
        return out;
    }

    private static List<String> keys(ObjectBucket b, String prefix) throws Exception {
        List<String> out = new ArrayList<>();
        Iterator<ObjectBucket.Item> it = b.list(prefix, false);
        while (it.hasNext()) {
            out.add(it.next().key());
        }
        return out;
    }

    @Test
    void aCommitWhoseStagingLostObjectsRefusesAndLeavesTheTargetAlone() throws Exception {
        try (ObjectBucket b = open()) {
            BucketFilesContract.put(b, "keep.txt", "kept", "text/plain", Map.of());
            BucketRestoreTarget target =
                    BucketRestoreTarget.builder(b).replaceExisting(true).build();
            StagedRestore staged = target.stage(new ByteArrayInputStream(tar()), null);
            try {
                List<String> stagedKeys = keys(b, ".jiffoo-restore-");
                assertThat(stagedKeys).hasSize(3);
                // what another restore's cleanup would do: delete part of this restore's staging
                b.delete(List.of(stagedKeys.get(0)));
                assertThatThrownBy(staged::commit)
                        .isInstanceOf(IntegrityException.class)
                        .hasMessageContaining("2 objects where this restore staged 3")
                        .hasMessageContaining("nothing in the target was changed");
            } finally {
                staged.close();
            }
            assertThat(keys(b, "")).containsExactly("keep.txt");
        }
    }

    @Test
    void aRestoresStartDeletesOnlyStagingPrefixesOlderThanADay() throws Exception {
        try (ObjectBucket b = open()) {
            String stamp = ZonedDateTime.now(ZoneOffset.UTC)
                    .minusHours(23)
                    .format(DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"));
            String young = ".jiffoo-restore-" + stamp + "-0123abcd/x.txt";
            String old = ".jiffoo-restore-20200101T000000Z-89abcdef/y.txt";
            String odd = ".jiffoo-restore-not-a-staging/z.txt";
            for (String k : List.of(young, old, odd)) {
                BucketFilesContract.put(b, k, k, "text/plain", Map.of());
            }
            try (StagedRestore staged =
                    BucketRestoreTarget.builder(b).build().stage(new ByteArrayInputStream(tar()), null)) {
                staged.commit();
            }
            assertThat(keys(b, "")).containsExactlyInAnyOrder(young, odd, "a.txt", "d/b.txt", "d/c.txt");
        }
    }

    @Test
    void onlyAPrefixNamedExactlyAsAStagingIsSkippedAndKeysThatStartAlikeAreBackedUpAndRestored() throws Exception {
        try (ObjectBucket b = open()) {
            String staging = ".jiffoo-restore-20200101T000000Z-89abcdef/y.txt";
            List<String> users = List.of(
                    ".jiffoo-restore-notes.txt",
                    ".jiffoo-restore-notes/a.txt",
                    ".jiffoo-restore-20200101T000000Z-89abcdef.txt",
                    ".jiffoo-restore-20200101T000000Z-XYZ/b.txt",
                    "media/x.txt");
            for (String k : users) {
                BucketFilesContract.put(b, k, k, "text/plain", Map.of());
            }
            BucketFilesContract.put(b, staging, "staged", "text/plain", Map.of());

            Path archive = tmp.resolve("bucket.tar");
            try (var out = Files.newOutputStream(archive)) {
                Map<String, Object> facts = BucketSource.builder(b)
                        .compression(Compression.NONE)
                        .build()
                        .writeTo(out);
                assertThat(facts).containsEntry("fileCount", 5L);
            }
            String listing = BucketFilesContract.sh(tmp, "tar -tf " + archive);
            assertThat(listing.lines().filter(l -> !l.endsWith("/")))
                    .as("GNU tar's listing of the backup")
                    .containsExactlyInAnyOrderElementsOf(users);

            try (ObjectBucket restored = BucketFilesContract.bucket(S3PROXY.server(), "restored-" + System.nanoTime());
                    StagedRestore staged =
                            BucketRestoreTarget.builder(restored).build().stage(Files.newInputStream(archive), null)) {
                staged.commit();
                assertThat(keys(restored, "")).containsExactlyInAnyOrderElementsOf(users);
            }
        }
    }
}
