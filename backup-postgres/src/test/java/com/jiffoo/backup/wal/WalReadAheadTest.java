package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link WalReadAhead} over real WAL of a throwaway cluster pushed into a local store: the spool holds the server's
 * bytes, at most the window at a time, refilled as the server takes segments; it stops at the last segment asked for
 * or the archive's end, and leaves no partial file.
 */
class WalReadAheadTest {
    private static List<Path> segments;
    private static Path keyFile;
    private static Path store;

    @TempDir
    Path tmp;

    @BeforeAll
    static void realWal() throws Exception {
        List<String> statements = new java.util.ArrayList<>(List.of("create table t (id int, pad text)"));
        for (int i = 0; i < 5; i++) {
            statements.add("insert into t select g, md5(g::text) from generate_series(1, 2000) g");
            statements.add("select pg_switch_wal()");
        }
        RealWal wal = RealWal.archive(5, statements.toArray(String[]::new));
        keyFile = wal.keyFile();
        segments = wal.segments();
        assertThat(segments).hasSizeGreaterThanOrEqualTo(5);
        store = wal.collected().getParent().resolve("store");
        WalArchive archive = archive();
        for (Path s : segments) {
            archive.push(s);
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

    private static String name(int i) {
        return segments.get(i).getFileName().toString();
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
