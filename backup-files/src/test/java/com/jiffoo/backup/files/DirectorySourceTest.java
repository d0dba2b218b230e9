package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.SourceException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DirectorySourceTest {

    @TempDir
    Path tmp;

    private byte[] backup(DirectorySource source) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        source.writeTo(out);
        return out.toByteArray();
    }

    @Test
    void namesAndSuffixFollowTheCompression() {
        DirectorySource gz = DirectorySource.builder(tmp).build();
        assertThat(gz.kind()).isEqualTo("files");
        assertThat(gz.baseName()).isEqualTo("files_backup");
        assertThat(gz.suffix()).isEqualTo(".tar.gz");
        assertThat(gz.compressionLevel()).isEqualTo(6);
        DirectorySource zst = gz.toBuilder().compression(Compression.ZSTD).build();
        assertThat(zst.suffix()).isEqualTo(".tar.zst");
        assertThat(zst.compressionLevel()).isEqualTo(3);
        assertThat(zst.directory()).isEqualTo(gz.directory());
        assertThat(gz.toBuilder().compression(Compression.NONE).build().suffix())
                .isEqualTo(".tar");
        assertThat(gz.describe()).contains(tmp.toString()).contains("gzip level 6");
    }

    @Test
    void builderRejectsLevelsOutsideTheCompressionsRange() {
        DirectorySource.Builder b = DirectorySource.builder(tmp);
        assertThatThrownBy(() -> b.compression(Compression.GZIP, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("between 1 and 9");
        assertThatThrownBy(() -> b.compression(Compression.GZIP, 10)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.compression(Compression.ZSTD, 23)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.compression(Compression.NONE, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.compression(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> DirectorySource.builder(null)).isInstanceOf(NullPointerException.class);
        assertThat(b.compression(Compression.ZSTD, 19).build().compressionLevel())
                .isEqualTo(19);
    }

    @Test
    void missingDirectoryIsAConfigurationError() {
        DirectorySource source = DirectorySource.builder(tmp.resolve("nope")).build();
        assertThatThrownBy(() -> source.writeTo(new ByteArrayOutputStream()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("does not exist")
                .hasMessageContaining(tmp.resolve("nope").toString());
    }

    @Test
    void fileInsteadOfDirectoryIsAConfigurationError() throws IOException {
        Path file = Files.writeString(tmp.resolve("f"), "x");
        assertThatThrownBy(() -> DirectorySource.builder(file).build().writeTo(new ByteArrayOutputStream()))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("not a directory");
    }

    @Test
    void reportsFactsAboutTheTree() throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        long expectedBytes;
        try (java.util.stream.Stream<Path> s = Files.walk(root)) {
            expectedBytes = s.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    .mapToLong(p -> p.toFile().length())
                    .sum();
        }
        Map<String, Object> facts = DirectorySource.builder(root).build().writeTo(new ByteArrayOutputStream());
        assertThat(facts)
                .containsEntry("directory", root.toString())
                .containsEntry("compression", "gzip")
                .containsEntry("level", 6)
                .containsEntry("fileCount", 8L)
                .containsEntry("symlinkCount", 4L)
                .containsEntry("totalBytes", expectedBytes)
                .containsEntry("skipped", 0L)
                .containsEntry("changedWhileReading", 0L);
        // empty-dir, données, sub, deep + its 6 levels below
        assertThat(facts.get("directoryCount")).isEqualTo(4L + 6L);
    }

    @Test
    void writesPaxTarWithRelativeNamesInSortedOrder() throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        byte[] tar = backup(
                DirectorySource.builder(root).compression(Compression.NONE).build());
        List<String> names = new ArrayList<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar), "UTF-8")) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                names.add(e.getName());
                if (e.getName().equals("link-to-dir")) {
                    assertThat(e.isSymbolicLink()).isTrue();
                    assertThat(e.getLinkName()).isEqualTo("données");
                }
                if (e.getName().equals("run.sh")) {
                    assertThat(e.getMode() & 07777).isEqualTo(0755);
                }
            }
        }
        assertThat(names)
                .contains(
                        "binary.dat",
                        "empty-dir/",
                        "données/",
                        "données/日本語.txt",
                        TestTrees.LONG_NAME,
                        TestTrees.DEEP_DIR + "/file-at-the-bottom.txt",
                        "sub/link-up");
        assertThat(names).noneMatch(n -> n.startsWith("/") || n.startsWith("./"));
        assertThat(names.indexOf("binary.dat")).isLessThan(names.indexOf("empty.txt"));
        // GNU tar lists it with the same names (PAX headers understood)
        Path file = Files.write(tmp.resolve("t.tar"), tar);
        assertThat(sh(tmp, "tar -tf " + q(file)))
                .contains(
                        "données/日本語.txt\n",
                        TestTrees.LONG_NAME + "\n",
                        TestTrees.DEEP_DIR + "/file-at-the-bottom.txt\n");
    }

    @Test
    void sameTreeGivesTheSameArchive() throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        DirectorySource source =
                DirectorySource.builder(root).compression(Compression.ZSTD).build();
        assertThat(backup(source)).isEqualTo(backup(source));
    }

    @ParameterizedTest(name = "{0} threads")
    @ValueSource(ints = {1, 4})
    void gnuTarExtractsTheGzipArchiveToAnIdenticalTree(int threads) throws IOException {
        extractWithGnuTarAndCompare(
                DirectorySource.builder(tmp.resolve("tree")).compressionThreads(threads), "tar -xzf");
    }

    @Test
    void parallelGzipHoldsTheSameTarAsSingleThreadedGzip() throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        Files.write(root.resolve("big.txt"), ParallelGzipOutputStreamTest.text(2_000_000, 5));
        DirectorySource parallel =
                DirectorySource.builder(root).compressionThreads(3).build();
        DirectorySource single = parallel.toBuilder().compressionThreads(1).build();
        byte[] tar = backup(parallel.toBuilder().compression(Compression.NONE).build());
        assertThat(gunzip(backup(parallel))).isEqualTo(tar);
        assertThat(gunzip(backup(single))).isEqualTo(tar);
        assertThat(parallel.describe()).endsWith("(tar, gzip level 6, 3 threads)");
        assertThat(single.describe()).endsWith("(tar, gzip level 6, 1 thread)");
        assertThat(parallel.writeTo(OutputStream.nullOutputStream())).containsEntry("compressionThreads", 3);
        assertThat(parallel.toBuilder().compression(Compression.NONE).build().writeTo(OutputStream.nullOutputStream()))
                .doesNotContainKey("compressionThreads");
    }

    @Test
    void multiThreadedZstdWritesOneStandardFrameThatTheZstdCliReads() throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        byte[] big = new byte[12 << 20]; // several zstd jobs
        new java.util.Random(7).nextBytes(big);
        Files.write(root.resolve("big.bin"), big);
        DirectorySource zstd = DirectorySource.builder(root)
                .compression(Compression.ZSTD)
                .compressionThreads(3)
                .build();
        assertThat(zstd.describe()).endsWith("(tar, zstd level 3, 3 threads)");
        Path archive = tmp.resolve("tree.tar.zst");
        try (OutputStream out = Files.newOutputStream(archive)) {
            assertThat(zstd.writeTo(out)).containsEntry("compressionThreads", 3);
        }
        Path out = Files.createDirectories(tmp.resolve("by-zstd-cli"));
        sh(tmp, "zstd -t -q " + q(archive) + " && zstd -dc " + q(archive) + " | tar -xf - -C " + q(out));
        assertThat(TestTrees.snapshot(out)).isEqualTo(TestTrees.snapshot(root));
    }

    @Test
    void compressionThreadsDefaultToTheProcessorsAndMustBePositive() {
        DirectorySource.Builder b = DirectorySource.builder(tmp);
        assertThat(b.build().compressionThreads())
                .isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(b.compressionThreads(5).build().toBuilder().build().compressionThreads())
                .isEqualTo(5);
        assertThatThrownBy(() -> b.compressionThreads(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 1");
    }

    @Test
    void aFailingOutputStopsTheGzipThreads() throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        byte[] noise = new byte[3_000_000];
        new java.util.Random(3).nextBytes(noise);
        Files.write(root.resolve("big.bin"), noise);
        IOException broken = new IOException("Broken pipe");
        OutputStream out = ParallelGzipOutputStreamTest.failingAfter(500_000, broken);
        assertThatThrownBy(() -> DirectorySource.builder(root)
                        .compressionThreads(4)
                        .build()
                        .writeTo(out))
                .isSameAs(broken);
        assertThat(Thread.getAllStackTraces().keySet())
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("jiffoo-gzip-"));
    }

    private static byte[] gunzip(byte[] gz) throws IOException {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
            return in.readAllBytes();
        }
    }

    @Test
    void gnuTarExtractsTheZstdArchiveToAnIdenticalTree() throws IOException {
        extractWithGnuTarAndCompare(Compression.ZSTD, "tar --zstd -xf");
    }

    @Test
    void zstdCliAndTarExtractTheZstdArchive() throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        Path archive = Files.write(
                tmp.resolve("b.tar.zst"),
                backup(DirectorySource.builder(root)
                        .compression(Compression.ZSTD, 19)
                        .build()));
        Path out = Files.createDirectories(tmp.resolve("out"));
        sh(tmp, "zstd -q -t " + q(archive) + " && zstd -dc " + q(archive) + " | tar -xf - -C " + q(out));
        assertThat(TestTrees.snapshot(out)).isEqualTo(TestTrees.snapshot(root));
    }

    @Test
    void gnuTarExtractsThePlainArchiveToAnIdenticalTree() throws IOException {
        extractWithGnuTarAndCompare(Compression.NONE, "tar -xf");
    }

    private void extractWithGnuTarAndCompare(Compression compression, String tarCommand) throws IOException {
        extractWithGnuTarAndCompare(DirectorySource.builder(tmp.resolve("tree")).compression(compression), tarCommand);
    }

    private void extractWithGnuTarAndCompare(DirectorySource.Builder builder, String tarCommand) throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        DirectorySource source = builder.build();
        Path archive = Files.write(tmp.resolve("b" + source.suffix()), backup(source));
        Path out = Files.createDirectories(tmp.resolve("out"));
        String log = sh(tmp, tarCommand + " " + q(archive) + " -C " + q(out) + " 2>&1");
        assertThat(log).isEmpty(); // no warnings either
        assertThat(TestTrees.snapshot(out)).isEqualTo(TestTrees.snapshot(root));
    }

    @Test
    void doesNotCloseTheGivenStream() throws IOException {
        Path root = tmp.resolve("tree");
        TestTrees.createSampleTree(root);
        for (Compression c : Compression.values()) {
            boolean[] closed = {false};
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            OutputStream out = new FilterOutputStream(bytes) {
                @Override
                public void close() {
                    closed[0] = true;
                }
            };
            DirectorySource.builder(root).compression(c).build().writeTo(out);
            assertThat(closed[0]).as(c.id()).isFalse();
            assertThat(bytes.size()).isPositive();
        }
    }

    @Test
    void symlinkToADirectoryIsStoredNotFollowed() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("tree"));
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("secret"), "not to be backed up");
        Files.createSymbolicLink(root.resolve("out"), outside);
        Map<String, Object> facts = DirectorySource.builder(root).build().writeTo(new ByteArrayOutputStream());
        assertThat(facts)
                .containsEntry("fileCount", 0L)
                .containsEntry("symlinkCount", 1L)
                .containsEntry("totalBytes", 0L);
    }

    @Test
    void fifoIsSkippedAndCounted() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("tree"));
        Files.writeString(root.resolve("a"), "a");
        sh(root, "mkfifo pipe");
        Map<String, Object> facts = DirectorySource.builder(root).build().writeTo(new ByteArrayOutputStream());
        assertThat(facts).containsEntry("skipped", 1L).containsEntry("fileCount", 1L);
    }

    @Test
    void fileThatShrankIsPaddedWithZerosToTheHeaderSize() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long had = DirectorySource.copyExactly(
                new ByteArrayInputStream("abc".getBytes(StandardCharsets.US_ASCII)),
                out,
                10,
                new byte[4],
                Path.of("x"));
        assertThat(had).isEqualTo(3);
        byte[] expected = Arrays.copyOf("abc".getBytes(StandardCharsets.US_ASCII), 10);
        assertThat(out.toByteArray()).isEqualTo(expected);
    }

    @Test
    void fileThatGrewIsCutToTheHeaderSize() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long had = DirectorySource.copyExactly(
                new ByteArrayInputStream("abcdefghijkl".getBytes(StandardCharsets.US_ASCII)),
                out,
                5,
                new byte[2],
                Path.of("x"));
        assertThat(had).isEqualTo(6);
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("abcde");
    }

    @Test
    void fileOfUnchangedSizeIsCopiedAsIs() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long had = DirectorySource.copyExactly(
                new ByteArrayInputStream("abcde".getBytes(StandardCharsets.US_ASCII)),
                out,
                5,
                new byte[64],
                Path.of("x"));
        assertThat(had).isEqualTo(5);
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("abcde");
    }

    @Test
    void unreadableFileFailsNamingThePath() throws IOException {
        assumeFalse("root".equals(System.getProperty("user.name")), "root reads files whatever their mode");
        Path root = Files.createDirectories(tmp.resolve("tree"));
        Path locked = Files.writeString(root.resolve("locked.txt"), "x");
        FileTrees.setMode(locked, 0);
        try {
            assertThatThrownBy(() -> DirectorySource.builder(root).build().writeTo(new ByteArrayOutputStream()))
                    .isInstanceOf(SourceException.class)
                    .hasMessageContaining(locked.toString())
                    .hasMessageContaining("permission denied")
                    .hasMessageContaining("user that can read");
        } finally {
            FileTrees.setMode(locked, 0644);
        }
    }

    @Test
    void unreadableErrorSaysWhatToDo() {
        Path p = Path.of("/srv/x/locked.txt");
        SourceException e = DirectorySource.unreadable(p, new java.nio.file.AccessDeniedException(p.toString()));
        assertThat(e)
                .hasMessageContaining(p.toString())
                .hasMessageContaining("permission denied")
                .hasMessageContaining("Run the backup as a user that can read");
        assertThat(e.location()).contains(p.toString());
    }

    @Test
    void aFileNameThatIsNotValidUtf8FailsTheBackupInsteadOfBeingSkipped() throws Exception {
        Path tree = Files.createDirectories(tmp.resolve("badnames"));
        Files.writeString(tree.resolve("good.txt"), "ok");
        TestTrees.sh(tree, "printf x > $'bad\\xffname'");
        assertThatThrownBy(() -> DirectorySource.builder(tree).build().writeTo(OutputStream.nullOutputStream()))
                .isInstanceOf(com.jiffoo.backup.SourceException.class)
                .hasMessageContaining(tree.toString())
                .hasMessageContaining("cannot be backed up faithfully");
    }
}
