package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Real WAL for the tests: a throwaway cluster archives by {@code cp} into {@code collected} while the given statements
 * run, until at least {@code atLeast} files are archived (none failing); a key file lies beside.
 */
record RealWal(Path collected, Path keyFile) implements AutoCloseable {

    static RealWal archive(long atLeast, String... statements) throws Exception {
        Path base = Files.createTempDirectory("jiffoo-wal-test-");
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path collected = base.resolve("collected");
        Files.createDirectory(collected);
        Files.setPosixFilePermissions(collected, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path keyFile = TestKeys.keyFile(base, "backup.key");
        try (ThrowawayCluster pg = ThrowawayCluster.withArchiving(ThrowawayCluster.copyInto(collected));
                Connection c = pg.connect();
                Statement st = c.createStatement()) {
            for (String s : statements) {
                st.execute(s);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                try (ResultSet r = st.executeQuery("select archived_count, failed_count from pg_stat_archiver")) {
                    r.next();
                    assertThat(r.getLong(2)).as("archive failures").isZero();
                    if (r.getLong(1) >= atLeast) {
                        break;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("fewer than " + atLeast + " files archived in 60 s");
                }
                Thread.sleep(100);
            }
        }
        return new RealWal(collected, keyFile);
    }

    /** Deletes the directory the archived files, the key and whatever the test put beside them lie in. */
    @Override
    public void close() throws java.io.IOException {
        try (Stream<Path> walk = Files.walk(collected.getParent())) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** The archived files, sorted by name (not a copy the archiver left unfinished). */
    List<Path> files() throws java.io.IOException {
        try (Stream<Path> files = Files.list(collected)) {
            return files.filter(p -> !p.getFileName().toString().endsWith(".part"))
                    .sorted()
                    .toList();
        }
    }

    /** The archived segments, sorted. */
    List<Path> segments() throws java.io.IOException {
        return files().stream()
                .filter(p -> p.getFileName().toString().matches("[0-9A-F]{24}"))
                .toList();
    }
}
