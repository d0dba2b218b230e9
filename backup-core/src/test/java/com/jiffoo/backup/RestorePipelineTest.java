package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.MemoryTarget;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RestorePipelineTest {
    @TempDir
    Path dir;

    private LocalDirectorySink sink;
    private GeneratedSource source;
    private BackupManifest manifest;

    @BeforeEach
    void backUp() {
        sink = LocalDirectorySink.create(dir);
        source = new GeneratedSource("files", 2_000_000, 11);
        manifest = BackupPipeline.builder()
                .source(source)
                .sink(sink)
                .unencrypted()
                .clock(Clock.fixed(Instant.parse("2026-01-11T03:00:00Z"), ZoneOffset.UTC))
                .build()
                .run();
    }

    private RestoreResult restore(MemoryTarget target, String key) {
        return RestorePipeline.builder().sink(sink).target(target).build().restore(key);
    }

    /** As {@link #restore}, with a 4 KiB buffer: a target that fails early stops the pipeline mid-stream. */
    private RestoreResult restoreSmallBuffer(MemoryTarget target, String key) {
        return RestorePipeline.builder()
                .sink(sink)
                .target(target)
                .bufferChunkSize(4096)
                .bufferChunks(1)
                .build()
                .restore(key);
    }

    @Test
    void restoresTheSameBytes() throws Exception {
        MemoryTarget target = new MemoryTarget();
        RestoreResult r = restore(target, manifest.objectKey());
        try (InputStream expected = source.stream()) {
            assertThat(target.committed()).isEqualTo(expected.readAllBytes());
        }
        assertThat(r.manifest().objectSha256()).isEqualTo(manifest.objectSha256());
        assertThat(r.facts()).containsEntry("bytes", 2_000_000L);
    }

    @Test
    void aTargetThatRefusesAtCheckReadyGetsNoByteAndItsRefusalReachesTheCaller() throws Exception {
        com.jiffoo.backup.testutil.ScriptedSink counting = new com.jiffoo.backup.testutil.ScriptedSink(sink);
        ConfigurationException refusal = new ConfigurationException("the database exists");
        java.util.List<String> calls = new java.util.ArrayList<>();
        RestoreTarget refusing = new RestoreTarget() {
            @Override
            public String describe() {
                return "a refusing target";
            }

            @Override
            public void checkReady(BackupManifest m) {
                calls.add("checkReady " + m.objectKey());
                throw refusal;
            }

            @Override
            public StagedRestore stage(InputStream plaintext, BackupManifest m) {
                calls.add("stage");
                throw new AssertionError("staged after a refusal");
            }
        };
        assertThatThrownBy(() -> RestorePipeline.builder()
                        .sink(counting)
                        .target(refusing)
                        .build()
                        .restoreLatest("files"))
                .isSameAs(refusal);
        assertThat(calls).containsExactly("checkReady " + manifest.objectKey());
        assertThat(counting.bytesRead(manifest.objectKey()))
                .as("not a byte of the backup's content was read")
                .isZero();

        // a target that is ready: checkReady comes once, before stage
        MemoryTarget ready = new MemoryTarget();
        RestorePipeline.builder().sink(counting).target(ready).build().restoreLatest("files");
        assertThat(counting.bytesRead(manifest.objectKey())).isEqualTo(manifest.objectSize());
    }

    @Test
    void acceptsTheManifestOrSidecarKeyToo() {
        assertThat(restore(new MemoryTarget(), manifest.manifestKey())
                        .manifest()
                        .objectKey())
                .isEqualTo(manifest.objectKey());
        assertThat(restore(new MemoryTarget(), manifest.sha256Key()).manifest().objectKey())
                .isEqualTo(manifest.objectKey());
    }

    @Test
    void restoreLatestPicksTheNewestCommittedBackup() {
        BackupManifest newer = BackupPipeline.builder()
                .source(new GeneratedSource("files", 10, 12))
                .sink(sink)
                .unencrypted()
                .clock(Clock.fixed(Instant.parse("2026-01-12T03:00:00Z"), ZoneOffset.UTC))
                .build()
                .run();
        MemoryTarget target = new MemoryTarget();
        RestoreResult r =
                RestorePipeline.builder().sink(sink).target(target).build().restoreLatest("files");
        assertThat(r.manifest().objectKey()).isEqualTo(newer.objectKey());
    }

    @Test
    void flippedByteIsCaughtAndNothingIsCommitted() throws Exception {
        flipByte(dir.resolve(manifest.objectKey()), 1_000_000);
        MemoryTarget target = new MemoryTarget();
        assertThatThrownBy(() -> restore(target, manifest.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("does not match its manifest")
                .hasMessageContaining("nothing was restored");
        assertThat(target.committed()).isNull();
        // the check runs before the target sees the end of its stream: it got an error, not an end, so it never
        // finished staging (a pg_restore in one transaction is killed and rolls back)
        assertThat(target.discarded()).isFalse();
    }

    @Test
    void truncatedObjectIsCaught() throws Exception {
        try (RandomAccessFile f =
                new RandomAccessFile(dir.resolve(manifest.objectKey()).toFile(), "rw")) {
            f.setLength(1_500_000);
        }
        MemoryTarget target = new MemoryTarget();
        assertThatThrownBy(() -> restore(target, manifest.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("1500000 bytes");
        assertThat(target.committed()).isNull();
    }

    @Test
    void unsafeTargetIsNotTouchedWhenTheBackupIsDamaged() throws Exception {
        flipByte(dir.resolve(manifest.objectKey()), 10);
        MemoryTarget target = new MemoryTarget().unsafe();
        assertThatThrownBy(() -> restore(target, manifest.objectKey())).isInstanceOf(IntegrityException.class);
        assertThat(target.discarded()).isFalse(); // never staged: verification failed first
        assertThat(target.committed()).isNull();
    }

    @Test
    void missingManifestMeansTheBackupIsIncomplete() throws Exception {
        Files.delete(dir.resolve(manifest.manifestKey()));
        assertThatThrownBy(() -> restore(new MemoryTarget(), manifest.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("has no manifest")
                .hasMessageContaining("never completed");
    }

    @Test
    void unknownBackupIsNotFound() {
        assertThatThrownBy(() -> restore(new MemoryTarget(), "files/files_backup_19990101_000000.bin"))
                .isInstanceOf(NotFoundException.class)
                .hasMessageContaining("list the store");
    }

    @Test
    void garbledManifestIsRefusedWithAClearMessage() throws Exception {
        Files.writeString(dir.resolve(manifest.manifestKey()), "{\"formatVersion\": 1, \"id\": ");
        assertThatThrownBy(() -> restore(new MemoryTarget(), manifest.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("cannot be read")
                .hasMessageContaining("not valid JSON");
        Files.writeString(dir.resolve(manifest.manifestKey()), "{\"formatVersion\": 1}");
        assertThatThrownBy(() -> restore(new MemoryTarget(), manifest.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("field 'object' is missing");
    }

    @Test
    void swappedSidecarIsCaughtByTheManifest() throws Exception {
        Files.writeString(
                dir.resolve(manifest.sha256Key()),
                "0".repeat(64) + "  " + dir.resolve(manifest.objectKey()).getFileName() + "\n");
        assertThatThrownBy(() -> restore(new MemoryTarget(), manifest.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("disagrees with the manifest");
    }

    @Test
    void targetFailureIsReportedAndNothingCommitted() {
        MemoryTarget target = new MemoryTarget().failingAfter(100_000);
        assertThatThrownBy(() -> restore(target, manifest.objectKey()))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("refused the content on purpose");
        assertThat(target.committed()).isNull();
    }

    @Test
    void aTargetChokingOnDamagedDataDoesNotHideTheDamage() throws Exception {
        // the damage lies after the point where the target gives up, as pg_restore gives up at a garbled block
        flipByte(dir.resolve(manifest.objectKey()), 1_500_000);
        MemoryTarget target = new MemoryTarget().failingAfter(100_000);
        assertThatThrownBy(() -> restoreSmallBuffer(target, manifest.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("stored object of " + manifest.objectKey())
                .hasMessageContaining("does not match its manifest")
                .hasMessageContaining("The restore target failed too")
                .hasMessageContaining("refused the content on purpose");
        assertThat(target.committed()).isNull();
    }

    @Test
    void aTargetThatFailsBeforeTakingAByteStopsTheRestoreWithItsOwnErrorWithoutReadingTheRest() throws Exception {
        // as a database target whose CREATE DATABASE fails while the pipeline sets up its decoders: the damage lies
        // far after the first chunk, so only reading the whole object would find it
        flipByte(dir.resolve(manifest.objectKey()), 1_500_000);
        RestoreTarget failing = new RestoreTarget() {
            @Override
            public String describe() {
                return "a target that cannot be created";
            }

            @Override
            public StagedRestore stage(InputStream plaintext, BackupManifest m) {
                throw new RestoreException("permission denied to create the target (test)", null, describe(), null);
            }
        };
        assertThatThrownBy(() -> RestorePipeline.builder()
                        .sink(sink)
                        .target(failing)
                        .bufferChunkSize(4096)
                        .bufferChunks(1)
                        .build()
                        .restore(manifest.objectKey()))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("permission denied to create the target (test)")
                .hasMessageNotContaining("integrity");
    }

    @Test
    void aTargetChokingOnATruncatedObjectDoesNotHideTheTruncation() throws Exception {
        try (RandomAccessFile f =
                new RandomAccessFile(dir.resolve(manifest.objectKey()).toFile(), "rw")) {
            f.setLength(1_200_000);
        }
        MemoryTarget target = new MemoryTarget().failingAfter(0);
        assertThatThrownBy(() -> restoreSmallBuffer(target, manifest.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("1200000 bytes")
                .hasMessageContaining("refused the content on purpose");
        assertThat(target.committed()).isNull();
    }

    @Test
    void aTargetChokingOnADamagedEncryptedBackupGetsTheIntegrityCheckOfTheEncryption(@TempDir Path keys)
            throws Exception {
        Path keyFile = com.jiffoo.backup.testutil.TestKeys.keyFile(keys, "backup.key");
        com.jiffoo.backup.crypto.OpenPgpTransform pgp = com.jiffoo.backup.crypto.OpenPgpTransform.builder()
                .passphrase(com.jiffoo.backup.crypto.PassphraseKeyFile.read(keyFile))
                .build();
        BackupManifest encrypted = BackupPipeline.builder()
                .source(new GeneratedSource("files", 3_000_000, 21))
                .sink(sink)
                .encryption(pgp)
                .clock(Clock.fixed(Instant.parse("2026-01-12T03:00:00Z"), ZoneOffset.UTC))
                .build()
                .run();
        flipByte(dir.resolve(encrypted.objectKey()), 2_500_000);
        MemoryTarget target = new MemoryTarget().failingAfter(200_000);
        assertThatThrownBy(() -> RestorePipeline.builder()
                        .sink(sink)
                        .decryption(pgp)
                        .target(target)
                        .bufferChunkSize(4096)
                        .bufferChunks(1)
                        .build()
                        .restore(encrypted.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .satisfies(e -> assertThat(((BackupException) e).code()).isEqualTo(ErrorCode.INTEGRITY))
                .hasMessageContaining("refused the content on purpose");
        assertThat(target.committed()).isNull();
    }

    @Test
    void aDamagedEncryptionHeaderIsDamageAndAWrongKeyOnAnIntactObjectIsTheKey(@TempDir Path keys) throws Exception {
        com.jiffoo.backup.crypto.OpenPgpTransform pgp = com.jiffoo.backup.crypto.OpenPgpTransform.builder()
                .passphrase(com.jiffoo.backup.crypto.PassphraseKeyFile.read(
                        com.jiffoo.backup.testutil.TestKeys.keyFile(keys, "backup.key")))
                .build();
        com.jiffoo.backup.crypto.OpenPgpTransform other = com.jiffoo.backup.crypto.OpenPgpTransform.builder()
                .passphrase(com.jiffoo.backup.crypto.PassphraseKeyFile.read(
                        com.jiffoo.backup.testutil.TestKeys.keyFile(keys, "other.key")))
                .build();
        BackupManifest encrypted = BackupPipeline.builder()
                .source(new GeneratedSource("files", 300_000, 22))
                .sink(sink)
                .encryption(pgp)
                .clock(Clock.fixed(Instant.parse("2026-01-12T03:00:00Z"), ZoneOffset.UTC))
                .build()
                .run();
        // the manifest authenticated by the right key, the data decrypted with another: the object is intact, so
        // it is the key (exit 6)
        assertThatThrownBy(() -> RestorePipeline.builder()
                        .sink(sink)
                        .decryption(other)
                        .trust(BackupTrust.of(java.util.List.of(pgp)))
                        .target(new MemoryTarget())
                        .build()
                        .restore(encrypted.objectKey()))
                .isInstanceOf(DecryptionException.class)
                .hasMessageContaining("is intact")
                .hasMessageContaining("the key is what does not fit");

        // the salt of the first packet (the passphrase's session-key packet) changed with printf and dd: the right
        // key no longer opens it either, and the manifest's SHA-256 says it is damage (exit 5), not the key
        Path object = dir.resolve(encrypted.objectKey());
        Process dd = new ProcessBuilder(
                        "sh",
                        "-c",
                        "printf 'XXXXXXXX' | dd of=\"$0\" bs=1 seek=6 conv=notrunc status=none",
                        object.toString())
                .redirectErrorStream(true)
                .start();
        assertThat(dd.waitFor()).isZero();
        MemoryTarget target = new MemoryTarget();
        assertThatThrownBy(() -> RestorePipeline.builder()
                        .sink(sink)
                        .decryption(pgp)
                        .target(target)
                        .build()
                        .restore(encrypted.objectKey()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("the key is not to blame");
        assertThat(target.committed()).isNull();
        BackupVerifier verifier = BackupVerifier.builder()
                .sink(sink)
                .transforms(java.util.List.of(pgp))
                .build();
        assertThatThrownBy(() -> verifier.verify(encrypted.objectKey(), true)).isInstanceOf(IntegrityException.class);
        assertThatThrownBy(() -> verifier.checkKey(encrypted.objectKey(), 1024))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("the key is not to blame");
    }

    @Test
    void aTargetFailingOnAnIntactBackupKeepsItsErrorAndSaysTheBackupIsIntact() {
        MemoryTarget target = new MemoryTarget().failingAfter(100_000);
        assertThatThrownBy(() -> restoreSmallBuffer(target, manifest.objectKey()))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("refused the content on purpose")
                .hasMessageContaining("passed its integrity checks")
                .hasMessageContaining("not damage in the store");
    }

    @Test
    void encryptedBackupWithoutAKeySaysWhichKeyIsNeeded() throws Exception {
        byte[] json = Files.readAllBytes(dir.resolve(manifest.manifestKey()));
        BackupManifest encrypted = BackupManifest.fromJson(json, "x").toBuilder()
                .transforms(java.util.List.of(java.util.Map.of("type", "openpgp", "encrypts", true)))
                .build();
        Files.write(dir.resolve(manifest.manifestKey()), encrypted.toJson());
        assertThatThrownBy(() -> restore(new MemoryTarget(), manifest.objectKey()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("is encrypted (openpgp)")
                .hasMessageContaining("decryption key");
    }

    @Test
    void listenerGetsPairedEventsAlsoWhenTheBackupCannotBeFound() {
        java.util.List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        BackupListener listener = new BackupListener() {
            @Override
            public void started(Operation operation, String key) {
                events.add("started " + operation);
            }

            @Override
            public void finished(Operation operation, Progress progress) {
                events.add("finished " + operation);
            }

            @Override
            public void failed(Operation operation, Progress progress, BackupException error) {
                events.add("failed " + operation + " " + error.code());
            }
        };
        RestorePipeline p = RestorePipeline.builder()
                .sink(sink)
                .target(new MemoryTarget())
                .listener(listener)
                .build();
        assertThatThrownBy(() -> p.restore("files/none.bin")).isInstanceOf(NotFoundException.class);
        p.restore(manifest.objectKey());
        BackupVerifier v =
                BackupVerifier.builder().sink(sink).listener(listener).build();
        assertThatThrownBy(() -> v.verify("files/none.bin", true)).isInstanceOf(NotFoundException.class);
        v.verify(manifest.objectKey(), true);
        assertThat(events)
                .containsExactly(
                        "started RESTORE",
                        "failed RESTORE NOT_FOUND",
                        "started RESTORE",
                        "finished RESTORE",
                        "started VERIFY",
                        "failed VERIFY NOT_FOUND",
                        "started VERIFY",
                        "finished VERIFY");
    }

    /** The launcher refuses the commit once it is being stopped: the restore fails with its error, nothing changed. */
    @Test
    void aListenerCanRefuseTheCommitAndNothingIsCommitted() {
        MemoryTarget target = new MemoryTarget();
        java.util.List<String> committing = new java.util.ArrayList<>();
        RestoreException stopped = new RestoreException("Stopped before the commit");
        BackupListener refusing = new BackupListener() {
            @Override
            public void committing(Operation operation, String key) {
                committing.add(operation + " " + key);
                throw stopped;
            }
        };
        assertThatThrownBy(() -> RestorePipeline.builder()
                        .sink(sink)
                        .target(target)
                        .listener(refusing)
                        .build()
                        .restore(manifest.objectKey()))
                .isSameAs(stopped);
        assertThat(target.committed()).isNull();
        assertThat(committing).containsExactly("RESTORE " + manifest.objectKey());
    }

    static void flipByte(Path file, long offset) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x01);
        }
    }
}
