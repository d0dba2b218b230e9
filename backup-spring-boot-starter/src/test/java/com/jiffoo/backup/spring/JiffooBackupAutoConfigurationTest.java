package com.jiffoo.backup.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.monitor.BackupMonitor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** What the auto-configuration creates, and when: nothing without a store; a clear start failure on a missing key. */
class JiffooBackupAutoConfigurationTest {
    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(
                    JiffooBackupAutoConfiguration.class,
                    JiffooBackupHealthAutoConfiguration.class,
                    JiffooBackupMetricsAutoConfiguration.class,
                    JiffooBackupSchedulingAutoConfiguration.class));

    @TempDir
    Path dir;

    @Test
    void createsNothingWithoutAStore() {
        runner.withPropertyValues("jiffoo.backup.files.source-directory=" + dir).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).doesNotHaveBean(JiffooBackup.class);
            assertThat(context).doesNotHaveBean(BackupStores.class);
            assertThat(context).doesNotHaveBean(BackupMonitor.class);
            assertThat(context).doesNotHaveBean(BackupHealthIndicator.class);
            assertThat(context).doesNotHaveBean(BackupMetrics.class);
            assertThat(context).doesNotHaveBean(BackupJobs.class);
        });
    }

    @Test
    void createsTheBeansFromTheProperties() throws IOException {
        Path key = dir.resolve("backup.key");
        com.jiffoo.backup.crypto.PassphraseKeyFile.generate(key);
        Files.createDirectories(dir.resolve("store"));
        runner.withPropertyValues(
                        "jiffoo.backup.store=" + dir.resolve("store"),
                        "jiffoo.backup.encryption.key-file=" + key,
                        "jiffoo.backup.monitor.kinds=database,files")
                .run(context -> {
                    assertThat(context).hasSingleBean(JiffooBackup.class);
                    assertThat(context).hasSingleBean(OpenPgpTransform.class);
                    assertThat(context.getBean(BackupMonitor.class).kinds()).containsExactly("database", "files");
                    assertThat(context).hasSingleBean(BackupHealthIndicator.class);
                    assertThat(context).hasSingleBean(BackupMetrics.class);
                    assertThat(context.getBean(BackupJobs.class).schedule()).isEmpty(); // nothing scheduled
                    assertThat(context.getBean(BackupJobs.class).isRunning()).isFalse();
                });
    }

    @Test
    void refusesAWrongCronExpressionOrAScheduleWithoutADatabaseForTheLock() throws IOException {
        Path key = dir.resolve("backup.key");
        com.jiffoo.backup.crypto.PassphraseKeyFile.generate(key);
        Files.createDirectories(dir.resolve("store"));
        ApplicationContextRunner configured = runner.withPropertyValues(
                "jiffoo.backup.store=" + dir.resolve("store"),
                "jiffoo.backup.encryption.key-file=" + key,
                "jiffoo.backup.files.source-directory=" + dir);
        configured
                .withPropertyValues(
                        "jiffoo.backup.schedule.files=every night", "jiffoo.backup.schedule.lock.enabled=false")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(context.getStartupFailure())
                            .rootCause()
                            .hasMessageContaining("jiffoo.backup.schedule.files is 'every night'");
                });
        configured
                .withPropertyValues("jiffoo.backup.schedule.files=0 0 2 * * *")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(context.getStartupFailure())
                            .rootCause()
                            .hasMessageContaining("no database for the lock")
                            .hasMessageContaining("jiffoo.backup.schedule.lock.enabled=false");
                });
        // the application's DataSource serves the lock; unless told not to use it
        configured
                .withBean(javax.sql.DataSource.class, org.postgresql.ds.PGSimpleDataSource::new)
                .withPropertyValues("jiffoo.backup.schedule.files=0 0 2 * * *")
                .run(context -> assertThat(context).hasNotFailed());
        configured
                .withBean(javax.sql.DataSource.class, org.postgresql.ds.PGSimpleDataSource::new)
                .withPropertyValues(
                        "jiffoo.backup.schedule.files=0 0 2 * * *", "jiffoo.backup.schedule.lock.data-source=false")
                .run(context -> assertThat(context.getStartupFailure())
                        .rootCause()
                        .hasMessageContaining("no database for the lock"));
        configured
                .withPropertyValues(
                        "jiffoo.backup.schedule.files=0 0 2 * * *",
                        "jiffoo.backup.schedule.zone=Europe/Berlin",
                        "jiffoo.backup.schedule.lock.enabled=false")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context.getBean(BackupJobs.class).schedule()).containsEntry("files", "0 0 2 * * *");
                    assertThat(context.getBean(BackupJobs.class).isRunning()).isTrue();
                });
    }

    /**
     * Two replicas that spell the same store differently (a trailing slash, {@code file:} or not, {@code ./} in the
     * path; an upper-case scheme and a trailing slash in s3://) take the same advisory locks: the keys derive from
     * the opened store's location, not from the configured string.
     */
    @Test
    void theLockKeysDoNotDependOnHowTheStoreIsSpelled() throws IOException {
        Path key = dir.resolve("backup.key");
        com.jiffoo.backup.crypto.PassphraseKeyFile.generate(key);
        Path store = Files.createDirectories(dir.resolve("store"));
        java.util.List<Long> local = new java.util.ArrayList<>();
        for (String spelled : java.util.List.of(
                store.toString(),
                store + "/",
                "file:" + store,
                "file:" + store + "/",
                "file://" + store,
                dir + "/./store")) {
            lockKey(key, local, "jiffoo.backup.store=" + spelled);
        }
        assertThat(local).hasSize(6).containsOnly(local.get(0));
        java.util.List<Long> s3 = new java.util.ArrayList<>();
        for (String spelled : java.util.List.of(
                "s3://shop-backups/prod", "S3://shop-backups/prod/", "s3://shop-backups/prod?region=us-east-1")) {
            lockKey(
                    key,
                    s3,
                    "jiffoo.backup.store=" + spelled,
                    "jiffoo.backup.store-settings.S3_ENDPOINT=http://127.0.0.1:9",
                    "jiffoo.backup.store-settings.AWS_REGION=us-east-1",
                    "jiffoo.backup.store-settings.AWS_ACCESS_KEY_ID=test",
                    "jiffoo.backup.store-settings.AWS_SECRET_ACCESS_KEY=test-secret");
        }
        assertThat(s3).hasSize(3).containsOnly(s3.get(0)).doesNotContain(local.get(0));
    }

    private void lockKey(Path key, java.util.List<Long> keys, String... store) {
        runner.withPropertyValues(store)
                .withPropertyValues(
                        "jiffoo.backup.encryption.key-file=" + key,
                        "jiffoo.backup.monitor.kinds=files",
                        "jiffoo.backup.files.source-directory=" + dir)
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    keys.add(context.getBean(BackupJobs.class).lockKey("files"));
                });
    }

    @Test
    void refusesToStartWithoutAKeyAndNamesTheProperty() {
        runner.withPropertyValues("jiffoo.backup.store=" + dir, "jiffoo.backup.monitor.kinds=files")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(context.getStartupFailure())
                            .rootCause()
                            .hasMessageContaining("jiffoo.backup.encryption.key-file is not set");
                });
    }

    @Test
    void shipsConfigurationMetadataForIdeCompletion() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            assertThat(in).isNotNull();
            String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertThat(json)
                    .contains("\"jiffoo.backup.store\"")
                    .contains("\"jiffoo.backup.encryption.key-file\"")
                    .contains("\"jiffoo.backup.health.cache-ttl\"")
                    .contains("\"jiffoo.backup.monitor.max-age\"")
                    .contains("\"jiffoo.backup.monitor.wal-max-lag\"")
                    .contains("\"jiffoo.backup.schedule.database\"")
                    .contains("\"jiffoo.backup.schedule.lock.enabled\"")
                    .contains("\"jiffoo.backup.schedule.lock.check-interval\"")
                    .contains("\"jiffoo.backup.schedule.drill\"")
                    .contains("\"jiffoo.backup.drill.rto-target\"")
                    .doesNotContain("{@"); // an IDE shows the description as it is: plain text
        }
    }
}
