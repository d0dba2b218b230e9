package com.jiffoo.backup.cli;

import static com.jiffoo.backup.cli.PitrIT.freePort;
import static com.jiffoo.backup.cli.PitrIT.query;
import static com.jiffoo.backup.cli.PitrIT.root;
import static com.jiffoo.backup.cli.PitrIT.sql;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.PitrFixture;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * {@code restore pitr} against an archive made by the real {@code wal-push} into a local store whose directory name
 * holds {@code %f} and {@code %41} (PostgreSQL replaces {@code %f} in restore_command; a {@code file:} URI would read
 * {@code %41} as "A"): a restore to the latest through it; the restore_command tried before the extraction (a key
 * file the server's user cannot read, an unknown {@code --owner}); a failed {@code --start} after the swap; and, last
 * (it damages the archive), a segment deleted with {@code rm}: {@code --latest}, a {@code --target-time} and a
 * {@code --target-lsn} past it refused before anything is extracted, {@code --to-gap} recovering what lies before it;
 * then the base backup's own first segment deleted: refused whatever the target.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PitrArchiveIT {
    static ThrowawayCluster pg;
    static Path work;
    static Path store;
    static Path key;
    static Map<String, String> env;

    @BeforeAll
    static void setUp() throws Exception {
        work = PitrFixture.workDirectory("jiffoo-pitr-archive-");
        store = PitrFixture.privateDirectory(work.resolve("st%f%41ore"));
        key = TestKeys.keyFile(work, "backup.key");
        // archive_command has the same placeholders: the % of the directory's name doubled
        pg = PitrFixture.archivingWithWalPush(
                Jar.path().resolveSibling("jiffoo-backup"), store.toString().replace("%", "%%"), store, key);
        env = PitrFixture.environment(pg, store, key);
        sql(pg, "CREATE TABLE orders (id int PRIMARY KEY, note text)");
        Jar.Run base = Jar.run(work, env, "backup", "base");
        assertThat(base.exitCode()).as(base.toString()).isZero();
        sql(pg, "INSERT INTO orders VALUES (1, 'A')");
        switchAndWait();
    }

    @AfterAll
    static void tearDown() throws Exception {
        PitrFixture.tearDown(pg, work);
    }

    @Test
    @Order(1)
    void aStoreWhosePathHoldsAPercentSignIsEscapedAndRecoveredThrough() throws Exception {
        Path dir = work.resolve("percent");
        int port = freePort();
        try {
            Jar.Run r = restore(dir, "--latest", "--start", "--port", Integer.toString(port), "--json");
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(Files.readString(dir.resolve("postgresql.auto.conf")))
                    .contains(" wal-fetch --store " + work + "/st%%f%%41ore --key-file ");
            JsonNode j = r.json();
            assertThat(j.path("recovery").path("state").asText()).isEqualTo("promoted");
            assertThat(j.path("wal").path("end").asText()).matches("[0-9A-F]{24}");
            assertThat(j.path("wal").hasNonNull("gap")).isFalse();
            assertThat(PitrIT.rows(port)).containsExactly("1 A");
        } finally {
            PitrIT.stop(dir);
        }
    }

    @Test
    @Order(2)
    void aKeyFileTheServersUserCannotReadIsFoundBeforeAnythingIsExtracted() throws Exception {
        Path rootOnly = work.resolve("root-only.key");
        Files.copy(key, rootOnly);
        Files.setPosixFilePermissions(rootOnly, PosixFilePermissions.fromString("rw-------"));
        Map<String, String> e = new HashMap<>(env);
        e.put("ENCRYPTION_KEY_FILE", rootOnly.toString());
        Path dir = work.resolve("preflight");
        Jar.Run r = Jar.run(work, e, "restore", "pitr", "--pgdata", dir.toString(), "--latest");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr())
                .contains("restore_command failed when run as the server will run it")
                .contains("as postgres")
                .contains("Nothing was restored");
        assertThat(dir).doesNotExist();
    }

    @Test
    @Order(3)
    void anOwnerThatIsNoUserIsRefusedBeforeAnyDownload() throws Exception {
        Path dir = work.resolve("owner");
        Jar.Run r = Jar.run(
                work, env, "restore", "pitr", "--pgdata", dir.toString(), "--latest", "--owner", "nosuchuser4711");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr()).contains("nosuchuser4711").contains("not a user");
        assertThat(dir).doesNotExist();
    }

    @Test
    @Order(4)
    void aStartThatFailsAfterTheSwapSaysWhatTheDirectoryHoldsNow() throws Exception {
        Path dir = work.resolve("after-swap");
        Path noBin = Files.createDirectory(work.resolve("no-bin"));
        Jar.Run r = restore(
                dir, "--latest", "--start", "--port", Integer.toString(freePort()), "--pg-bin", noBin.toString());
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr())
                .contains("No pg_ctl")
                .contains(dir + " now holds the base backup base/")
                .doesNotContain("discarded");
        assertThat(dir.resolve("recovery.signal")).exists();
    }

    @Test
    @Order(10)
    void aSegmentDeletedFromTheStoreIsRefusedBeforeTheExtractionAndToGapRestoresUpToIt() throws Exception {
        sql(pg, "INSERT INTO orders VALUES (2, 'B')");
        String lost = switchAndWait();
        String time = query(pg, "SELECT now()::text");
        sql(pg, "INSERT INTO orders VALUES (3, 'C')");
        String after = switchAndWait();
        // the accident: the segment's objects removed with rm, not with our code
        Path folder = store.resolve("wal/" + lost.substring(0, 16));
        List<String> objects;
        try (Stream<Path> files = Files.list(folder)) {
            objects = files.map(Path::toString)
                    .filter(f -> f.contains("/" + lost + "."))
                    .toList();
        }
        assertThat(objects).isNotEmpty();
        List<String> rm = new ArrayList<>(List.of("rm", "-f"));
        rm.addAll(objects);
        root(rm.toArray(String[]::new));

        Path dir = work.resolve("gap");
        Jar.Run latest = restore(dir, "--latest");
        assertThat(latest.exitCode()).as(latest.toString()).isEqualTo(5);
        assertThat(latest.stderr())
                .contains("missing " + lost)
                .contains("silently losing everything archived after it (up to " + after + ")")
                .contains("--to-gap")
                .contains("Nothing was extracted");
        assertThat(dir).doesNotExist();

        Jar.Run past = restore(dir, "--target-time", time);
        assertThat(past.exitCode()).as(past.toString()).isEqualTo(5);
        assertThat(past.stderr()).contains("missing " + lost).contains("--to-gap");
        assertThat(dir).doesNotExist();

        // the store's date of the last segment before the gap moved to 2099 with touch: the target is still refused,
        // by the time the segment's signed manifest records, not the date anyone who can write the store can set
        long n = Long.parseLong(lost.substring(16), 16);
        assertThat(n).isPositive();
        String beforeGap = lost.substring(0, 16) + String.format("%08X", n - 1);
        Path beforeManifest =
                store.resolve("wal/" + lost.substring(0, 16) + "/" + beforeGap + ".zst.gpg.manifest.json");
        assertThat(beforeManifest).exists();
        root("touch", "-d", "2099-01-01 00:00:00", beforeManifest.toString());
        Jar.Run forged = restore(dir, "--target-time", time);
        assertThat(forged.exitCode()).as(forged.toString()).isEqualTo(5);
        assertThat(forged.stderr())
                .contains("missing " + lost)
                .contains("when the last segment before the gap (" + beforeGap + ") was archived")
                .doesNotContain("2099");
        assertThat(dir).doesNotExist();

        // a position in the missing segment (16 MiB segments: log id, then the segment's first byte)
        String lsn = Long.toHexString(Long.parseLong(lost.substring(8, 16), 16)).toUpperCase() + "/"
                + Long.toHexString(Long.parseLong(lost.substring(16), 16) << 24).toUpperCase();
        Jar.Run pastLsn = restore(dir, "--target-lsn", lsn);
        assertThat(pastLsn.exitCode()).as(pastLsn.toString()).isEqualTo(5);
        assertThat(pastLsn.stderr()).contains("missing " + lost).contains("before the target " + lsn);
        assertThat(dir).doesNotExist();

        int port = freePort();
        try {
            Jar.Run toGap = restore(dir, "--to-gap", "--start", "--port", Integer.toString(port), "--json");
            assertThat(toGap.exitCode()).as(toGap.toString()).isZero();
            assertThat(toGap.json().path("wal").path("gap").asText()).startsWith(lost);
            assertThat(toGap.json().path("recovery").path("state").asText()).isEqualTo("promoted");
            assertThat(PitrIT.rows(port)).containsExactly("1 A");
        } finally {
            PitrIT.stop(dir);
        }

        // the base backup's own first segment gone: it can never become consistent, whatever the target
        String start;
        try (Stream<Path> manifests = Files.list(store.resolve("base"))) {
            Path m = manifests
                    .filter(f -> f.toString().endsWith(".manifest.json"))
                    .findFirst()
                    .orElseThrow();
            start = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(m.toFile())
                    .findValue("startWalSegment")
                    .asText();
        }
        root("sh", "-c", "rm -f '" + store + "/wal/" + start.substring(0, 16) + "/" + start + "'.*");
        Path base = work.resolve("no-base-wal");
        Jar.Run broken = restore(base, "--to-gap");
        assertThat(broken.exitCode()).as(broken.toString()).isEqualTo(5);
        assertThat(broken.stderr()).contains("missing " + start).contains("needs to become consistent");
        assertThat(base).doesNotExist();

        // the archive's tail gone (deleted, or archiving lagging): a new base backup's own stop segment is missing, so
        // no gap lies inside the archive, but the backup cannot become consistent
        Jar.Run newer = Jar.run(work, env, "backup", "base", "--json");
        assertThat(newer.exitCode()).as(newer.toString()).isZero();
        String stop = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(store.resolve(newer.json().path("key").asText() + ".manifest.json")
                        .toFile())
                .findValue("stopWalSegment")
                .asText();
        switchAndWait();
        try (Stream<Path> files = Files.list(store.resolve("wal/" + stop.substring(0, 16)))) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (name.length() >= 24 && name.substring(0, 24).compareTo(stop) >= 0) {
                    root("rm", "-f", f.toString());
                }
            }
        }
        Path tail = work.resolve("no-tail");
        Jar.Run cut = restore(tail, "--latest");
        assertThat(cut.exitCode()).as(cut.toString()).isEqualTo(5);
        assertThat(cut.stderr()).contains("before " + stop).contains("Nothing was extracted");
        assertThat(tail).doesNotExist();
    }

    private static Jar.Run restore(Path dir, String... args) {
        List<String> all = new ArrayList<>(List.of("restore", "pitr", "--pgdata", dir.toString()));
        all.addAll(List.of(args));
        return Jar.run(work, env, all.toArray(String[]::new));
    }

    private static String switchAndWait() throws Exception {
        String last = query(pg, "SELECT pg_walfile_name(pg_current_wal_lsn())");
        PitrFixture.switchAndWait(pg, PitrFixture.inStore(store));
        return last;
    }
}
