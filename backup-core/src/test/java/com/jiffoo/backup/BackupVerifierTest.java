package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.ScriptedSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackupVerifierTest {
    @TempDir
    Path dir;

    @Test
    void quickAndDeepVerificationPassOnAGoodBackupAndCatchAFlippedByte() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupManifest m = BackupPipeline.builder()
                .source(new GeneratedSource("files", 1_000_000, 13))
                .sink(sink)
                .unencrypted()
                .build()
                .run();
        BackupVerifier verifier = BackupVerifier.builder().sink(sink).build();
        assertThat(verifier.verify(m.objectKey(), false).deep()).isFalse();
        assertThat(verifier.verify(m.objectKey(), true).deep()).isTrue();

        RestorePipelineTest.flipByte(dir.resolve(m.objectKey()), 999_999);
        assertThatThrownBy(() -> verifier.verify(m.objectKey(), false))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("damaged");
        assertThatThrownBy(() -> verifier.verify(m.objectKey(), true))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("does not match its manifest");
    }

    @Test
    void eachOutcomeIsRecordedNextToTheBackupAndOnlyTheNewestTenAreKept() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupManifest m = BackupPipeline.builder()
                .source(new GeneratedSource("files", 10_000, 1))
                .sink(sink)
                .unencrypted()
                .build()
                .run();
        Instant t0 = Instant.parse("2026-02-01T04:00:00Z");
        for (int i = 0; i < 12; i++) {
            BackupVerifier.builder()
                    .sink(sink)
                    .clock(Clock.fixed(t0.plus(Duration.ofDays(i)), ZoneOffset.UTC))
                    .build()
                    .verify(m.objectKey(), i % 2 == 0);
        }
        List<VerificationRecord> records = StoredBackups.of(sink).verifications(m);
        assertThat(records).hasSize(VerificationRecord.RECORDS_KEPT);
        assertThat(records.get(0).verifiedAt()).isEqualTo(t0.plus(Duration.ofDays(11)));
        assertThat(records.get(0).deep()).isFalse();
        assertThat(records.get(9).verifiedAt()).isEqualTo(t0.plus(Duration.ofDays(2)));
        assertThat(records).allSatisfy(r -> assertThat(r.passed()).isTrue());
        assertThat(sink.list(m.objectKey())).hasSize(3 + 10);

        RestorePipelineTest.flipByte(dir.resolve(m.objectKey()), 5);
        BackupVerifier late = BackupVerifier.builder()
                .sink(sink)
                .clock(Clock.fixed(t0.plus(Duration.ofDays(20)), ZoneOffset.UTC))
                .build();
        assertThatThrownBy(() -> late.verify(m.objectKey(), false)).isInstanceOf(IntegrityException.class);
        VerificationRecord failed = StoredBackups.of(sink).lastVerification(m).orElseThrow();
        assertThat(failed.passed()).isFalse();
        assertThat(failed.errorCode()).isEqualTo("INTEGRITY");
        assertThat(failed.message()).contains("damaged");
        assertThat(failed.backupId()).isEqualTo(m.id());

        assertThatThrownBy(() -> BackupVerifier.builder()
                        .sink(sink)
                        .recordResults(false)
                        .build()
                        .verify(m.manifestKey(), true))
                .isInstanceOf(IntegrityException.class);
        assertThat(StoredBackups.of(sink).lastVerification(m).orElseThrow()).isEqualTo(failed);
        // a record cannot be mistaken for a backup, nor hide one
        assertThat(StoredBackups.of(sink).committed("files"))
                .extracting(BackupManifest::id)
                .containsExactly(m.id());
    }

    @Test
    void aPassingQuickVerificationDoesNotClearAFailedDeepOneButAPassingDeepOneDoes() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupManifest m = BackupPipeline.builder()
                .source(new GeneratedSource("files", 100_000, 4))
                .sink(sink)
                .unencrypted()
                .build()
                .run();
        Path object = dir.resolve(m.objectKey());
        byte[] intact = Files.readAllBytes(object);
        Instant t0 = Instant.parse("2026-02-01T04:00:00Z");
        java.util.function.IntFunction<BackupVerifier> at = h -> BackupVerifier.builder()
                .sink(sink)
                .clock(Clock.fixed(t0.plus(Duration.ofHours(h)), ZoneOffset.UTC))
                .build();
        StoredBackups backups = StoredBackups.of(sink);

        RestorePipelineTest.flipByte(object, 50_000);
        assertThatThrownBy(() -> at.apply(1).verify(m.objectKey(), true)).isInstanceOf(IntegrityException.class);
        Files.write(object, intact); // put back from a copy, say; a quick check cannot tell what the deep one saw
        at.apply(2).verify(m.objectKey(), false);
        assertThat(backups.lastVerification(m).orElseThrow().passed()).isTrue();
        VerificationRecord standing = backups.standingVerification(m).orElseThrow();
        assertThat(standing.passed()).isFalse();
        assertThat(standing.deep()).isTrue();
        assertThat(standing.verifiedAt()).isEqualTo(t0.plus(Duration.ofHours(1)));

        at.apply(3).verify(m.objectKey(), true);
        assertThat(backups.standingVerification(m).orElseThrow())
                .satisfies(r -> assertThat(r.passed()).isTrue())
                .satisfies(r -> assertThat(r.deep()).isTrue());

        // a later failure of any mode stands over an earlier pass; a quick failure is cleared by a quick pass
        RestorePipelineTest.flipByte(object, 50_000);
        assertThatThrownBy(() -> at.apply(4).verify(m.objectKey(), false)).isInstanceOf(IntegrityException.class);
        assertThat(backups.standingVerification(m).orElseThrow())
                .satisfies(r -> assertThat(r.passed()).isFalse())
                .satisfies(r -> assertThat(r.deep()).isFalse());
        Files.write(object, intact);
        at.apply(5).verify(m.objectKey(), false);
        assertThat(backups.standingVerification(m).orElseThrow().verifiedAt()).isEqualTo(t0.plus(Duration.ofHours(5)));
    }

    @Test
    void aVerifierThatCannotWriteStillVerifies() throws Exception {
        LocalDirectorySink local = LocalDirectorySink.create(dir);
        BackupManifest m = BackupPipeline.builder()
                .source(new GeneratedSource("files", 10_000, 2))
                .sink(local)
                .unencrypted()
                .build()
                .run();
        ScriptedSink readOnly = new ScriptedSink(local).failCommitOf(k -> true);
        VerificationResult r = BackupVerifier.builder().sink(readOnly).build().verify(m.objectKey(), true);
        assertThat(r.deep()).isTrue();
        assertThat(StoredBackups.of(local).verifications(m)).isEmpty();
    }

    @Test
    void theKeyCheckDecryptsOnlyTheFirstBlocksAndTellsAWrongKey() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase("right".toCharArray(), "k")
                .build();
        BackupManifest m = BackupPipeline.builder()
                .source(new GeneratedSource("files", 3_000_000, 3))
                .sink(sink)
                .encryption(pgp)
                .build()
                .run();
        assertThat(BackupVerifier.builder()
                        .sink(sink)
                        .transforms(List.of(pgp))
                        .build()
                        .checkKey(m.objectKey(), 4096))
                .isEqualTo(4096);
        OpenPgpTransform wrong = OpenPgpTransform.builder()
                .passphrase("wrong".toCharArray(), "k")
                .build();
        // a wrong key file cannot authenticate the manifest either: refused before decryption, naming the key file
        assertThatThrownBy(() -> BackupVerifier.builder()
                        .sink(sink)
                        .transforms(List.of(wrong))
                        .build()
                        .checkKey(m.objectKey(), 4096))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not the one the backups are made with");
        // authenticated by one key (a signer's), decrypted with another: the key check tells the wrong key
        assertThatThrownBy(() -> BackupVerifier.builder()
                        .sink(sink)
                        .transforms(List.of(wrong))
                        .trust(BackupTrust.of(List.of(pgp)))
                        .build()
                        .checkKey(m.objectKey(), 4096))
                .isInstanceOf(DecryptionException.class);
        assertThatThrownBy(() -> BackupVerifier.builder().sink(sink).build().checkKey(m.objectKey(), 4096))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("decryption key");
        assertThat(sink.list(m.objectKey()))
                .hasSize(4); // data, sidecar, manifest, signature: the key check records nothing
    }

    @Test
    void aStoreThatFailsMidReadIsNoVerdictOnTheBackup() throws Exception {
        LocalDirectorySink local = LocalDirectorySink.create(dir);
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase("k".repeat(20).toCharArray(), "test")
                .build();
        BackupManifest m = BackupPipeline.builder()
                .source(new GeneratedSource("files", 1_000_000, 3))
                .sink(local)
                .encryption(pgp)
                .build()
                .run();
        // the connection to the store drops after 300 kB (a reset, a timeout)
        Sink flaky = new Sink() {
            @Override
            public String location() {
                return local.location();
            }

            @Override
            public SinkOutput create(String key) throws java.io.IOException {
                return local.create(key);
            }

            @Override
            public java.io.InputStream open(String key) throws java.io.IOException {
                java.io.InputStream in = local.open(key);
                if (!key.equals(m.objectKey())) {
                    return in;
                }
                return new java.io.FilterInputStream(in) {
                    private long read;

                    @Override
                    public int read(byte[] b, int off, int len) throws java.io.IOException {
                        if (read > 300_000) {
                            throw new java.net.SocketException("Connection reset");
                        }
                        int n = super.read(b, off, len);
                        read += Math.max(n, 0);
                        return n;
                    }
                };
            }

            @Override
            public List<StoredObject> list(String prefix) throws java.io.IOException {
                return local.list(prefix);
            }

            @Override
            public void delete(String key) throws java.io.IOException {
                local.delete(key);
            }

            @Override
            public void close() {}
        };
        BackupVerifier verifier =
                BackupVerifier.builder().sink(flaky).transforms(List.of(pgp)).build();
        assertThatThrownBy(() -> verifier.verify(m.objectKey(), true)).isInstanceOf(StorageException.class);
        assertThat(StoredBackups.of(local).verifications(m))
                .as("no failed verdict on an intact backup")
                .isEmpty();
        assertThatThrownBy(() -> verifier.checkKey(m.objectKey(), 500_000))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("Check that the store is reachable");
    }
}
