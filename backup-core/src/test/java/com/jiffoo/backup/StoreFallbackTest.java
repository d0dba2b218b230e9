package com.jiffoo.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.jiffoo.backup.testutil.MemoryTarget;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link StoreFallback} across real local directory stores: a store that lacks the backup and one whose copy was
 * damaged (bytes changed on disk, not through the library) are passed over for the next, a failure no other store
 * would change ends the read, and with no store left the first store's failure names the others'.
 */
class StoreFallbackTest {
    @TempDir
    Path dir;

    /** Holds no backup. */
    private LocalDirectorySink empty;
    /** Holds the backup with changed bytes in its data object. */
    private LocalDirectorySink damaged;
    /** Holds the backup intact. */
    private LocalDirectorySink good;

    private BackupManifest made;

    @BeforeEach
    void stores() throws Exception {
        empty = local("empty");
        damaged = local("damaged");
        good = local("good");
        made = backup(good, Instant.parse("2026-01-11T03:00:00Z"));
        backup(damaged, Instant.parse("2026-01-11T03:00:00Z"));
        Path object = dir.resolve("damaged").resolve(made.objectKey());
        byte[] bytes = Files.readAllBytes(object);
        bytes[bytes.length / 2] ^= 0x5a;
        Files.write(object, bytes);
    }

    private LocalDirectorySink local(String name) throws Exception {
        return LocalDirectorySink.create(Files.createDirectories(dir.resolve(name)));
    }

    private static BackupManifest backup(Sink sink, Instant at) {
        return BackupPipeline.builder()
                .source(new GeneratedSource("files", 500_000, 3))
                .sink(sink)
                .unencrypted()
                .clock(Clock.fixed(at, ZoneOffset.UTC))
                .build()
                .run();
    }

    private RestoreResult restore(Sink store, MemoryTarget target) {
        return RestorePipeline.builder().sink(store).target(target).build().restore(made.objectKey());
    }

    @Test
    void aStoreWithoutTheBackupAndADamagedCopyArePassedOver() {
        MemoryTarget target = new MemoryTarget();
        StoreFallback.Served<RestoreResult> served =
                StoreFallback.first(List.of(empty, damaged, good), "restore", store -> restore(store, target));
        assertThat(served.store()).isSameAs(good);
        assertThat(served.value().manifest().objectKey()).isEqualTo(made.objectKey());
        assertThat(target.committed()).hasSize(500_000);
        assertThat(served.failures()).extracting(StoreFallback.Failure::store).containsExactly(empty, damaged);
        assertThat(served.failures())
                .extracting(f -> f.error().code())
                .containsExactly(ErrorCode.NOT_FOUND, ErrorCode.INTEGRITY);
    }

    @Test
    void whenNoStoreServesTheFirstStoresFailureNamesTheOthers() {
        assertThatThrownBy(() -> StoreFallback.first(
                        List.of(empty, damaged), "restore", store -> restore(store, new MemoryTarget())))
                .isInstanceOf(NotFoundException.class)
                .hasMessageContaining("No other store could serve it either: " + damaged.location() + ": ")
                .satisfies(e -> assertThat(e.getSuppressed()).singleElement().isInstanceOf(IntegrityException.class));
    }

    @Test
    void aFailureAnotherStoreWouldNotChangeEndsTheRead() {
        List<Sink> tried = new ArrayList<>();
        assertThatThrownBy(() -> StoreFallback.first(List.of(good, damaged), "restore", store -> {
                    tried.add(store);
                    return restore(store, new MemoryTarget().failingAfter(1_000));
                }))
                .isInstanceOf(BackupException.class)
                .satisfies(e ->
                        assertThat(StoreFallback.tryNext((BackupException) e)).isFalse());
        assertThat(tried).containsExactly(good);
    }

    @Test
    void aSingleStoresFailureIsThrownAsItIs() {
        assertThatThrownBy(() ->
                        StoreFallback.first(List.of(damaged), "restore", store -> restore(store, new MemoryTarget())))
                .isInstanceOf(IntegrityException.class)
                .hasMessageNotContaining("No other store");
    }

    @Test
    void theNewestBackupIsFoundInWhicheverStoreHoldsIt() {
        BackupManifest later = backup(empty, Instant.parse("2026-01-12T03:00:00Z"));
        assertThat(StoreFallback.newest(List.of(good, empty), "files", BackupTrust.STORE))
                .contains(later.objectKey());
        assertThat(StoreFallback.newest(List.of(good), "database", BackupTrust.STORE))
                .isEmpty();
    }
}
