package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.StagedRestore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 item 10: a small backup must not make a restore or a deep verification read a huge header into memory.
 * The hostile archives are written byte by byte with python3 ({@code craft-tar.py}), never with a tar library; where
 * a header declares more than the archive holds, the test feeds an endless filler after it and fails the test once
 * 64 MiB have been read: an unbounded reader would read on until the heap is gone (a 1.8 MB gzip of such an archive
 * drove a restore to 7.9 GB and an OutOfMemoryError).
 */
class TarBoundsTest {
    private static final long TRIPWIRE = 64L << 20;

    @TempDir
    Path tmp;

    /** The archive described by {@code json} (see craft-tar.py). */
    private byte[] craft(String json) throws IOException, URISyntaxException {
        Path script = Path.of(
                Objects.requireNonNull(getClass().getResource("craft-tar.py")).toURI());
        Path spec = Files.writeString(tmp.resolve("spec.json"), json);
        Path out = tmp.resolve("crafted.tar");
        sh(tmp, "python3 " + q(script) + " " + q(spec) + " " + q(out));
        return Files.readAllBytes(out);
    }

    /** {@code head}, then {@code filler} forever; counts what is read and fails the test past the tripwire. */
    private static class Endless extends InputStream {
        private final byte[] head;
        private final byte[] filler;
        long read;

        Endless(byte[] head, String filler) {
            this.head = head;
            this.filler = filler.getBytes(StandardCharsets.US_ASCII);
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (read > TRIPWIRE) {
                throw new AssertionError("read more than " + TRIPWIRE + " bytes of a crafted header: unbounded");
            }
            for (int i = 0; i < len; i++, read++) {
                b[off + i] =
                        read < head.length ? head[(int) read] : filler[(int) ((read - head.length) % filler.length)];
            }
            return len;
        }
    }

    private static Endless endless(byte[] head, String filler) {
        return filler == null
                ? new Endless(head, "") {
                    @Override
                    public int read(byte[] b, int off, int len) {
                        int n = (int) Math.min(len, head.length - read);
                        return n <= 0 ? -1 : super.read(b, off, n);
                    }
                }
                : new Endless(head, filler);
    }

    /**
     * Both readers of a backup's tar, the deep verification's listing and the restore, refuse {@code head} (followed
     * by {@code filler} forever, or by nothing when it is null), having read little of it.
     */
    private void assertRefusedByBoth(byte[] head, String filler, String... messageParts) throws IOException {
        Endless listed = endless(head, filler);
        assertThatThrownBy(() -> TarListCheck.create().stage(listed, null))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("limit")
                .message()
                .contains(messageParts);
        // at most the PAX limit (8 MiB) and 1 MiB, and a buffer
        assertThat(listed.read).as("bytes read before refusing").isLessThan(10L << 20);

        Path target = tmp.resolve("target");
        Endless restored = endless(head, filler);
        assertThatThrownBy(() -> DirectoryRestoreTarget.builder(target).build().stage(restored, null))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("limit")
                .message()
                .contains(messageParts);
        assertThat(restored.read).isLessThan(10L << 20); // the PAX limit (8 MiB) and 1 MiB at most
        assertThat(target).doesNotExist();
        assertThat(TestTrees.list(tmp)).noneMatch(n -> n.startsWith("."));
    }

    @Test
    void aPaxHeaderDeclaringGigabytesIsRefusedBeforeItIsRead() throws Exception {
        byte[] head = craft("{\"entries\": [{\"name\": \"./PaxHeaders/big\", \"type\": \"x\", \"size\": 1900000000,"
                + " \"body\": \"1900000000 path=\"}], \"end\": false}");
        assertRefusedByBoth(
                head,
                "a",
                "PAX extended header \"./PaxHeaders/big\"",
                "1900000000 bytes",
                "the limit is 8388608 bytes",
                "-Djiffoo.tar.maxPaxHeaderBytes=");
    }

    @Test
    void aGnuLongNameOrLinkNameDeclaringGigabytesIsRefused() throws Exception {
        for (String type : new String[] {"L", "K"}) {
            byte[] head = craft("{\"entries\": [{\"name\": \"first\", \"body\": \"ok\"}, {\"name\": \"././@LongLink\","
                    + " \"type\": \"" + type + "\", \"size\": 1900000000}], \"end\": false}");
            assertRefusedByBoth(
                    head,
                    "n",
                    type.equals("L") ? "GNU long name" : "GNU long link name",
                    "\"././@LongLink\"",
                    "after entry \"first\"",
                    "1 MiB");
        }
    }

    /** 20,000 empty PAX headers in a row (10 MB, a few kB gzipped): the reader recursed once per header. */
    @Test
    void aChainOfHeadersBeforeOneEntryIsBounded() throws Exception {
        byte[] tar = craft("{\"entries\": [{\"name\": \"./PaxHeaders/x\", \"type\": \"x\", \"count\": 20000},"
                + " {\"name\": \"a\", \"body\": \"hi\"}]}");
        assertRefusedByBoth(tar, null, "16 headers");
    }

