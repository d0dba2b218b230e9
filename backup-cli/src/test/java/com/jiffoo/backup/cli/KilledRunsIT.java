package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.retention.Pruner;
import com.jiffoo.backup.retention.Retention;
import com.jiffoo.backup.s3.S3Sink;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * Nothing left behind after a {@code kill -9} (issue 11, item 8): the jar is started as a process, killed with
 * SIGKILL mid-way (no shutdown hook runs), and what it left is checked, then cleaned by the next run or by prune.
 */
class KilledRunsIT {
    private static RunbookFixture rb;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        rb = RunbookFixture.start("cli_killed");
    }

    @AfterAll
    static void stop() throws Exception {
        rb.close();
    }

    private Map<String, String> env(String prefix) {
        Path key = dir.resolve("backup.key");
        if (!Files.exists(key)) {
            Jar.Run keygen = Jar.run(dir, Map.of(), "keygen", key.toString());
            assertThat(keygen.exitCode()).as(keygen.toString()).isZero();
        }
        return rb.env(key, prefix);
    }

    /** A local store instead of S3. */
    private Map<String, String> localEnv() throws IOException {
        Map<String, String> env = env("unused");
        env.remove("S3_BUCKET");
        env.put("BACKUP_DIR", Files.createDirectories(dir.resolve("store")).toString());
        return env;
    }

    /** An uploads directory with {@code mib} MiB of incompressible data: gzip makes a backup take seconds. */
    private Path uploads(int mib) throws IOException {
        Path uploads = Files.createDirectories(dir.resolve("uploads"));
        RunbookFixture.writeRandom(uploads.resolve("big.bin"), mib, 13);
        return uploads;
    }

    private static void await(Jar.Started run, BooleanSupplier reached, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!reached.getAsBoolean() && run.process().isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(run.process().isAlive())
                .as("the run is still going when " + what)
                .isTrue();
        assertThat(reached.getAsBoolean()).as(what).isTrue();
    }

    /** SIGKILL: no shutdown hook, no finally block runs. */
    private static void kill9(Jar.Started run) throws InterruptedException {
        run.process().destroyForcibly();
        run.process().waitFor();
        Jar.Run killed = run.await();
        assertThat(killed.exitCode()).isEqualTo(137);
    }

    /** The staging directories of restores beside a target: each has a marker {@code <dir>.jiffoo-restore-<pid>}. */
    private static List<Path> staging(Path parent) {
        return named(parent, ".").stream()
                .filter(p -> p.getFileName().toString().matches(".+\\.jiffoo-restore-[0-9]+"))
                .map(p -> p.resolveSibling(p.getFileName().toString().replaceFirst("\\.jiffoo-restore-[0-9]+$", "")))
                .filter(Files::isDirectory)
                .toList();
    }

    private static List<Path> named(Path dir, String start) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(start)).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    @Test
    void aKilledBackupsTemporaryFileInALocalStoreIsDeletedByPruneAfterTheGracePeriod() throws Exception {
        Map<String, String> env = localEnv();
        env.put("SOURCE_DIR", uploads(200).toString());
        Path files = Path.of(env.get("BACKUP_DIR")).resolve("files");
        Jar.Started backup = Jar.start(dir, env, "backup", "files");
        await(backup, () -> !named(files, ".tmp-").isEmpty(), "a temporary file is written");
        kill9(backup);
        List<Path> left = named(files, ".tmp-");
        assertThat(left).as("kill -9 leaves the temporary file").hasSize(1);

        Jar.Run young = Jar.run(dir, env, "prune");
        assertThat(young.exitCode()).as(young.toString()).isZero();
        assertThat(left.get(0))
                .as("younger than the grace period: kept, it may be a running backup")
                .exists();

        Files.setLastModifiedTime(left.get(0), FileTime.from(Instant.now().minus(Duration.ofDays(2))));
        Jar.Run prune = Jar.run(dir, env, "prune", "--json");
        assertThat(prune.exitCode()).as(prune.toString()).isZero();
        assertThat(left.get(0)).as(prune.toString()).doesNotExist();
        assertThat(prune.stdout())
                .as(prune.toString())
                .contains(left.get(0).getFileName().toString());
    }

    @Test
    void aKilledBackupsMultipartUploadToS3IsAbortedByPrune() throws Exception {
        Map<String, String> env = env("killed");
        env.put("SOURCE_DIR", uploads(200).toString());
        Jar.Started backup = Jar.start(dir, env, "backup", "files");
        await(
                backup,
                () -> rb.s3().openMultipartUploads().stream().anyMatch(k -> k.startsWith("killed/")),
                "a multipart upload is open");
        kill9(backup);
        assertThat(rb.s3().openMultipartUploads())
                .as("kill -9 leaves the upload open")
                .anyMatch(k -> k.startsWith("killed/"));

        Jar.Run young = Jar.run(dir, env, "prune");
        assertThat(young.exitCode()).as(young.toString()).isZero();
        assertThat(rb.s3().openMultipartUploads())
                .as("younger than the grace period: it may be a running backup")
                .anyMatch(k -> k.startsWith("killed/"));

        // the jar's clock cannot be moved: prune as the jar does, a day and a half later
        try (S3Sink store = S3Sink.builder()
                .uri(rb.store("killed"))
                .endpointOverride(rb.s3().endpoint())
                .pathStyleAccess(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(rb.s3().accessKey(), rb.s3().secretKey())))
                .build()) {
            Pruner.PruneReport report = Pruner.builder()
                    .sink(store)
                    .policy(Retention.builder().keepLast(1).build())
                    .clock(Clock.offset(Clock.systemUTC(), Duration.ofHours(36)))
                    .build()
                    .prune("files", false);
            assertThat(report.partialWritesDiscarded())
                    .extracting(w -> w.key())
                    .singleElement()
                    .asString()
                    .startsWith("files/files_backup_");
        }
        assertThat(rb.s3().openMultipartUploads()).noneMatch(k -> k.startsWith("killed/"));
    }

    @Test
    void aKilledFilesRestoreLeavesAStagingDirectoryThatTheNextRestoreRemoves() throws Exception {
        Map<String, String> env = localEnv();
        env.put("SOURCE_DIR", uploads(200).toString());
        Jar.Run backup = Jar.run(dir, env, "backup", "files");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        Path parent = Files.createDirectories(dir.resolve("restores"));
        Path target = parent.resolve("uploads");
        Jar.Started restore = Jar.start(dir, env, "restore", "files", "--latest", "--target", target.toString());
        await(
                restore,
                () -> staging(parent).stream().anyMatch(p -> !named(p, "big").isEmpty()),
                "the staging directory is being filled");
        kill9(restore);
        List<Path> left = staging(parent);
        assertThat(left).as("kill -9 leaves the staging directory").hasSize(1);

        Jar.Run again = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString());
        assertThat(again.exitCode()).as(again.toString()).isZero();
        assertThat(target.resolve("big.bin")).hasSameBinaryContentAs(Path.of(env.get("SOURCE_DIR"), "big.bin"));
        try (Stream<Path> s = Files.list(parent)) {
            assertThat(s.map(p -> p.getFileName().toString()))
                    .as(again.toString())
                    .containsExactly("uploads");
        }
        assertThat(again.all()).contains("removed").contains(left.get(0).toString());
    }

    @Test
    void aKilledParallelRestoreLeavesNoSpoolNoRunningPgRestoreAndItsMarkedDatabaseIsDroppedByTheNextRestore()
            throws Exception {
        String big = rb.pg().createDatabase("cli_killed_big");
        String into = "jb_killed_" + Long.toHexString(System.nanoTime());
        String next = into + "_next";
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        Map<String, String> env = localEnv();
        env.put("DB_NAME", big);
        env.put("JAVA_TOOL_OPTIONS", "-Djava.io.tmpdir=" + tmp);
        Optional<ProcessHandle> pgRestore = Optional.empty();
        try {
            try (Connection c = rb.pg().connect(big);
                    Statement st = c.createStatement()) {
                st.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS s"
                        + " FROM generate_series(1, 1500000) g");
                st.execute("CREATE TABLE u AS SELECT g AS id, md5(g::text) AS s FROM generate_series(1, 1500000) g");
            }
            Jar.Run backup = Jar.run(dir, env, "backup", "database", "--compression-level", "1");
            assertThat(backup.exitCode()).as(backup.toString()).isZero();

            Jar.Started restore = Jar.start(dir, env, "restore", "database", "--latest", "--into", into, "--jobs", "2");
            java.util.concurrent.atomic.AtomicReference<ProcessHandle> seen =
                    new java.util.concurrent.atomic.AtomicReference<>();
            await(
                    restore,
                    () -> pgRestoreOf(restore)
                            .map(p -> seen.compareAndSet(null, p))
                            .isPresent(),
                    "pg_restore runs");
            pgRestore = Optional.of(seen.get());
            Thread.sleep(300); // pg_restore is loading
            assertThat(running(seen.get()))
                    .as("pg_restore is loading when the JVM is killed: " + Files.readString(restore.err()))
                    .isTrue();
            kill9(restore);

            try (Stream<Path> s = Files.walk(tmp)) {
                assertThat(s.filter(Files::isRegularFile).map(Path::toString))
                        .as("no plaintext spool outlives the process")
                        .noneMatch(p -> p.contains("pgrestore"));
            }
            ProcessHandle orphan = pgRestore.orElseThrow();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (running(orphan) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(running(orphan))
                    .as("pg_restore dies with the JVM, it does not finish unchecked")
                    .isFalse();
            assertThat(rb.pg().databaseExists(into))
                    .as("the half-restored database is left")
                    .isTrue();
            assertThat(comment(into)).as("and marked").startsWith("jiffoo-backup: restore in progress");

            Jar.Run again = Jar.run(dir, env, "restore", "database", "--latest", "--into", next);
            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(rb.pg().databaseExists(into))
                    .as("dropped by the next restore: " + again)
                    .isFalse();
            assertThat(again.all()).contains("dropped").contains(into);
            assertThat(comment(next)).as("a committed restore is not marked").isNull();
        } finally {
            pgRestore.ifPresent(ProcessHandle::destroyForcibly);
            for (String db : List.of(into, next, big)) {
                if (rb.pg().databaseExists(db)) {
                    rb.pg().dropDatabase(db);
                }
            }
        }
    }

    /** Alive and not a zombie (an orphan killed with the JVM may wait to be reaped by init). */
    private static boolean running(ProcessHandle p) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
            return p.isAlive() && stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException gone) {
            return false;
        }
    }

    private static Optional<ProcessHandle> pgRestoreOf(Jar.Started run) {
        return run.process()
                .toHandle()
                .children()
                .filter(p -> p.info().command().orElse("").endsWith("pg_restore"))
                // not the short `pg_restore --version` that finds the newest pg_restore
                .filter(p -> p.info().commandLine().orElse("").contains("--dbname"))
                .findFirst();
    }

    private static String comment(String database) throws Exception {
        try (Connection c = rb.pg().connect("postgres");
                PreparedStatement s = c.prepareStatement(
                        "SELECT shobj_description(oid, 'pg_database') FROM pg_database" + " WHERE datname = ?")) {
            s.setString(1, database);
            try (ResultSet r = s.executeQuery()) {
                assertThat(r.next()).isTrue();
                return r.getString(1);
            }
        }
    }
}
