package com.jiffoo.backup.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link Sink} keeps, as a JUnit 5 suite a sink's test extends in a few lines:
 *
 * <pre>{@code
 * class LocalDirectorySinkContractTest extends SinkContractTest {
 *     @TempDir Path dir;
 *
 *     @Override
 *     protected Sink createSink() {
 *         return LocalDirectorySink.create(dir.resolve("store"));
 *     }
 * }
 * }</pre>
 *
 * <p>It checks: write, read, list (by prefix, sorted, sizes, past 1,000 keys), delete (absent keys too); an object is
 * visible only once committed; closing without a commit, also after a failure mid-stream, leaves nothing visible
 * (and, through {@link #openUploads()}, no multipart upload open); objects are write-once
 * ({@link ObjectExistsException}); keys with spaces and non-ASCII characters; an empty object; objects of at least
 * three {@linkplain #partSize() parts} round-trip byte for byte.
 *
 * <p>Each test gets a new sink from {@link #createSink()}, which must be empty (a fresh directory or key prefix),
 * and closes it afterwards.
 */
public abstract class SinkContractTest {
    /** The sink under test, created before each test and closed after it. */
    protected Sink sink;

    /** Creates an empty sink for one test. */
    protected abstract Sink createSink() throws Exception;

    /**
     * The size of one upload part of the sink under test, so the large-object test writes at least three parts;
     * 1 MiB by default (sinks without parts keep local runs fast).
     */
    protected long partSize() {
        return 1 << 20;
    }

    /**
     * The keys of multipart uploads (or temporary files) the store holds open for the sink under test; empty by
     * default, for stores that have none. Tests check it is empty after every discarded write.
     */
    protected List<String> openUploads() throws Exception {
        return List.of();
    }

    /** How many keys the pagination test writes: more than one list page of S3 (1,000). */
    protected int manyKeys() {
        return 1_010;
    }

    /** Creates the sink. */
    @BeforeEach
    void createSinkUnderTest() throws Exception {
        sink = createSink();
    }

    /** Closes the sink. */
    @AfterEach
    void closeSinkUnderTest() throws Exception {
        if (sink != null) {
            sink.close();
        }
    }

    @Test
    void committedObjectCanBeReadBack() throws Exception {
        put("database/a.bin", bytes("hello"));
        assertArrayEquals(bytes("hello"), read("database/a.bin"));
    }

    @Test
    void objectIsInvisibleUntilCommitted() throws Exception {
        try (SinkOutput out = sink.create("database/pending.bin")) {
            out.write(bytes("pending"));
            out.flush();
            assertTrue(sink.list("").isEmpty(), "listed before commit");
            assertThrows(NotFoundException.class, () -> sink.open("database/pending.bin"));
            out.commit();
        }
        assertEquals(List.of("database/pending.bin"), keys(""));
    }

    @Test
    void closeWithoutCommitLeavesNothing() throws Exception {
        try (SinkOutput out = sink.create("database/discarded.bin")) {
            out.write(new byte[1000]);
        }
        assertNothingVisible("database/discarded.bin");
    }

    @Test
    void failureMidStreamOfALargeObjectLeavesNothing() throws Exception {
        long size = 2 * partSize() + 1000;
        IOException failure = assertThrows(IOException.class, () -> {
            try (SinkOutput out = sink.create("database/failed.bin")) {
                writeRandom(out, size, 7);
                throw new IOException("source failed on purpose");
            }
        });
        assertEquals("source failed on purpose", failure.getMessage());
        assertNothingVisible("database/failed.bin");
    }

    /** What a killed writer leaves (neither committed nor closed) is a partial write, and discarding removes it. */
    @Test
    void anAbandonedWriteIsAPartialWriteUntilDiscarded() throws Exception {
        SinkOutput abandoned = sink.create("database/abandoned.bin");
        try {
            writeRandom(abandoned, 2 * partSize() + 1000, 9);
            abandoned.flush();
            List<Sink.PartialWrite> partial = sink.partialWrites("database/");
            if (openUploads().isEmpty()) {
                assertEquals(List.of(), partial, "a store that leaves nothing lists nothing");
                return;
            }
            assertEquals(
                    List.of("database/abandoned.bin"),
                    partial.stream().map(Sink.PartialWrite::key).toList());
            assertEquals(List.of(), sink.partialWrites("files/"));
            assertTrue(sink.list("").isEmpty(), "a partial write is not listed as an object");
            sink.discard(partial.get(0));
            sink.discard(partial.get(0)); // already gone: not an error
            assertEquals(List.of(), sink.partialWrites(""));
            assertEquals(List.of(), openUploads());
        } finally {
            try {
                abandoned.close();
            } catch (IOException | RuntimeException discarded) {
                // its upload was aborted under it, as prune does to a killed writer's
            }
        }
        assertNothingVisible("database/abandoned.bin");
    }

    @Test
    void objectsAreWriteOnce() throws Exception {
        SinkOutput first = sink.create("files/k.bin");
        SinkOutput second = sink.create("files/k.bin");
        try (first;
                second) {
            first.write(bytes("one"));
            second.write(bytes("two"));
            first.commit();
            ObjectExistsException e = assertThrows(ObjectExistsException.class, second::commit);
            assertEquals("files/k.bin", e.key());
        }
        assertArrayEquals(bytes("one"), read("files/k.bin"));
        assertTrue(openUploads().isEmpty(), "open uploads " + openUploads());
        sink.delete("files/k.bin");
        put("files/k.bin", bytes("three"));
        assertArrayEquals(bytes("three"), read("files/k.bin"));
    }

    @Test
    void emptyObjectRoundTrips() throws Exception {
        put("files/empty", new byte[0]);
        assertArrayEquals(new byte[0], read("files/empty"));
        assertEquals(0L, sink.list("files/").get(0).size());
    }

    @Test
    void listFiltersByPrefixSortsByKeyAndGivesSizes() throws Exception {
        put("files/b", new byte[2]);
        put("files/a", new byte[1]);
        put("database/c", new byte[3]);
        put("filesystem/d", new byte[4]);
        assertEquals(List.of("files/a", "files/b"), keys("files/"));
        assertEquals(List.of("files/a", "files/b", "filesystem/d"), keys("files"));
        assertEquals(List.of("database/c", "files/a", "files/b", "filesystem/d"), keys(""));
        assertEquals(3L, sink.list("database/").get(0).size());
        assertTrue(sink.list("nothing/").isEmpty());
    }

    @Test
    void listReturnsMoreThanOnePageOfKeys() throws Exception {
        int n = manyKeys();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String key = String.format("many/k%05d", i);
            put(key, new byte[] {(byte) i});
            expected.add(key);
        }
        put("other/x", new byte[1]);
        assertEquals(expected, keys("many/"));
        assertEquals(n + 1, sink.list("").size());
    }

    @Test
    void keysWithSpacesAndUnicodeRoundTrip() throws Exception {
        List<String> names = List.of("files/a b/c d.bin", "files/ünïcödé/日本語.bin", "files/plus+percent%20&=.bin");
        for (String k : names) {
            put(k, bytes(k));
        }
        assertEquals(names.stream().sorted().toList(), keys("files/"));
        for (String k : names) {
            assertArrayEquals(bytes(k), read(k), k);
        }
        for (String k : names) {
            sink.delete(k);
        }
        assertTrue(sink.list("").isEmpty());
    }

    @Test
    void largeObjectOfSeveralPartsRoundTripsByteForByte() throws Exception {
        long size = 3 * partSize() + 12_345;
        try (SinkOutput out = sink.create("database/large.bin")) {
            writeRandom(out, size, 42);
            out.commit();
        }
        assertEquals(size, sink.list("database/").get(0).size());
        MessageDigest expected = sha256();
        writeRandom(
                new java.io.OutputStream() {
                    @Override
                    public void write(int b) {
                        expected.update((byte) b);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) {
                        expected.update(b, off, len);
                    }
                },
                size,
                42);
        MessageDigest actual = sha256();
        long count = 0;
        try (InputStream in = sink.open("database/large.bin")) {
            byte[] buf = new byte[64 * 1024];
            int n;
            while ((n = in.read(buf)) >= 0) {
                actual.update(buf, 0, n);
                count += n;
            }
        }
        assertEquals(size, count);
        assertArrayEquals(expected.digest(), actual.digest());
        assertTrue(openUploads().isEmpty(), "open uploads " + openUploads());
    }

    @Test
    void deleteRemovesAndToleratesAbsentKeys() throws Exception {
        put("files/x", bytes("x"));
        sink.delete("files/x");
        sink.delete("files/x");
        sink.delete("files/never");
        assertTrue(sink.list("").isEmpty());
        assertThrows(NotFoundException.class, () -> sink.open("files/x"));
    }

    @Test
    void openOfMissingKeyNamesKeyAndStore() {
        NotFoundException e = assertThrows(NotFoundException.class, () -> sink.open("files/none"));
        assertTrue(e.getMessage().contains("files/none"), e.getMessage());
        assertTrue(e.getMessage().contains(sink.location()), e.getMessage());
    }

    @Test
    void locationIsNamed() {
        assertFalse(sink.location().isBlank());
    }

    /** Writes and commits an object. */
    protected void put(String key, byte[] content) throws IOException {
        try (SinkOutput out = sink.create(key)) {
            out.write(content);
            out.commit();
        }
    }

    /** Reads an object whole. */
    protected byte[] read(String key) throws IOException {
        try (InputStream in = sink.open(key)) {
            return in.readAllBytes();
        }
    }

    /** The keys listed under a prefix. */
    protected List<String> keys(String prefix) throws IOException {
        return sink.list(prefix).stream().map(StoredObject::key).toList();
    }

    private void assertNothingVisible(String key) throws Exception {
        assertTrue(sink.list("").isEmpty(), "listed: " + sink.list(""));
        assertThrows(NotFoundException.class, () -> sink.open(key));
        assertTrue(openUploads().isEmpty(), "open uploads " + openUploads());
    }

    /** Writes {@code size} pseudo-random bytes from {@code seed} in chunks of varying length. */
    private static void writeRandom(java.io.OutputStream out, long size, long seed) throws IOException {
        SplittableRandom data = new SplittableRandom(seed);
        SplittableRandom chunks = new SplittableRandom(seed + 1);
        byte[] buf = new byte[100_000];
        long left = size;
        while (left > 0) {
            int n = (int) Math.min(left, 1 + chunks.nextInt(buf.length));
            for (int i = 0; i < n; i++) {
                buf[i] = (byte) data.nextInt(256);
            }
            out.write(buf, 0, n);
            left -= n;
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
