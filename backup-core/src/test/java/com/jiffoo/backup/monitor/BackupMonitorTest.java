package com.jiffoo.backup.monitor;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.GpgCli;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackupMonitorTest {
    private static final Instant AT = Instant.parse("2026-01-11T02:00:00Z");
    private static final Clock LATER = Clock.fixed(AT.plus(Duration.ofHours(1)), ZoneOffset.UTC);

    @TempDir
    Path dir;

    @Test
    void aPublicKeyOnlyHostReportsNoKeyNotALostKey() throws Exception {
        assertThat(GpgCli.available()).as("needs the gpg CLI").isTrue();
        try (GpgCli gpg = GpgCli.create(dir.resolve("gnupg"))) {
            Path keyPass = TestKeys.keyFile(dir, "keypass");
            GpgCli.Key key = gpg.generateCurve25519Key("backup@example.com", keyPass);
            Path pub = gpg.exportPublicKey(key, dir.resolve("backup.pub.asc"), true);
            Path signer = TestKeys.keyFile(dir, "signpass");
            GpgCli.Key signing = gpg.generateSigningOnlyKey("backup-host@example.com", signer);
            Path signingSecret = gpg.exportSecretKey(signing, dir.resolve("signing.sec.asc"), true, signer);
            // the backup host: the recipients' public key and its own signing key, no decryption key
            OpenPgpTransform publicOnly = OpenPgpTransform.builder()
                    .recipient(pub)
                    .signingKey(
                            signingSecret,
                            java.nio.file.Files.readString(signer).strip().toCharArray())
                    .build();
            LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"));
            BackupManifest m = BackupPipeline.builder()
                    .source(new GeneratedSource("database", 100_000, 1))
                    .sink(store)
                    .encryption(publicOnly)
                    .clock(Clock.fixed(AT, ZoneOffset.UTC))
                    .build()
                    .run();

            // the backup host configures the monitor with the transform it backs up with
            BackupMonitor monitor = BackupMonitor.builder()
                    .sink(store)
                    .kinds("database")
                    .clock(LATER)
                    .requireVerificationWithin(null)
                    .transforms(List.of(publicOnly))
                    .build();
            HealthReport report = monitor.runHealthChecks();
            assertThat(report.kinds().get(0).keyCheck()).isEqualTo(KindHealth.KeyCheck.NO_KEY);
            assertThat(report.status()).as(report.summaryLines().toString()).isEqualTo(HealthStatus.OK);

            // and verification is quick, as without a key, rather than failing to decrypt
            VerificationRecord v = monitor.verifyBackupIntegrity(m.objectKey());
            assertThat(v.passed()).isTrue();
            assertThat(v.deep()).isFalse();
        }
    }

    @Test
    void aNewestBackupWhoseDataIsGoneOrCutShortIsNotReportedOk() throws Exception {
        LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"));
        BackupManifest m = BackupPipeline.builder()
                .source(new GeneratedSource("files", 100_000, 1))
                .sink(store)
                .unencrypted()
                .clock(Clock.fixed(AT, ZoneOffset.UTC))
                .build()
                .run();
        BackupMonitor monitor =
                BackupMonitor.builder().sink(store).kinds("files").clock(LATER).build();
        assertThat(monitor.verifyBackupIntegrity(m.objectKey()).passed()).isTrue();
        assertThat(monitor.runHealthChecks().status()).isEqualTo(HealthStatus.OK);

        // the data object is cut short in the store (manifest, sidecar and the passed record are untouched)
        byte[] data;
        try (var in = store.open(m.objectKey())) {
            data = in.readAllBytes();
        }
        store.delete(m.objectKey());
        try (var out = store.create(m.objectKey())) {
            out.write(java.util.Arrays.copyOf(data, data.length / 2));
            out.commit();
        }
        HealthReport cut = monitor.runHealthChecks();
        assertThat(cut.status()).as(cut.summaryLines().toString()).isEqualTo(HealthStatus.CRITICAL);

        store.delete(m.objectKey());
        HealthReport gone = monitor.runHealthChecks();
        assertThat(gone.status()).as(gone.summaryLines().toString()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(gone.kinds().get(0).findings()).anySatisfy(f -> {
            assertThat(f.check()).isEqualTo("data-object");
            assertThat(f.status()).isEqualTo(HealthStatus.CRITICAL);
            assertThat(f.message()).contains("missing");
        });
        assertThat(gone.toJson()).contains("{\"check\":\"data-object\",\"status\":\"CRITICAL\",");
    }

    @Test
    void aPassingQuickVerificationAfterAFailedDeepOneDoesNotMakeTheNewestBackupOk() throws Exception {
        LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"));
        BackupManifest m = BackupPipeline.builder()
                .source(new GeneratedSource("files", 100_000, 1))
                .sink(store)
                .unencrypted()
                .clock(Clock.fixed(AT, ZoneOffset.UTC))
                .build()
                .run();
        Path object = dir.resolve("store").resolve(m.objectKey());
        byte[] intact = java.nio.file.Files.readAllBytes(object);
        java.util.function.IntFunction<BackupMonitor> at = minutes -> BackupMonitor.builder()
                .sink(store)
                .kinds("files")
                .clock(Clock.fixed(AT.plus(Duration.ofMinutes(minutes)), ZoneOffset.UTC))
                .build();

        byte[] damaged = intact.clone();
        damaged[50_000] ^= 0x01; // one bit, as a failing disk flips it
        java.nio.file.Files.write(object, damaged);
        assertThat(at.apply(10).verifyBackupIntegrity(m.objectKey(), true).passed())
                .isFalse();
        java.nio.file.Files.write(object, intact); // the bytes are back, but nobody has decrypted them since
        assertThat(at.apply(20).verifyBackupIntegrity(m.objectKey(), false).passed())
                .isTrue();
        HealthReport masked = at.apply(30).runHealthChecks();
        assertThat(masked.status()).as(masked.summaryLines().toString()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(masked.kinds().get(0).problems())
                .anySatisfy(p -> assertThat(p)
                        .contains("failed its last deep verification")
                        .contains("A later quick verification passed")
                        .contains("verify --deep"));
        assertThat(masked.kinds().get(0).lastPassedVerification())
                .as("a pass that a failure outweighs")
                .isNull();

        assertThat(at.apply(40).verifyBackupIntegrity(m.objectKey(), true).passed())
                .isTrue();
        HealthReport cleared = at.apply(50).runHealthChecks();
        assertThat(cleared.status()).as(cleared.summaryLines().toString()).isEqualTo(HealthStatus.OK);
    }

    @Test
    void aMonitorOfOtherKindsInTheSameStoreIsNoRecovery() {
        LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"));
        BackupPipeline.builder()
                .source(new GeneratedSource("database", 1000, 1))
                .sink(store)
                .unencrypted()
                .clock(Clock.fixed(AT.minus(Duration.ofDays(3)), ZoneOffset.UTC))
                .build()
                .run(); // stale
        BackupPipeline.builder()
                .source(new GeneratedSource("files", 1000, 2))
                .sink(store)
                .unencrypted()
                .clock(Clock.fixed(AT, ZoneOffset.UTC))
                .build()
                .run();
        List<Alert> sent = new java.util.ArrayList<>();
        Notifier recording = new Notifier() {
            @Override
            public void send(Alert alert) {
                sent.add(alert);
            }

            @Override
            public String describe() {
                return "recording";
            }
        };
        // two jobs watch one store: one the database backups, one the files backups
        HealthReport db = BackupMonitor.builder()
                .sink(store)
                .kinds("database")
                .clock(LATER)
                .requireVerificationWithin(null)
                .notifier(recording)
                .build()
                .runHealthChecks();
        assertThat(db.status()).isEqualTo(HealthStatus.CRITICAL);
        HealthReport files = BackupMonitor.builder()
                .sink(store)
                .kinds("files")
                .clock(LATER)
                .requireVerificationWithin(null)
                .notifier(recording)
                .build()
                .runHealthChecks();
        assertThat(files.status()).isEqualTo(HealthStatus.OK);
        assertThat(sent)
                .extracting(Alert::recovery)
                .as("the database backups have not recovered")
                .containsExactly(false);
    }

    @Test
    void aSinkThatFailsWithAnUncheckedExceptionStillGivesAReport() {
        LocalDirectorySink local = LocalDirectorySink.create(dir.resolve("store"));
        BackupPipeline.builder()
                .source(new GeneratedSource("files", 1000, 2))
                .sink(local)
                .unencrypted()
                .clock(Clock.fixed(AT, ZoneOffset.UTC))
                .build()
                .run();
        // e.g. a sink that was closed, or a client library's unchecked error
        com.jiffoo.backup.Sink broken = new com.jiffoo.backup.Sink() {
            @Override
            public String location() {
                return local.location();
            }

            @Override
            public com.jiffoo.backup.SinkOutput create(String key) throws java.io.IOException {
                return local.create(key);
            }

            @Override
            public java.io.InputStream open(String key) {
                throw new IllegalStateException("the sink for " + location() + " is closed");
            }

            @Override
            public List<com.jiffoo.backup.StoredObject> list(String prefix) throws java.io.IOException {
                return local.list(prefix);
            }

            @Override
            public void delete(String key) throws java.io.IOException {
                local.delete(key);
            }

            @Override
            public void close() {}
        };
        HealthReport report = BackupMonitor.builder()
                .sink(broken)
                .kinds("files")
                .clock(LATER)
                .build()
                .runHealthChecks();
        assertThat(report.status()).isEqualTo(HealthStatus.CRITICAL);
        assertThat(report.kinds().get(0).findings())
                .as("names the check that could not run")
                .anySatisfy(f -> assertThat(f.message())
                        .startsWith("the " + f.check() + " check could not run")
                        .contains("is closed"));
        assertThat(BackupMonitor.builder()
                        .sink(broken)
                        .kinds("files")
                        .clock(LATER)
                        .build()
                        .checkBackupFreshness()
                        .status())
                .isEqualTo(HealthStatus.CRITICAL);
    }
}
