package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.StagedRestore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class DirectoryRestoreTargetTest {

    @TempDir
    Path tmp;

    Path source;
    Path target;
    Path outside;

    @BeforeEach
    void setUp() throws IOException {
        source = tmp.resolve("source");
        target = tmp.resolve("target");
        outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("victim"), "do not touch\n");
    }

    private byte[] backup(Compression c) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DirectorySource.builder(source).compression(c).build().writeTo(out);
        return out.toByteArray();
    }

    private Map<String, Object> restore(DirectoryRestoreTarget t, byte[] archive) throws IOException {
        try (StagedRestore staged = t.stage(new ByteArrayInputStream(archive), null)) {
            staged.commit();
            return staged.facts();
        }
    }

    private DirectoryRestoreTarget replacing() {
        return DirectoryRestoreTarget.builder(target).replaceExisting(true).build();
    }

    /** The staging and old directories next to the target are gone. */
    private void assertNoLeftovers() throws IOException {
        assertThat(TestTrees.list(tmp)).allMatch(n -> !n.startsWith("."));
    }

    // ---- round trips and interop

    @ParameterizedTest
    @EnumSource(Compression.class)
    void roundTripRestoresAnIdenticalTree(Compression c) throws IOException {
        TestTrees.createSampleTree(source);
        Map<String, Object> facts =
                restore(DirectoryRestoreTarget.builder(target).build(), backup(c));
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
        assertThat(facts)
                .containsEntry("files", 8L)
                .containsEntry("symlinks", 4L)
                .containsEntry("directories", 10L)
                .containsEntry("target", target.toString());
        assertNoLeftovers();
    }

    @Test
    void aDurableRestoreIsTheSameTreeAndClosesEveryFileItForced() throws Exception {
        TestTrees.createSampleTree(source);
        // more files than the fsync thread's queue holds, so that the extraction waits for it at times
        Path many = Files.createDirectories(source.resolve("many"));
        for (int i = 0; i < FileSyncer.PENDING * 3; i++) {
            Files.writeString(many.resolve("f" + i), "file " + i + "\n".repeat(i));
        }
        byte[] archive = backup(Compression.ZSTD);
        long fdsBefore = openFileDescriptors();
        Map<String, Object> facts = restore(
                DirectoryRestoreTarget.builder(target)
                        .replaceExisting(true)
                        .durable(true)
                        .build(),
                archive);
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
        assertThat(facts).containsEntry("files", 8L + FileSyncer.PENDING * 3);
        assertThat(openFileDescriptors()).as("every forced file closed").isLessThanOrEqualTo(fdsBefore);
        assertNoLeftovers();

        // a damaged archive: nothing kept, nothing left open
        byte[] damaged = Arrays.copyOf(archive, archive.length / 2);
        Path other = tmp.resolve("other");
        assertThatThrownBy(() -> restore(
                        DirectoryRestoreTarget.builder(other).durable(true).build(), damaged))
                .isInstanceOf(Exception.class);
        assertThat(other).doesNotExist();
        assertThat(openFileDescriptors()).isLessThanOrEqualTo(fdsBefore);
    }

    private static long openFileDescriptors() throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    @Test
    void roundTripThroughAPipeWithTheSourceOnItsOwnThread() throws Exception {
        TestTrees.createSampleTree(source);
        PipedInputStream in = new PipedInputStream(64 * 1024);
        PipedOutputStream out = new PipedOutputStream(in);
        CompletableFuture<Map<String, Object>> written = CompletableFuture.supplyAsync(() -> {
            try (out) {
                return DirectorySource.builder(source)
                        .compression(Compression.ZSTD)
                        .build()
                        .writeTo(out);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try (StagedRestore staged =
                DirectoryRestoreTarget.builder(target).build().stage(in, null)) {
            in.transferTo(java.io.OutputStream.nullOutputStream()); // the pipeline drains the rest
            staged.commit();
        }
        assertThat(written.get()).containsEntry("fileCount", 8L);
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
    }

    @Test
    void aDumpdirPurgeThenASymlinkNeverLetsDirectoryModesReachOutside() throws Exception {
        // built with GNU tar alone, as an attacker would: d/ and d/sub/, then "./" with a GNU.dumpdir that does not
        // list d (tar -g), then a symbolic link d -> outside; concatenated with tar -A
        Files.createDirectories(outside.resolve("sub"));
        sh(tmp, "chmod 700 " + q(outside.resolve("sub")) + " && touch -d 2001-01-01 " + q(outside.resolve("sub")));
        java.nio.file.attribute.FileTime before = Files.getLastModifiedTime(outside.resolve("sub"));
        Path a = tmp.resolve("a.tar");
        sh(
                tmp,
                "mkdir -p s1/d/sub s2 s3 && chmod 777 s1/d/sub && touch s2/x && ln -s " + q(outside) + " s3/d"
                        + " && tar --format=pax -C s1 -cf a.tar d"
                        + " && tar --format=posix -g snar -C s2 -cf b.tar ."
                        + " && tar --format=pax -C s3 -cf c.tar d"
                        + " && tar -Af a.tar b.tar && tar -Af a.tar c.tar");
        assertThat(sh(tmp, "tar -tvf a.tar")).contains("d/sub/").contains("d -> " + outside);
        restore(
                DirectoryRestoreTarget.builder(target)
                        .allowSymlinksOutsideTarget(true)
                        .build(),
                Files.readAllBytes(a));
        assertThat(Files.isSymbolicLink(target.resolve("d"))).isTrue();
        assertThat(sh(tmp, "stat -c %a " + q(outside.resolve("sub"))).trim()).isEqualTo("700");
        assertThat(Files.getLastModifiedTime(outside.resolve("sub"))).isEqualTo(before);
        assertThat(outside.resolve("victim")).hasContent("do not touch\n");
    }

    @Test
    void restoresAnArchiveMadeByGnuTar() throws IOException {
        TestTrees.createSampleTree(source);
        Path archive = tmp.resolve("gnu.tar.gz");
        sh(tmp, "tar -C " + q(source) + " -czf " + q(archive) + " .");
        restore(DirectoryRestoreTarget.builder(target).build(), Files.readAllBytes(archive));
        // GNU tar's default (gnu) format keeps whole seconds only
        assertThat(TestTrees.snapshotSeconds(target)).isEqualTo(TestTrees.snapshotSeconds(source));
    }

    @Test
    void restoresAZstdPosixArchiveMadeByGnuTar() throws IOException {
        TestTrees.createSampleTree(source);
        Path archive = tmp.resolve("gnu.tar.zst");
        sh(tmp, "tar --format=posix --zstd -C " + q(source) + " -cf " + q(archive) + " .");
        restore(DirectoryRestoreTarget.builder(target).build(), Files.readAllBytes(archive));
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
    }

    @Test
    void restoresHardLinksToEarlierFiles() throws IOException {
        Files.createDirectories(source);
        Files.writeString(source.resolve("a"), "shared\n");
        Files.createLink(source.resolve("b"), source.resolve("a"));
        Path archive = tmp.resolve("gnu.tar");
        sh(tmp, "tar -C " + q(source) + " -cf " + q(archive) + " a b");
        Map<String, Object> facts =
                restore(DirectoryRestoreTarget.builder(target).build(), Files.readAllBytes(archive));
        assertThat(facts).containsEntry("hardLinks", 1L);
        assertThat(Files.isSameFile(target.resolve("a"), target.resolve("b"))).isTrue();
    }

    @Test
    void stopsAtTheEndOfArchiveAndDoesNotCloseTheStream() throws IOException {
        TestTrees.createSampleTree(source);
        byte[] tar = backup(Compression.NONE);
        byte[] withTrailer = Arrays.copyOf(tar, tar.length + 100_000); // zeros and more after the end marker
        boolean[] closed = {false};
        InputStream in = new FilterInputStream(new ByteArrayInputStream(withTrailer)) {
            @Override
            public void close() {
                closed[0] = true;
            }
        };
        try (StagedRestore staged =
                DirectoryRestoreTarget.builder(target).build().stage(in, null)) {
            staged.commit();
        }
        assertThat(closed[0]).isFalse();
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
    }

    @Test
    void skipsFifoEntries() throws IOException {
        byte[] tar = tar(e("fifo", TarConstants.LF_FIFO, null), file("ok.txt", "ok"));
        Map<String, Object> facts =
                restore(DirectoryRestoreTarget.builder(target).build(), tar);
        assertThat(facts).containsEntry("skipped", 1L).containsEntry("files", 1L);
        assertThat(TestTrees.list(target)).containsExactly("ok.txt");
    }

    // ---- replace semantics

    @Test
    void existingNonEmptyTargetIsRefusedWithoutReplaceExisting() throws IOException {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target);
        Files.writeString(target.resolve("old.txt"), "old");
        assertThatThrownBy(() -> DirectoryRestoreTarget.builder(target)
                        .build()
                        .stage(new ByteArrayInputStream(backup(Compression.GZIP)), null))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("replaceExisting(true)")
                .hasMessageContaining(target.toString());
        assertThat(TestTrees.list(target)).containsExactly("old.txt");
        assertNoLeftovers();
    }

    @Test
    void emptyExistingTargetIsFilledWithoutReplaceExisting() throws IOException {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target);
        restore(DirectoryRestoreTarget.builder(target).build(), backup(Compression.GZIP));
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
        assertNoLeftovers();
    }

    @Test
    void existingTargetIsReplacedWithReplaceExisting() throws IOException {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target.resolve("old-dir"));
        Files.writeString(target.resolve("old.txt"), "old");
        restore(replacing(), backup(Compression.GZIP));
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
        assertNoLeftovers();
    }

    @Test
    void inPlaceStagesInsideTheTargetAndSwapsItsEntries() throws IOException {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target.resolve("old-dir"));
        Files.writeString(target.resolve("old.txt"), "old");
        DirectoryRestoreTarget t = DirectoryRestoreTarget.builder(target)
                .replaceExisting(true)
                .inPlace(true)
                .build();
        StagedRestore staged = t.stage(new ByteArrayInputStream(backup(Compression.GZIP)), null);
        // staged on the target's own file system, inside it
        assertThat(TestTrees.list(target))
                .hasSize(3)
                .contains("old-dir", "old.txt")
                .anyMatch(n -> n.startsWith(".jiffoo-restore-"));
        assertThat(staged.facts()).containsEntry("inPlace", true);
        staged.commit();
        staged.close();
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
        assertThat(TestTrees.list(target)).noneMatch(n -> n.startsWith(".jiffoo-"));
        assertNoLeftovers();
    }

    @Test
    void inPlaceKeepsTheOldContentWhenClosedWithoutCommitOrRefused() throws IOException {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target);
        Files.writeString(target.resolve("old.txt"), "old");
        DirectoryRestoreTarget t = DirectoryRestoreTarget.builder(target)
                .replaceExisting(true)
                .inPlace(true)
                .build();
        t.stage(new ByteArrayInputStream(backup(Compression.GZIP)), null).close();
        assertThat(TestTrees.list(target)).containsExactly("old.txt");

        byte[] archive = backup(Compression.GZIP);
        byte[] truncated = java.util.Arrays.copyOf(archive, archive.length / 2);
        assertThatThrownBy(() -> t.stage(new ByteArrayInputStream(truncated), null))
                .isInstanceOf(IOException.class);
        assertThat(TestTrees.list(target)).containsExactly("old.txt");

        assertThatThrownBy(() -> DirectoryRestoreTarget.builder(target)
                        .inPlace(true)
                        .build()
                        .stage(new ByteArrayInputStream(archive), null))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("not empty");
        assertThat(Files.readString(target.resolve("old.txt"))).isEqualTo("old");
    }

    /** Stands for a kill -9 in the middle of a swap: thrown from the move hook, it skips every catch and finally. */
    private static final class Killed extends Error {}

    /**
     * Stages an in-place restore of {@code source} over an old tree in {@code target} and "kills" its swap after
     * {@code moves} moves; returns the old tree's snapshot. The staged restore is not closed, as a killed process
     * does not.
     */
    private Map<String, String> swapKilledAfter(int moves) throws IOException {
        int[] left = {moves};
        return swapKilledBy(() -> {
            if (--left[0] == 0) {
                throw new Killed();
            }
        });
    }

    /** As {@link #swapKilledAfter}, the swap killed by {@code afterMove}. */
    private Map<String, String> swapKilledBy(Runnable afterMove) throws IOException {
        if (!Files.exists(source)) {
            TestTrees.createSampleTree(source);
        }
        Files.createDirectories(target.resolve("old-dir"));
        Files.writeString(target.resolve("old-dir/f"), "old");
        Files.writeString(target.resolve("old.txt"), "old");
        Files.writeString(target.resolve("README.md"), "old readme"); // a name the new tree has too, maybe
        Map<String, String> old = TestTrees.snapshot(target);
        StagedRestore staged = DirectoryRestoreTarget.builder(target)
                .replaceExisting(true)
                .inPlace(true)
                .build()
                .stage(new ByteArrayInputStream(backup(Compression.GZIP)), null);
        InPlaceJournal.afterMove = afterMove;
        try {
            assertThatThrownBy(staged::commit).isInstanceOf(Killed.class);
        } finally {
            InPlaceJournal.afterMove = () -> {};
        }
        assertThat(target.resolve(InPlaceJournal.NAME)).exists();
        return old;
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2, 3, 4, 6})
    void anInPlaceSwapKilledMidwayIsFinishedByRecover(int moves) throws IOException {
        Map<String, String> old = swapKilledAfter(moves); // 3 moves out, then the new tree's entries in
        assertThat(TestTrees.snapshot(target)).as("mixed").isNotEqualTo(old).isNotEqualTo(TestTrees.snapshot(source));
        assertThat(DirectoryRestoreTarget.recover(target)).contains(DirectoryRestoreTarget.Recovery.FINISHED);
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
        assertThat(TestTrees.list(target)).noneMatch(n -> n.startsWith(".jiffoo-"));
        assertThat(DirectoryRestoreTarget.recover(target))
                .as("nothing left to do")
                .isEmpty();
    }

    @Test
    void theNextRestoreIntoTheTargetRecoversFirstAndSaysSo() throws IOException {
        swapKilledAfter(2);
        // the next restore is refused (no replaceExisting): the interrupted one is finished all the same
        assertThatThrownBy(() -> restore(
                        DirectoryRestoreTarget.builder(target).inPlace(true).build(), backup(Compression.GZIP)))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("not empty");
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));

        swapKilledAfter(4);
        assertThat(restore(replacing().toBuilder().inPlace(true).build(), backup(Compression.ZSTD)))
                .containsEntry("recovered", "finished");
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
        assertThat(TestTrees.list(target)).noneMatch(n -> n.startsWith(".jiffoo-"));
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {2, 5})
    void withTheStagedTreeGoneTheSwapIsRolledBack(int moves) throws IOException {
        Map<String, String> old = swapKilledAfter(moves);
        try (var s = Files.list(target)) {
            FileTrees.deleteQuietly(s.filter(p -> p.getFileName().toString().startsWith(".jiffoo-restore-"))
                    .findFirst()
                    .orElseThrow());
        }
        assertThat(DirectoryRestoreTarget.recover(target)).contains(DirectoryRestoreTarget.Recovery.ROLLED_BACK);
        assertThat(TestTrees.snapshot(target)).isEqualTo(old);
    }

    /** A rename refused in the middle of the swap rolls it back; killed while moving back, recover rolls back. */
    @Test
    void aRollBackKilledMidwayIsFinishedAsARollBack() throws IOException {
        Path journal = target.resolve(InPlaceJournal.NAME);
        int[] moves = {0};
        Map<String, String> old = swapKilledBy(() -> {
            if (++moves[0] == 5) { // 3 moved out, 2 in
                throw new java.io.UncheckedIOException(new IOException("a rename refused"));
            }
            try {
                if (Files.readString(journal).contains("phase moving-back")) {
                    throw new Killed(); // one previous entry moved back
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        assertThat(TestTrees.snapshot(target)).as("mixed").isNotEqualTo(old);
        assertThat(DirectoryRestoreTarget.recover(target)).contains(DirectoryRestoreTarget.Recovery.ROLLED_BACK);
        assertThat(TestTrees.snapshot(target)).isEqualTo(old);
    }

    @Test
    void aJournalNamingOtherPathsIsRefusedAndNothingMoves() throws IOException {
        swapKilledAfter(2);
        Path journal = target.resolve(InPlaceJournal.NAME);
        String text = Files.readString(journal);
        Files.writeString(journal, text.replaceFirst("old \\.jiffoo-old-\\w+", "old ../outside"));
        Map<String, String> before = TestTrees.snapshot(target);
        assertThatThrownBy(() -> DirectoryRestoreTarget.recover(target))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("cannot be read")
                .hasMessageContaining("by hand");
        assertThat(TestTrees.snapshot(target)).isEqualTo(before);
        assertThat(Files.readString(outside.resolve("victim"))).isEqualTo("do not touch\n");
    }

    /** A real mount point (tmpfs; needs root, as CI runs): it cannot be renamed, so the default restores in place. */
    @Test
    void aMountPointIsRestoredInPlaceByDefault() throws Exception {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target);
        String mount = sh(tmp, "mount -t tmpfs -o size=64m tmpfs " + q(target) + " 2>&1 && echo MOUNTED || true");
        org.junit.jupiter.api.Assumptions.assumeTrue(
                mount.contains("MOUNTED"), "mounting a tmpfs needs root (CI runs as root): " + mount);
        try {
            Files.writeString(target.resolve("old.txt"), "old");
            assertThat(DirectoryRestoreTarget.isMountPoint(target)).isTrue();
            assertThat(DirectoryRestoreTarget.isMountPoint(source)).isFalse();
            Map<String, Object> facts = restore(replacing(), backup(Compression.ZSTD));
            assertThat(facts).containsEntry("inPlace", true);
            assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
            assertThat(DirectoryRestoreTarget.isMountPoint(target))
                    .as("still the mount point")
                    .isTrue();
            assertNoLeftovers();
        } finally {
            sh(tmp, "umount " + q(target));
        }
    }

    @Test
    void targetIsUntouchedUntilCommitAndCloseDiscardsTheStagedTree() throws IOException {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target);
        Files.writeString(target.resolve("old.txt"), "old");
        StagedRestore staged = replacing().stage(new ByteArrayInputStream(backup(Compression.GZIP)), null);
        assertThat(TestTrees.list(target)).containsExactly("old.txt");
        assertThat(TestTrees.list(tmp)).anyMatch(n -> n.startsWith(".") && n.length() <= "target".length());
        staged.close();
        staged.close(); // idempotent
        assertThat(TestTrees.list(target)).containsExactly("old.txt");
        assertNoLeftovers();
        assertThatThrownBy(staged::commit).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void whatAKilledRestoreLeftBesideTheTargetIsRemovedByTheNextUnlessItsProcessRuns() throws Exception {
        TestTrees.createSampleTree(source);
        long gone = deadPid();
        Path killedStaging =
                Files.createDirectories(leftover(".k1", "restore", gone).resolve("a"));
        Path killedOld = leftover(".k2", "old", gone);
        Path running = leftover(".k3", "restore", ProcessHandle.current().pid());
        Path unknown = Files.createDirectories(tmp.resolve(".k4")); // no marker: not ours to judge
        Files.createDirectories(target);
        try (StagedRestore staged = replacing().stage(new ByteArrayInputStream(backup(Compression.GZIP)), null)) {
            staged.commit();
        }
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(source));
        assertThat(killedStaging.getParent()).doesNotExist();
        assertThat(killedOld).doesNotExist();
        assertThat(running).as("a running restore's").exists();
        assertThat(unknown).as("of an unknown process").exists();
        assertThat(tmp.resolve(".k1.jiffoo-restore-" + gone))
                .as("its marker went with it")
                .doesNotExist();
        assertThat(tmp.resolve(".k2.jiffoo-old-" + gone)).doesNotExist();
    }

    /** What a killed restore into {@code target} leaves: a directory and its marker naming the target. */
    private Path leftover(String name, String kind, long pid) throws IOException {
        Path d = Files.createDirectories(tmp.resolve(name));
        Files.writeString(
                tmp.resolve(name + ".jiffoo-" + kind + "-" + pid),
                target.getFileName().toString());
        return d;
    }

    @Test
    void thePreviousContentOfAMissingTargetIsNeverDeleted() throws Exception {
        TestTrees.createSampleTree(source);
        long gone = deadPid();
        Path killedOld = leftover(".k5", "old", gone);
        Files.writeString(killedOld.resolve("only-copy.txt"), "old");
        try (StagedRestore staged = replacing().stage(new ByteArrayInputStream(backup(Compression.GZIP)), null)) {
            staged.close();
        }
        assertThat(killedOld.resolve("only-copy.txt")).hasContent("old");
    }

    @Test
    void truncatedGzipLeavesOldContentAndNoStagingDirectory() throws IOException {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target);
        Files.writeString(target.resolve("old.txt"), "old");
        byte[] gz = backup(Compression.GZIP);
        byte[] truncated = Arrays.copyOf(gz, gz.length / 2);
        assertThatThrownBy(() -> replacing().stage(new ByteArrayInputStream(truncated), null))
                .isInstanceOf(IOException.class);
        assertThat(TestTrees.list(target)).containsExactly("old.txt");
        assertNoLeftovers();
    }

    @Test
    void corruptGzipLeavesOldContentAndNoStagingDirectory() throws IOException {
        TestTrees.createSampleTree(source);
        Files.createDirectories(target);
        Files.writeString(target.resolve("old.txt"), "old");
        byte[] gz = backup(Compression.GZIP);
        for (int i = gz.length / 3; i < gz.length / 3 + 64; i++) {
            gz[i] ^= 0x5a;
        }
        assertThatThrownBy(() -> replacing().stage(new ByteArrayInputStream(gz), null))
                .isInstanceOf(Exception.class);
        assertThat(TestTrees.list(target)).containsExactly("old.txt");
        assertNoLeftovers();
    }

    @Test
    void truncatedPlainTarMidFileFails() throws IOException {
        TestTrees.createSampleTree(source);
        byte[] tar = backup(Compression.NONE);
        byte[] truncated = Arrays.copyOf(tar, 100_000); // inside binary.dat
        assertThatThrownBy(() ->
                        DirectoryRestoreTarget.builder(target).build().stage(new ByteArrayInputStream(truncated), null))
                .isInstanceOf(IOException.class);
        assertThat(target).doesNotExist();
        assertNoLeftovers();
    }

    @Test
    void emptyStreamIsRefused() {
        assertThatThrownBy(() -> DirectoryRestoreTarget.builder(target)
                        .build()
                        .stage(new ByteArrayInputStream(new byte[0]), null))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("empty");
        assertThat(target).doesNotExist();
    }

    @Test
    void targetThatIsAFileIsRefused() throws IOException {
        Files.writeString(target, "x");
        assertThatThrownBy(() -> replacing().stage(new ByteArrayInputStream(tar(file("a", "a"))), null))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("not a directory");
        assertThat(Files.readString(target)).isEqualTo("x");
    }

    // ---- malicious archives

    @Test
    void restoreRefusesPathTraversal() throws IOException {
        assertRefused(tar(file("ok.txt", "ok"), file("../outside/evil", "evil")), "../outside/evil");
    }

    @Test
    void restoreRefusesNestedPathTraversal() throws IOException {
        assertRefused(tar(file("a/b/../../../outside/evil", "evil")), "a/b/../../../outside/evil");
    }

    @Test
    void restoreRefusesAbsolutePath() throws IOException {
        String abs = outside.resolve("evil").toString();
        assertRefused(tar(file(abs, "evil")), abs);
    }

    @Test
    void restoreRefusesWritingThroughASymlinkToTheParent() throws IOException {
        // the link itself is refused first: it points outside
        assertRefused(tar(e("up", TarConstants.LF_SYMLINK, ".."), file("up/outside/evil", "evil")), "up");
    }

    @Test
    void restoreRefusesWritingThroughAnInsideSymlink() throws IOException {
        // a link that stays inside is fine, but entries are never written through it
        assertRefused(tar(dir("real/"), e("alias", TarConstants.LF_SYMLINK, "real"), file("alias/x", "x")), "alias/x");
    }

    @Test
    void restoreRefusesSymlinkToAbsolutePath() throws IOException {
        assertRefused(tar(e("etc", TarConstants.LF_SYMLINK, "/etc"), file("etc/evil", "evil")), "etc");
    }

    @Test
    void restoreRefusesSymlinkPointingOutsideTarget() throws IOException {
        assertRefused(tar(dir("d/"), e("d/out", TarConstants.LF_SYMLINK, "../../outside")), "d/out");
    }

    @Test
    void restoreRefusesSymlinkThatEscapesThroughAnotherSymlink() throws IOException {
        // "esc -> self/.." looks inside, but self -> "." makes it the target's parent
        assertRefused(
                tar(e("self", TarConstants.LF_SYMLINK, "."), e("esc", TarConstants.LF_SYMLINK, "self/..")), "esc");
    }

    @Test
    void restoreRefusesHardLinkToAbsolutePath() throws IOException {
        assertRefused(tar(e("passwd", TarConstants.LF_LINK, "/etc/passwd")), "passwd");
    }

    @Test
    void restoreRefusesHardLinkOutsideTarget() throws IOException {
        assertRefused(tar(e("victim", TarConstants.LF_LINK, "../outside/victim")), "victim");
    }

    @Test
    void restoreRefusesHardLinkToAFileNotExtractedBefore() throws IOException {
        assertRefused(tar(e("b", TarConstants.LF_LINK, "a"), file("a", "a")), "b");
    }

    @Test
    void restoreRefusesHardLinkThroughASymlink() throws IOException {
        assertRefused(
                tar(
                        dir("d/"),
                        file("d/f", "f"),
                        e("l", TarConstants.LF_SYMLINK, "d"),
                        e("h", TarConstants.LF_LINK, "l/f")),
                "h");
    }

    @Test
    void restoreRefusesDeviceAsNothingElse() throws IOException {
        // devices are skipped, never created: the restore succeeds without them
        byte[] tar = tar(e("dev", TarConstants.LF_CHR, null));
        Map<String, Object> facts =
                restore(DirectoryRestoreTarget.builder(target).build(), tar);
        assertThat(facts).containsEntry("skipped", 1L);
        assertThat(TestTrees.list(target)).isEmpty();
    }

    @Test
    void allowingOutsideLinksStillRefusesWritingThroughThem() throws IOException {
        DirectoryRestoreTarget lenient =
                replacing().toBuilder().allowSymlinksOutsideTarget(true).build();
        assertRefused(lenient, tar(e("etc", TarConstants.LF_SYMLINK, "/etc"), file("etc/evil", "evil")), "etc/evil");
        assertRefused(
                lenient,
                tar(e("up", TarConstants.LF_SYMLINK, ".."), file("up/outside/evil", "evil")),
                "up/outside/evil");
        assertRefused(
                lenient,
                tar(
                        e("out", TarConstants.LF_SYMLINK, outside.toString()),
                        e("out/x", TarConstants.LF_LINK, "/etc/passwd")),
                "out/x");
    }

    private void assertRefused(byte[] tar, String entryName) throws IOException {
        assertRefused(replacing(), tar, entryName);
    }

    private void assertRefused(DirectoryRestoreTarget restoreTarget, byte[] tar, String entryName) throws IOException {
        Files.createDirectories(target);
        Files.writeString(target.resolve("old.txt"), "old");
        Map<String, String> outsideBefore = TestTrees.snapshot(outside);
        for (byte[] archive : List.of(tar, gzip(tar))) {
            assertThatThrownBy(() -> restoreTarget.stage(new ByteArrayInputStream(archive), null))
                    .isInstanceOf(RestoreException.class)
                    .hasMessageContaining("\"" + entryName + "\"");
            assertThat(TestTrees.snapshot(outside)).isEqualTo(outsideBefore);
            assertThat(TestTrees.list(target)).containsExactly("old.txt");
            assertThat(Files.readString(target.resolve("old.txt"))).isEqualTo("old");
            assertThat(TestTrees.list(tmp)).containsExactlyInAnyOrder("outside", "target");
        }
    }

    // ---- building archives

    private static TarArchiveEntry e(String name, byte flag, String linkName) {
        TarArchiveEntry entry = new TarArchiveEntry(name, flag, true);
        if (linkName != null) {
            entry.setLinkName(linkName);
        }
        return entry;
    }

    private static TarArchiveEntry dir(String name) {
        return e(name, TarConstants.LF_DIR, null);
    }

    /** A file entry with its content. */
    private record FileEntry(TarArchiveEntry entry, byte[] data) {}

    private static FileEntry file(String name, String content) {
        return new FileEntry(e(name, TarConstants.LF_NORMAL, null), content.getBytes(StandardCharsets.UTF_8));
    }

    /** A plain tar of entries: {@link TarArchiveEntry} or {@link FileEntry}. */
    private static byte[] tar(Object... entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(bytes, "UTF-8")) {
            out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Object o : entries) {
                if (o instanceof FileEntry f) {
                    f.entry().setSize(f.data().length);
                    out.putArchiveEntry(f.entry());
                    out.write(f.data());
                } else {
                    out.putArchiveEntry((TarArchiveEntry) o);
                }
                out.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    private static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream out = new java.util.zip.GZIPOutputStream(bytes)) {
            out.write(data);
        }
        return bytes.toByteArray();
    }

    /** The pid of a process that ran and ended: what a killed run's pid is. */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }
}
