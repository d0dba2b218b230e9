package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.monitor.Finding;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import com.jiffoo.backup.wal.WalArchive;
import com.jiffoo.backup.wal.WalArchiveCheck;
import com.jiffoo.backup.wal.WalContinuity;
import com.jiffoo.backup.wal.WalHead;
import com.jiffoo.backup.wal.WalSegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The archive's signed head ({@link WalHead}) on real WAL: a throwaway cluster archives by {@code cp}, a base backup
 * and every archived file are pushed into a local store by {@link WalArchive} (as {@code wal-push} does), and each
 * test works on its own copy of that store, changed as an attacker without the key would: objects removed with
 * {@code rm}, the head edited as a text editor would.
 */
class WalArchiveHeadTest {
    static ThrowawayCluster pg;
    static Path work;
    static Path archive;
    static Path store;
    static OpenPgpTransform pgp;
    static BackupTrust trust;
    static BackupManifest base;
    static List<String> segments = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        work = Files.createTempDirectory("jiffoo-wal-head-");
        // the server runs as another user: it copies into a directory it can write
        archive = Files.createDirectory(work.resolve("archive"));
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString("rwxrwxrwx"));
        pg = ThrowawayCluster.installed("archive_mode=on", "archive_command=" + ThrowawayCluster.copyInto(archive));
        Path key = TestKeys.keyFile(work, "backup.key");
        pgp = OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(key)).build();
        trust = BackupTrust.of(List.of(pgp));
        store = work.resolve("store");
        LocalDirectorySink sink = LocalDirectorySink.create(store);
        try (Connection c = pg.connect();
                Statement st = c.createStatement()) {
            st.execute("CREATE TABLE orders (id int, note text)");
        }
        base = BaseBackupSourceTest.backUp(pg.connection(), sink, key);
        pg.switchSegments(7, "INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 1000) g", archive);
        // the cluster as the base backup recorded it (the pushed files lie outside pg_wal, where it is read)
        String cluster = String.valueOf(base.sourceFacts().get(WalArchive.SYSTEM_IDENTIFIER));
        WalArchive wal = WalArchive.builder()
                .sink(sink)
                .encryption(pgp)
                .systemIdentifier(cluster)
                .build();
        try (var files = Files.list(archive)) {
            for (Path f : files.sorted().toList()) {
                String name = f.getFileName().toString();
                if (name.matches("[0-9A-F]{24}(\\.[0-9A-F]{8}\\.backup)?|[0-9A-F]{8}\\.history")) {
                    wal.push(f); // a backup history file does not move the head
                    if (WalSegment.isName(name)) {
                        segments.add(name);
                    }
                }
            }
        }
        assertThat(segments).hasSizeGreaterThanOrEqualTo(5);
        // pushed again: the head does not move back, a segment found archived keeps it
        wal.push(archive.resolve(segments.get(0)));
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (pg != null) {
            pg.close();
        }
        if (work != null) {
            ThrowawayCluster.deleteTree(work);
        }
    }

    @Test
    void thePushesLeaveASignedHeadNamingTheNewestSegment() throws Exception {
        LocalDirectorySink sink = copy("whole");
        WalHead.Status head = WalHead.read(sink, trust);
        assertThat(head.state()).isEqualTo(WalHead.State.VALID);
        assertThat(head.head().walFile()).isEqualTo(newest());
        String text = Files.readString(store.resolve(WalHead.KEY));
        assertThat(text).contains("\"walFile\":\"" + newest() + "\"").contains("\"signature\":\"");
        WalContinuity.Report r = continuity(sink);
        assertThat(r.continuous()).as(r.toString()).isTrue();
        assertThat(r.tailMissing()).isNull();
        assertThat(findings(sink)).isEmpty();
    }

    @Test
    void deletingTheNewestTwoSegmentsIsFoundAndALatestRestoreRefused() throws Exception {
        LocalDirectorySink sink = copy("tail");
        String lost1 = segments.get(segments.size() - 2);
        String lost2 = newest();
        rm(sink, lost1);
        rm(sink, lost2);
        String present = segments.get(segments.size() - 3);

        WalContinuity.Report r = continuity(sink);
        assertThat(r.gaps()).isEmpty(); // a listing alone sees nothing wrong
        assertThat(r.newestSegment()).isEqualTo(present);
        assertThat(r.tailMissing()).isNotNull();
        assertThat(r.tailMissing().headSegment()).isEqualTo(lost2);
        assertThat(r.tailMissing().newestPresent()).isEqualTo(present);
        assertThat(r.continuous()).isFalse();
        assertThat(r.headProblem()).contains("lost its tail", lost2, present);

        assertThat(findings(sink)).anySatisfy(f -> {
            assertThat(f.check()).isEqualTo("wal-head");
            assertThat(f.status()).isEqualTo(HealthStatus.CRITICAL);
            assertThat(f.message()).contains(lost2, present);
        });

        Path refused = work.resolve("refused");
        assertThatThrownBy(() -> restore(sink, refused, false).run())
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("Not restored to the latest")
                .hasMessageContaining(lost2)
                .hasMessageContaining("Nothing was extracted")
                .hasMessageContaining("--to-gap");
        assertThat(refused).doesNotExist();

        Path upToGap = work.resolve("to-gap");
        PitrRestore.Result done = restore(sink, upToGap, true).run();
        assertThat(done.reach().end()).isEqualTo(present);
        assertThat(upToGap.resolve("recovery.signal")).exists();
    }

    @Test
    void aHeadEditedAsATextEditorWouldIsInvalidAndCritical() throws Exception {
        LocalDirectorySink sink = copy("edited");
        Path head = sink.localRoot().orElseThrow().resolve(WalHead.KEY);
        // the attacker wants the head to name an older segment: one digit changed, the signature kept
        String text = Files.readString(head, StandardCharsets.UTF_8);
        String older = segments.get(segments.size() - 3);
        Files.writeString(head, text.replace(newest(), older), StandardCharsets.UTF_8);

        WalContinuity.Report r = continuity(sink);
        assertThat(r.head().state()).isEqualTo(WalHead.State.INVALID);
        assertThat(r.head().reason()).contains("HMAC does not match");
        assertThat(r.continuous()).isFalse();
        assertThat(r.headProblem()).contains("invalid");
        assertThat(findings(sink))
                .anySatisfy(f -> assertThat(f.check() + " " + f.status()).isEqualTo("wal-head CRITICAL"));
        assertThatThrownBy(() ->
                        restore(sink, work.resolve("edited-restore"), false).run())
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("invalid");

        Files.writeString(head, "{\"format\":1,", StandardCharsets.UTF_8); // truncated
        assertThat(WalHead.read(sink, trust).state()).isEqualTo(WalHead.State.INVALID);
    }

    @Test
    void deletingTheHeadWithTheTailIsFoundByTheNewestManifestsFact() throws Exception {
        LocalDirectorySink sink = copy("head-and-tail");
        rm(sink, segments.get(segments.size() - 2));
        rm(sink, newest());
        Files.delete(sink.localRoot().orElseThrow().resolve(WalHead.KEY)); // plain file deletion
        String present = segments.get(segments.size() - 3);
        assertThat(WalArchive.manifest(sink, trust, present, null).sourceFacts())
                .containsEntry(WalHead.KEPT, true);

        WalContinuity.Report r = continuity(sink);
        assertThat(r.gaps()).isEmpty();
        assertThat(r.head().state()).isEqualTo(WalHead.State.MISSING);
        assertThat(r.continuous()).isFalse();
        assertThat(r.headProblem()).contains("missing although the archive keeps one", present, "deleted");
        assertThat(findings(sink))
                .anySatisfy(f -> assertThat(f.check() + " " + f.status()).isEqualTo("wal-head CRITICAL"));
        assertThatThrownBy(() -> restore(sink, work.resolve("head-and-tail-restore"), false)
                        .run())
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("missing although");
        assertThat(work.resolve("head-and-tail-restore")).doesNotExist();
    }

    @Test
    void aHeadBeingReplacedIsNotTakenForADeletedOne() throws Exception {
        LocalDirectorySink sink = copy("replacing");
        Path head = sink.localRoot().orElseThrow().resolve(WalHead.KEY);
        Path aside = work.resolve("replacing-head");
        // as a push replacing the head does: the old one deleted, the new one written a moment later
        Files.move(head, aside);
        Thread back = new Thread(() -> {
            try {
                Thread.sleep(700);
                Files.move(aside, head);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        back.start();
        WalContinuity.Report r = continuity(sink);
        back.join();
        assertThat(r.head().state()).as(r.toString()).isEqualTo(WalHead.State.VALID);
        assertThat(r.continuous()).as(r.toString()).isTrue();
        assertThat(r.headProblem()).isNull();
    }

    @Test
    void aHeadThatStopsAdvancingIsAWarning() throws Exception {
        LocalDirectorySink sink = copy("stale");
        // as on a bucket that refuses the delete: the head stays where an hour-old push left it
        Files.delete(sink.localRoot().orElseThrow().resolve(WalHead.KEY));
        pushFirstAgain(sink, Clock.fixed(Instant.now().minus(Duration.ofHours(1)), ZoneOffset.UTC));
        assertThat(WalHead.read(sink, trust).head().walFile()).isEqualTo(segments.get(0));

        WalContinuity.Report r = continuity(sink);
        assertThat(r.continuous()).as(r.toString()).isTrue(); // not an error for a restore
        assertThat(r.headStale()).contains("not advancing", segments.get(0), newest(), "delete permission");
        List<Finding> found = findings(sink);
        assertThat(found)
                .anySatisfy(f -> assertThat(f.check() + " " + f.status()).isEqualTo("wal-head WARNING"));
        assertThat(found).noneMatch(f -> f.status() == HealthStatus.CRITICAL);

        // a head a few segments behind, written moments before (concurrent pushers), is no finding
        LocalDirectorySink recent = copy("recent");
        Files.delete(recent.localRoot().orElseThrow().resolve(WalHead.KEY));
        pushFirstAgain(recent, Clock.systemUTC());
        assertThat(continuity(recent).headStale()).isNull();
    }

    @Test
    void ignoreHeadSkipsOnlyTheHeadCheck() throws Exception {
        LocalDirectorySink sink = copy("garbage");
        // anyone with write access can put garbage there
        Files.writeString(sink.localRoot().orElseThrow().resolve(WalHead.KEY), "garbage", StandardCharsets.UTF_8);
        assertThatThrownBy(() ->
                        restore(sink, work.resolve("garbage-refused"), false).run())
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("invalid")
                .hasMessageContaining("--ignore-head");
        Path ignored = work.resolve("garbage-ignored");
        PitrRestore.Result done = PitrRestore.builder(sink, pgp, ignored)
                .backup(base.objectKey())
                .restoreCommand("cp " + archive + "/%f %p")
                .checkArchive(true)
                .ignoreHead(true)
                .build()
                .run();
        assertThat(done.reach().end()).isEqualTo(newest());
        assertThat(ignored.resolve("recovery.signal")).exists();

        // a real gap is still refused with --ignore-head
        LocalDirectorySink gap = copy("garbage-gap");
        Files.writeString(gap.localRoot().orElseThrow().resolve(WalHead.KEY), "garbage", StandardCharsets.UTF_8);
        rm(gap, segments.get(segments.size() - 2));
        assertThatThrownBy(() -> PitrRestore.builder(gap, pgp, work.resolve("garbage-gap-restore"))
                        .backup(base.objectKey())
                        .restoreCommand("cp " + archive + "/%f %p")
                        .checkArchive(true)
                        .ignoreHead(true)
                        .build()
                        .run())
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(segments.get(segments.size() - 2));
        assertThat(work.resolve("garbage-gap-restore")).doesNotExist();
    }

    /** Pushes the first segment again, into a store without a head: the head then names it, written at clock's now. */
    private static void pushFirstAgain(LocalDirectorySink sink, Clock clock) {
        WalArchive.builder()
                .sink(sink)
                .encryption(pgp)
                .systemIdentifier(String.valueOf(base.sourceFacts().get(WalArchive.SYSTEM_IDENTIFIER)))
                .clock(clock)
                .build()
                .push(archive.resolve(segments.get(0)));
    }

    private static String newest() {
        return segments.get(segments.size() - 1);
    }

    /** A copy of the store made with {@code cp -a}, for one test to change. */
    private static LocalDirectorySink copy(String name) throws Exception {
        Path to = work.resolve("store-" + name);
        Process p = new ProcessBuilder("cp", "-a", store.toString(), to.toString())
                .redirectErrorStream(true)
                .start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        return LocalDirectorySink.create(to);
    }

    /** Removes every object of an archived segment (data, signature, manifest), as {@code rm} would. */
    private static void rm(LocalDirectorySink sink, String segment) throws Exception {
        Path folder = sink.localRoot().orElseThrow().resolve("wal/" + segment.substring(0, 16));
        try (var files = Files.list(folder)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith(segment + "."))
                    .toList()) {
                Files.delete(f);
            }
        }
    }

    private static WalContinuity.Report continuity(LocalDirectorySink sink) {
        return WalContinuity.builder().sink(sink).trust(trust).build().check();
    }

    private static List<Finding> findings(LocalDirectorySink sink) {
        return WalArchiveCheck.create(trust, Duration.ofHours(1), null)
                .check(sink, ClockSkew.at(Instant.now(), ClockSkew.DEFAULT_TOLERANCE))
                .findings();
    }

    private static PitrRestore restore(LocalDirectorySink sink, Path dir, boolean upToGap) {
        return PitrRestore.builder(sink, pgp, dir)
                .backup(base.objectKey())
                .restoreCommand("cp " + archive + "/%f %p")
                .checkArchive(true)
                .upToGap(upToGap)
                .build();
    }
}
