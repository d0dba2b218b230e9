package com.jiffoo.backup.spring;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.BucketRestoreTarget;
import com.jiffoo.backup.files.BucketSource;
import com.jiffoo.backup.store.ObjectBucket;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * An application that backs up a bucket with the starter's facade ({@link JiffooBackup#backUp}) or restores into one
 * ({@link JiffooBackup#restore}) is refused when the bucket overlaps the store or a copy, as the command line is,
 * before the store or the bucket is contacted: the store is s3://shop/ROOT/backups and the copy s3://shop/ROOT/dr on a
 * server that is down (nothing listens on its port), so any request would fail with a storage error instead. (S3Proxy
 * cannot join this module's tests: Spring Boot's BOM moves its dependencies to versions the build does not have;
 * {@code BucketOverlapS3ProxyTest} in backup-s3 runs the same pipelines against it.)
 */
@SpringBootTest(classes = JiffooBackupBucketOverlapTest.App.class)
class JiffooBackupBucketOverlapTest {
    private static int deadPort;
    private static Path dir;
    private static final String ROOT = "boot-overlap-" + System.nanoTime();

    /** The application: nothing but auto-configuration. */
    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class App {}

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry r) throws Exception {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            deadPort = s.getLocalPort(); // closed again: connections are refused
        }
        dir = Files.createTempDirectory("jiffoo-boot-overlap");
        Path key = dir.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        r.add("jiffoo.backup.store", () -> "s3://shop/" + ROOT + "/backups");
        r.add("jiffoo.backup.copies", () -> "s3://shop/" + ROOT + "/dr");
        settings().forEach((k, v) -> r.add("jiffoo.backup.store-settings." + k, () -> v));
        r.add("jiffoo.backup.encryption.key-file", key::toString);
        r.add("jiffoo.backup.monitor.kinds", () -> "files");
    }

    private static Map<String, String> settings() {
        return Map.of(
                "S3_ENDPOINT", "http://127.0.0.1:" + deadPort,
                "S3_PATH_STYLE", "true",
                "AWS_REGION", "us-east-1",
                "AWS_ACCESS_KEY_ID", "test",
                "AWS_SECRET_ACCESS_KEY", "test-secret");
    }

    /** A bucket of the application's own (its uploads), opened as it would open it. */
    private static ObjectBucket bucket(String prefix) {
        StoreSettings view = name -> Optional.ofNullable(settings().get(name));
        return StoreProviders.openBucket("s3://shop/" + ROOT + "/" + prefix, view);
    }

    @AfterAll
    static void stop() throws Exception {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder())
                    .forEach(p -> p.toFile().delete());
        }
    }

    @Autowired
    JiffooBackup backups;

    @Test
    void aBucketThatHoldsTheStoreOrLiesInACopyIsRefusedBeforeAnythingIsContacted() throws Exception {
        try (ObjectBucket all = bucket("");
                ObjectBucket inCopy = bucket("dr/restored")) {
            // backing up ROOT, which holds the store and the copy
            assertThatThrownBy(() -> backups.backUp(BucketSource.builder(all).build()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("Refusing to back up the bucket " + all.location())
                    .hasMessageContaining("it holds the store");
            // restoring into the copy's prefix: refused though the restore reads from the store (and would fall back
            // to the copy), before either is read
            assertThatThrownBy(() -> backups.restore(
                            "files/files_backup_20260111_030000.tar.gz.gpg",
                            BucketRestoreTarget.builder(inCopy)
                                    .replaceExisting(true)
                                    .build()))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("Refusing to restore into the bucket " + inCopy.location())
                    .hasMessageContaining("it overlaps the backup store s3://shop/" + ROOT + "/dr")
                    .hasMessageContaining("it lies inside the store");
        }
    }
}
