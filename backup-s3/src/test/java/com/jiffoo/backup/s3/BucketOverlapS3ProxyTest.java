package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.BucketRestoreTarget;
import com.jiffoo.backup.files.BucketSource;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.ObjectBucket;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A library user (no command line) who backs up a bucket that holds the store, or restores into the store's prefix,
 * is refused by the pipelines themselves, against S3Proxy, before anything is written: the store (and each copy)
 * stays as it was, with no object and no open upload.
 */
class BucketOverlapS3ProxyTest {
    @RegisterExtension
    static final S3ProxyServer.PerClass S3PROXY = S3ProxyServer.perClass();

    private static final AtomicInteger RUN = new AtomicInteger();

    @TempDir
    Path tmp;

    private String root;

    private String root() {
        if (root == null) {
            root = "overlap-" + RUN.incrementAndGet() + "-" + System.nanoTime();
        }
        return root;
    }

    private S3Sink store(String prefix) {
        return S3SinkContractTest.sinkAt(S3PROXY.server(), root() + "/" + prefix)
                .build();
    }

    private ObjectBucket bucket(String prefix) {
        return BucketFilesContract.bucket(S3PROXY.server(), prefix.isEmpty() ? root() : root() + "/" + prefix);
    }

    private OpenPgpTransform pgp() {
        Path key = tmp.resolve("backup.key");
        if (!java.nio.file.Files.exists(key)) {
            PassphraseKeyFile.generate(key);
        }
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(key))
                .build();
    }

    private BackupPipeline backUp(ObjectBucket source, Sink store, Sink... copies) {
        BackupPipeline.Builder b = BackupPipeline.builder()
                .source(BucketSource.builder(source).build())
                .encryption(pgp())
                .sink(store);
        for (Sink c : copies) {
            b.copy(c);
        }
        return b.build();
    }

    private RestorePipeline restoreInto(ObjectBucket target, Sink store, Sink... protect) {
        return RestorePipeline.builder()
                .sink(store)
                .protect(List.of(protect))
                .decryption(pgp())
                .target(BucketRestoreTarget.builder(target)
                        .replaceExisting(true)
                        .build())
                .build();
    }

    private static List<StoredObject> objects(Sink s) throws Exception {
        return s.list("");
    }

    @Test
    void aBackupOfABucketThatHoldsTheStoreIsRefusedAndWritesNothing() throws Exception {
        try (S3Sink store = store("backups");
                ObjectBucket uploads = bucket("")) {
            BucketFilesContract.put(uploads, "media/a.txt", "a", "text/plain", Map.of());
            BackupPipeline pipeline = backUp(uploads, store);
            assertThatThrownBy(pipeline::run)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("Refusing to back up the bucket s3://"
                            + S3PROXY.server().bucket() + "/" + root())
                    .hasMessageContaining("it overlaps the backup store "
                            + store.bucketLocation().get())
                    .hasMessageContaining("it holds the store")
                    .hasMessageContaining("growing without bound")
                    .hasMessageContaining("Name a prefix outside the store");
            assertThat(objects(store)).isEmpty();
            assertThat(store.partialWrites("")).isEmpty();
        }
    }

    @Test
    void aBackupOfABucketThatHoldsACopyIsRefusedAndWritesInNoStore() throws Exception {
        LocalDirectorySink local = LocalDirectorySink.create(tmp.resolve("store"));
        try (S3Sink copy = store("uploads/.backups");
                ObjectBucket uploads = bucket("uploads")) {
            BucketFilesContract.put(uploads, "a.txt", "a", "text/plain", Map.of());
            BackupPipeline pipeline = backUp(uploads, local, copy);
            assertThatThrownBy(pipeline::run)
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("it overlaps the backup store "
                            + copy.bucketLocation().get());
            assertThat(objects(local)).isEmpty();
            assertThat(objects(copy)).isEmpty();
        }
    }

    @Test
    void aRestoreIntoTheStoresPrefixIsRefusedAndLeavesTheBackupsAlone() throws Exception {
        try (S3Sink store = store("backups");
                ObjectBucket media = bucket("media");
                ObjectBucket inside = bucket("backups/files")) {
            BucketFilesContract.put(media, "a.txt", "a", "text/plain", Map.of());
            BackupManifest made = backUp(media, store).run();
            List<StoredObject> before = objects(store);
            RestorePipeline restore = restoreInto(inside, store);
            assertThatThrownBy(() -> restore.restore(made.objectKey()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("Refusing to restore into the bucket " + inside.location())
                    .hasMessageContaining("it lies inside the store")
                    .hasMessageContaining("delete the objects the backup lacks");
            assertThat(objects(store)).isEqualTo(before);
        }
    }

    @Test
    void aRestoreIntoACopyTheCallerProtectsIsRefused() throws Exception {
        LocalDirectorySink local = LocalDirectorySink.create(tmp.resolve("store"));
        try (S3Sink copy = store("dr");
                ObjectBucket media = bucket("media");
                ObjectBucket intoCopy = bucket("dr")) {
            BucketFilesContract.put(media, "a.txt", "a", "text/plain", Map.of());
            BackupManifest made = backUp(media, local, copy).run();
            List<StoredObject> before = objects(copy);
            RestorePipeline restore = restoreInto(intoCopy, local, local, copy);
            assertThatThrownBy(() -> restore.restore(made.objectKey()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("it is the store");
            assertThat(objects(copy)).isEqualTo(before);
        }
    }

    @Test
    void aPrefixBesideTheStoreWhoseNameStartsTheSameIsBackedUpAndRestored() throws Exception {
        try (S3Sink store = store("back/ups");
                ObjectBucket beside = bucket("back/upsx");
                ObjectBucket into = bucket("back/up")) {
            BucketFilesContract.put(beside, "a.txt", "a", "text/plain", Map.of());
            BackupManifest made = backUp(beside, store).run();
            restoreInto(into, store).restore(made.objectKey());
            assertThat(BucketFilesContract.snapshot(into)).containsOnlyKeys("a.txt");
        }
    }
}
