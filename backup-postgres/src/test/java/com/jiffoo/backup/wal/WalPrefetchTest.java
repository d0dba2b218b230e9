package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link WalPrefetch} over real WAL of a throwaway cluster (six segments archived by {@code cp}, pushed into a local
 * store): what is asked for and what is read ahead are the server's bytes, the spool answers the next request, a spool
 * of another cluster is never used; and {@link WalReadAhead}, which keeps a spool filled: at most its window, refilled
 * as the server takes segments, up to the last one asked for or the archive's end, no partial file left.
 */
class WalPrefetchTest {
    private static RealWal wal;
    private static Path collected;
    private static List<Path> segments;
    private static Path keyFile;
    private static Path store;

    @TempDir
    Path tmp;

    @BeforeAll
    static void realWal() throws Exception {
        List<String> statements = new java.util.ArrayList<>(List.of("create table t (id int, pad text)"));
        for (int i = 0; i < 6; i++) {
            statements.add("insert into t select g, md5(g::text) from generate_series(1, 2000) g");
            statements.add("select pg_switch_wal()");
        }
        wal = RealWal.archive(6, statements.toArray(String[]::new));
        collected = wal.collected();
        keyFile = wal.keyFile();
        segments = wal.segments();
        Path base = collected.getParent();
        assertThat(segments).hasSizeGreaterThanOrEqualTo(6);
        store = base.resolve("store");
        WalArchive archive = archive();
        for (Path s : segments) {
            archive.push(s);
        }
    }

    @AfterAll
    static void removeTheWal() throws Exception {
        if (wal != null) {
            wal.close();
        }
    }

    private static WalArchive archive() {
        return WalArchive.builder()
                .sink(LocalDirectorySink.create(store))
                .encryption(OpenPgpTransform.builder()
                        .passphrase(PassphraseKeyFile.read(keyFile))
                        .build())
                .build();
    }

    private WalPrefetch prefetch(Path spool, int count, String systemId) {
        return WalPrefetch.builder()
                .archive(archive())
                .spool(spool)
                .count(count)
                .systemIdentifier(systemId)
                .build();
    }

    private static String name(Path p) {
        return p.getFileName().toString();
    }

    @Test
    void theFileAskedForAndTheNextOnesAreTheServersBytesAndTheSpoolAnswersNext() throws Exception {
        Path spool = tmp.resolve("spool");
        Path dest = tmp.resolve("RECOVERYXLOG");
        WalPrefetch p = prefetch(spool, 3, "42");

        assertThat(p.fetch(name(segments.get(0)), dest)).isEqualTo(WalArchive.Fetched.FOUND);
        assertThat(Files.mismatch(dest, segments.get(0))).isEqualTo(-1L);
        for (int i = 1; i <= 3; i++) {
            Path ahead = spool.resolve(name(segments.get(i)));
            assertThat(ahead).as("read ahead").exists();
            assertThat(Files.mismatch(ahead, segments.get(i))).isEqualTo(-1L);
        }
        assertThat(spool.resolve(name(segments.get(4)))).doesNotExist(); // only 3 ahead
        assertThat(Files.readString(spool.resolve(WalPrefetch.SYSTEM_ID_FILE))).isEqualTo("42");

        // the next request comes from the spool (the file moves out of it) and reads further ahead only when asked
        Files.delete(dest);
        assertThat(p.fetch(name(segments.get(1)), dest)).isEqualTo(WalArchive.Fetched.FOUND);
        assertThat(Files.mismatch(dest, segments.get(1))).isEqualTo(-1L);
        assertThat(spool.resolve(name(segments.get(1)))).doesNotExist();

        // asking for a later one drops what recovery passed
        Files.delete(dest);
        assertThat(p.fetch(name(segments.get(3)), dest)).isEqualTo(WalArchive.Fetched.FOUND);
        assertThat(spool.resolve(name(segments.get(2)))).doesNotExist();
        assertThat(Files.mismatch(dest, segments.get(3))).isEqualTo(-1L);
    }