    /** Global headers add up for the rest of the archive: their total is bounded too. */
    @Test
    void globalPaxHeadersAddUpToOneLimit() throws Exception {
        String big = "x".repeat(600_000);
        byte[] tar = craft("{\"entries\": [{\"name\": \"g1\", \"type\": \"g\", \"pax\": {\"comment\": \"" + big
                + "\"}}, {\"name\": \"a\", \"body\": \"hi\"}, {\"name\": \"g2\", \"type\": \"g\", \"pax\": {\"c2\": \""
                + big + "\"}}, {\"name\": \"b\", \"body\": \"hi\"}]}");
        assertRefusedByBoth(tar, null, "global PAX headers", "\"g2\"", "after entry \"a\"");
    }

    /** A PAX 1.0 sparse map is read after the header, from the entry's data: it counts towards the same bound. */
    @Test
    void aSparseMapOfGigabytesIsRefused() throws Exception {
        byte[] head = craft("{\"entries\": [{\"name\": \"./PaxHeaders/s\", \"type\": \"x\", \"pax\": {"
                + "\"GNU.sparse.major\": \"1\", \"GNU.sparse.minor\": \"0\", \"GNU.sparse.name\": \"s\","
                + " \"GNU.sparse.realsize\": \"1\"}}, {\"name\": \"s\", \"size\": 1900000000, \"body\":"
                + " \"900000000\\n\"}], \"end\": false}");
        assertRefusedByBoth(head, "0\n", "the limit is 9437184 bytes");
    }

    /**
     * The report's case end to end, in a heap of 32 MiB: a gzip (about 1 MB) of a tar whose PAX header declares
     * 1.9 GB and holds 256 MiB, restored in a child JVM. Unbounded, it ends in an OutOfMemoryError.
     */
    @Test
    void aPaxBombFailsFastInASmallHeap() throws Exception {
        byte[] head = craft("{\"entries\": [{\"name\": \"./PaxHeaders/big\", \"type\": \"x\", \"size\": 1900000000,"
                + " \"body\": \"1900000000 path=\"}], \"end\": false}");
        Path headFile = Files.write(tmp.resolve("head.tar"), head);
        Path bomb = tmp.resolve("bomb.tar.gz");
        sh(tmp, "{ cat " + q(headFile) + "; head -c 268435456 /dev/zero | tr '\\0' a; } | gzip -1 > " + q(bomb));
        assertThat(Files.size(bomb)).isLessThan(2L << 20);
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx32m",
                        "-cp",
                        System.getProperty("java.class.path"),
                        RestoreInSmallHeap.class.getName(),
                        bomb.toString(),
                        tmp.resolve("target").toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(out)
                .contains("IntegrityException", "\"./PaxHeaders/big\" declares 1900000000 bytes", "8388608 bytes")
                .doesNotContain("OutOfMemoryError");
        assertThat(tmp.resolve("target")).doesNotExist();
    }

    /** The child of {@link #aPaxBombFailsFastInASmallHeap()}: restores args[0] into args[1], prints the outcome. */
    static final class RestoreInSmallHeap {
        public static void main(String[] args) throws Exception {
            try (InputStream in = Files.newInputStream(Path.of(args[0]))) {
                DirectoryRestoreTarget.builder(Path.of(args[1]))
                        .build()
                        .stage(in, null)
                        .close();
                System.out.println("restored");
            } catch (Throwable e) {
                System.out.println(e);
            }
        }
    }

    /** What GNU tar writes for real trees stays well inside the limits: a 100 kB PAX record, 4,000-byte names. */
    @Test
    void realArchivesWithLongNamesAndLargeRecordsPass() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        String deep = ("d".repeat(200) + "/").repeat(19) + "f".repeat(150);
        Files.createDirectories(src.resolve(deep).getParent());
        Files.writeString(src.resolve(deep), "deep\n");
        Files.createSymbolicLink(src.resolve("link"), Path.of(deep));
        for (String format :
                new String[] {"--format=pax --pax-option=comment=" + "c".repeat(100_000), "--format=gnu"}) {
            Path tar = tmp.resolve("real.tar");
            sh(tmp, "tar " + format + " -C " + q(src) + " -cf " + q(tar) + " .");
            byte[] bytes = Files.readAllBytes(tar);
            try (StagedRestore listed = TarListCheck.create().stage(new ByteArrayInputStream(bytes), null)) {
                assertThat((Long) listed.facts().get("files")).isPositive();
            }
            Path target = tmp.resolve("restored");
            try (StagedRestore staged = DirectoryRestoreTarget.builder(target)
                    .replaceExisting(true)
                    .build()
                    .stage(
                            new SequenceInputStream(new ByteArrayInputStream(bytes), InputStream.nullInputStream()),
                            null)) {
                staged.commit();
            }
            assertThat(Files.readString(target.resolve(deep))).isEqualTo("deep\n");
            assertThat(Files.readSymbolicLink(target.resolve("link")).toString())
                    .isEqualTo(deep);
        }
    }
}