    @Test
    void aSpoolFilledForAnotherClusterIsEmptiedNotUsed() throws Exception {
        Path spool = tmp.resolve("spool");
        Files.createDirectories(spool);
        // what a spool of another restore (or a planted file) holds: the right name, other bytes
        Files.writeString(spool.resolve(WalPrefetch.SYSTEM_ID_FILE), "99", StandardCharsets.UTF_8);
        Files.write(spool.resolve(name(segments.get(0))), new byte[16 << 20]);
        Path dest = tmp.resolve("RECOVERYXLOG");

        assertThat(prefetch(spool, 0, "42").fetch(name(segments.get(0)), dest)).isEqualTo(WalArchive.Fetched.FOUND);
        assertThat(Files.mismatch(dest, segments.get(0))).isEqualTo(-1L);
        assertThat(Files.readString(spool.resolve(WalPrefetch.SYSTEM_ID_FILE))).isEqualTo("42");
    }

    @Test
    void theEndOfTheArchiveIsNotFoundAndLeavesNothingBehind() throws Exception {
        Path spool = tmp.resolve("spool");
        Path last = segments.get(segments.size() - 1);
        Path dest = tmp.resolve("RECOVERYXLOG");
        List<String> after = WalPrefetch.following(name(last), 2);

        assertThat(prefetch(spool, 4, "42").fetch(after.get(0), dest)).isEqualTo(WalArchive.Fetched.NOT_FOUND);
        assertThat(dest).doesNotExist();
        try (Stream<Path> left = Files.list(spool)) {
            assertThat(left.map(WalPrefetchTest::name)).containsExactly(WalPrefetch.SYSTEM_ID_FILE);
        }
    }

    @Test
    void followingStaysOnTheTimelineAndInTheLogFile() {
        assertThat(WalPrefetch.following("00000002000000030000000E", 3))
                .containsExactly("00000002000000030000000F", "000000020000000300000010", "000000020000000300000011");
        assertThat(WalPrefetch.following("0000000100000003FFFFFFFE", 3)).containsExactly("0000000100000003FFFFFFFF");
        // 16 MiB segments: a log file ends at FF, no name after it is asked for
        assertThat(WalPrefetch.following("0000000100000003000000FE", 3)).containsExactly("0000000100000003000000FF");
    }

    private static String name(int i) {
        return WalPrefetchTest.name(segments.get(i));
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(condition.getAsBoolean()).as("within 60 s").isTrue();
    }

    private List<String> spooled(Path spool) throws Exception {
        try (Stream<Path> files = Files.list(spool)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void keepsAWindowOfTheServersBytesRefilledAsTheServerTakesThemUntilTheArchiveEnds() throws Exception {
        Path spool = Files.createDirectory(tmp.resolve("spool"));
        try (WalReadAhead ahead = WalReadAhead.builder()
                .archive(archive())
                .spool(spool)
                .first(WalSegment.parse(name(0), WalSegment.DEFAULT_SIZE))
                .window(2)
                .start()) {
            await(() -> Files.exists(spool.resolve(name(1))));
            Thread.sleep(500);
            assertThat(spooled(spool)).as("the window").containsExactly(name(0), name(1));
            for (int i = 0; i < segments.size(); i++) {
                int taken = i;
                await(() -> Files.exists(spool.resolve(name(taken))));
                assertThat(Files.mismatch(spool.resolve(name(i)), segments.get(i)))
                        .isEqualTo(-1L);
                // the server takes it (the launcher moves it into pg_wal): the next one is read
                Files.move(
                        spool.resolve(name(i)),
                        tmp.resolve("RECOVERYXLOG"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            await(() -> ahead.fetched() == segments.size());
        }
        assertThat(spooled(spool))
                .as("nothing partial left; the end of the archive stopped it")
                .isEmpty();
    }

    @Test
    void stopsAfterTheLastSegmentRecoveryNeedsAndGoesOnAfterWhatAWalFetchReadAhead() throws Exception {
        Path spool = Files.createDirectory(tmp.resolve("spool"));
        // a wal-fetch started on a miss read segment 1 ahead: the thread goes on after it
        Files.copy(segments.get(1), spool.resolve(name(1)));
        try (WalReadAhead ahead = WalReadAhead.builder()
                .archive(archive())
                .spool(spool)
                .first(WalSegment.parse(name(1), WalSegment.DEFAULT_SIZE))
                .last(name(3)::equals)
                .window(4)
                .start()) {
            await(() -> Files.exists(spool.resolve(name(3))));
            Thread.sleep(500);
            assertThat(ahead.fetched()).isEqualTo(2);
        }
        assertThat(spooled(spool)).containsExactly(name(1), name(2), name(3));
        assertThat(Files.mismatch(spool.resolve(name(2)), segments.get(2))).isEqualTo(-1L);
        assertThat(Files.mismatch(spool.resolve(name(3)), segments.get(3))).isEqualTo(-1L);
    }
}
