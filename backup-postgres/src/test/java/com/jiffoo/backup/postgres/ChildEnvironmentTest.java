package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.StagedRestore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the real pg_dump and pg_restore children see in their environment ({@code /proc/PID/environ}), while the
 * test JVM's own environment holds secrets: the pom sets {@link #PARENT_SECRETS} for surefire, as a cron job or a
 * Kubernetes pod sets them for the launcher.
 */
class ChildEnvironmentTest {
    /** Set by this module's pom (surefire's environmentVariables) in the JVM that runs the tests. */
    static final List<String> PARENT_SECRETS = List.of(
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "SLACK_WEBHOOK_URL",
            "DB_PASSWORD",
            "ENCRYPTION_KEY_FILE",
            "JIFFOO_UNRELATED_PROBE");

    private static final PgTestServer PG = PgTestServer.get();
    private static final String PASSWORD = "Deliberate-child-pw-1"; // trust auth: the server ignores it

    @TempDir
    Path dir;

    static String db;

    @BeforeAll
    static void createDatabase() throws Exception {
        db = PG.createDatabase("env_src");
        try (Connection c = PG.connect(db)) {
            ShopSchema.create(c, 200);
        }
    }

    @AfterAll
    static void dropDatabase() throws Exception {
        PG.dropDatabase(db);
    }

    private static PgConnection withPassword(String database) {
        return PG.connection(database).toBuilder()
                .password(PASSWORD.toCharArray())
                .build();
    }

    @Test
    void theTestJvmReallyHoldsTheSecrets() {
        for (String name : PARENT_SECRETS) {
            assertThat(System.getenv(name))
                    .as(name + " must be set for these tests (backup-postgres/pom.xml sets"
                            + " it for surefire; set it when running them elsewhere)")
                    .isNotBlank();
        }
    }

    @Test
    void pgDumpWaitingForALockHasOnlyTheAllowlistedEnvironment() throws Exception {
        PostgresSource source = PostgresSource.builder(withPassword(db)).build();
        AtomicReference<Object> result = new AtomicReference<>();
        Map<String, String> seen;
        try (Connection migration = PG.connect(db);
                Statement s = migration.createStatement()) {
            migration.setAutoCommit(false);
            s.execute("LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE"); // pg_dump waits for it, alive
            Thread job = new Thread(
                    () -> {
                        try {
                            result.set(source.writeTo(OutputStream.nullOutputStream()));
                        } catch (Throwable t) {
                            result.set(t);
                        }
                    },
                    "env-backup");
            job.start();
            ProcessHandle pgDump = await(
                    () -> ChildProcesses.pgDumps().stream()
                            .filter(h -> arguments(h).stream().anyMatch(a -> a.startsWith("--snapshot=")))
                            .findFirst()
                            .orElse(null),
                    result);
            seen = ProcessEnvironments.of(pgDump);
            migration.rollback();
            job.join(60_000);
        }
        assertThat(result.get())
                .as("the backup succeeded once the lock was gone")
                .isInstanceOf(Map.class);
        assertConnectingChild(seen, db, "jiffoo-backup pg_dump");
    }

    @Test
    void pgRestoreHasOnlyTheAllowlistedEnvironment() throws Exception {
        Path dump = PgTools.dump(db, dir.resolve("shop.dump"));
        String into = "jb_env_restored_" + Long.toHexString(System.nanoTime());
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(withPassword("postgres"), into);
        List<Map<String, String>> seen = new CopyOnWriteArrayList<>();
        try (InputStream in = ChildProcesses.onceAfterRead(
                        Files.newInputStream(dump),
                        1,
                        () -> ChildProcesses.awaitChildren("pg_restore", 1)
                                .forEach(h -> seen.add(ProcessEnvironments.of(h))));
                StagedRestore staged = target.stage(in, null)) {
            staged.commit();
        } finally {
            if (PG.databaseExists(into)) {
                PG.dropDatabase(into);
            }
        }
        // pg_restore is alive while its stdin is fed: the first bytes are read before it can finish
        assertThat(seen).hasSize(1);
        assertConnectingChild(seen.get(0), into, "jiffoo-backup pg_restore");
    }

    @Test
    void pgRestoreListCheckHasNoConnectionAndNoSecrets() throws Exception {
        Path dump = PgTools.dump(db, dir.resolve("shop.dump"));
        List<Map<String, String>> seen = new CopyOnWriteArrayList<>();
        try (InputStream in = ChildProcesses.onceAfterRead(
                        Files.newInputStream(dump),
                        1,
                        () -> ChildProcesses.awaitChildren("pg_restore", 2)
                                .forEach(h -> seen.add(ProcessEnvironments.of(h))));
                StagedRestore staged = PgRestoreListCheck.create().stage(in, null)) {
            staged.commit();
        }
        assertThat(seen).hasSize(2); // pg_restore --list and pg_restore --file=-
        for (Map<String, String> env : seen) {
            assertOnlyAllowlisted(env);
            assertThat(env.keySet())
                    .as("no libpq settings for a child that connects nowhere")
                    .noneMatch(k -> k.startsWith("PG"));
        }
    }

    @Test
    void theToolVersionProbeHasNoSecretsEither() throws Exception {
        // a real pg_dump behind a script that records the environment of every run (the probe ends at once)
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path records = Files.createDirectories(dir.resolve("env"));
        Path real = PgToolLocator.system().locateNewest("pg_dump").path();
        Path wrapper = bin.resolve("pg_dump");
        Files.writeString(
                wrapper, "#!/bin/sh\ncat /proc/$$/environ > \"" + records + "/$$\"\n" + "exec '" + real + "' \"$@\"\n");
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwx------"));
        PostgresSource.builder(withPassword(db)).binDirectory(bin).build().writeTo(OutputStream.nullOutputStream());
        List<Map<String, String>> runs = new ArrayList<>();
        try (Stream<Path> files = Files.list(records)) {
            for (Path f : files.toList()) {
                runs.add(ProcessEnvironments.parse(Files.readAllBytes(f)));
            }
        }
        assertThat(runs).as("pg_dump --version, then the dump").hasSize(2);
        List<Map<String, String>> probes =
                runs.stream().filter(e -> !e.containsKey("PGDATABASE")).toList();
        assertThat(probes).hasSize(1);
        assertOnlyAllowlisted(probes.get(0));
        assertThat(probes.get(0).keySet()).noneMatch(k -> k.startsWith("PG"));
    }

    @Test
    void inheritedLibpqVariablesAreReplacedOrDropped() {
        Map<String, String> parent = new HashMap<>(Map.of(
                "PGSERVICE",
                "evil",
                "PGHOSTADDR",
                "10.0.0.1",
                "PGPASSWORD",
                "inherited",
                "PGSSLROOTCERT",
                "/etc/ca.pem",
                "PATH",
                "/usr/bin",
                "PGOPTIONS",
                "-c role=admin",
                "PGPASSFILE",
                "/home/u/.pgpass",
                "LC_ALL",
                "C.UTF-8",
                "AWS_SECRET_ACCESS_KEY",
                "s",
                "JAVA_TOOL_OPTIONS",
                "-Dx=y"));
        parent.put("PGCLIENTENCODING", "LATIN1");
        parent.put("PGSERVICEFILE", "/etc/evil.conf");
        parent.put("PGHOST", "evil.example.com");
        Map<String, String> env = ChildEnvironment.of(parent, withPassword(db), "pg_dump");
        assertThat(env)
                .containsOnlyKeys(
                        "PATH",
                        "LC_ALL",
                        "PGSSLROOTCERT",
                        "PGHOST",
                        "PGPORT",
                        "PGUSER",
                        "PGDATABASE",
                        "PGSSLMODE",
                        "PGPASSWORD",
                        "PGAPPNAME")
                .containsEntry("PGPASSWORD", PASSWORD)
                .containsEntry("PGDATABASE", db)
                .containsEntry("PGHOST", PG.host())
                .containsEntry("PGAPPNAME", "jiffoo-backup pg_dump")
                .containsEntry("PGSSLROOTCERT", "/etc/ca.pem")
                .containsEntry("PATH", "/usr/bin");
        // without a password of its own, the connection may use the operator's pgpass file
        Map<String, String> noPassword = ChildEnvironment.of(
                parent, PG.connection(db).toBuilder().password(null).build(), "pg_restore");
        assertThat(noPassword).containsEntry("PGPASSFILE", "/home/u/.pgpass").doesNotContainKey("PGPASSWORD");
        // a child that connects nowhere gets no libpq variables at all
        assertThat(ChildEnvironment.of(parent, null, "pg_restore")).containsOnlyKeys("PATH", "LC_ALL");
    }

    @Test
    void noOtherCodeStartsAChildProcess() throws IOException {
        Path root = Path.of("").toAbsolutePath().getParent();
        List<String> starters = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root, 12)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")
                            && p.toString().contains("/src/main/java/")
                            // test support (s3rver, throwaway servers) and benchmarks ship in no product jar
                            && !p.startsWith(root.resolve("benchmarks"))
                            && !p.startsWith(root.resolve("backup-testing"))
                            && !p.startsWith(root.resolve("backup-testing-s3")))
                    .toList()) {
                String text = Files.readString(f);
                if ((text.contains("new ProcessBuilder(") || text.contains(".exec("))
                        && !f.getFileName().toString().equals("PgChild.java")) {
                    starters.add(root.relativize(f).toString());
                }
            }
        }
        assertThat(starters).as("child processes are started by PgChild only").isEmpty();
    }

    private static void assertConnectingChild(Map<String, String> env, String database, String application) {
        assertOnlyAllowlisted(env);
        assertThat(env)
                .containsEntry("PGDATABASE", database)
                .containsEntry("PGHOST", PG.host())
                .containsEntry("PGPORT", Integer.toString(PG.port()))
                .containsEntry("PGUSER", PG.user())
                .containsEntry("PGPASSWORD", PASSWORD)
                .containsEntry("PGAPPNAME", application)
                .containsKey("PATH");
    }

    private static void assertOnlyAllowlisted(Map<String, String> env) {
        assertThat(env)
                .doesNotContainKeys(PARENT_SECRETS.toArray(String[]::new))
                .doesNotContainKeys("JAVA_TOOL_OPTIONS", "JAVA_HOME", "MAVEN_OPTS");
        for (String name : PARENT_SECRETS) {
            String value = System.getenv(name);
            if (value != null) {
                assertThat(env.values()).as("the value of " + name).doesNotContain(value);
            }
        }
        assertThat(env.keySet()).as("only allowlisted names").allMatch(ProcessEnvironments::allowlisted);
    }

    private static ProcessHandle await(java.util.function.Supplier<ProcessHandle> find, AtomicReference<Object> job)
            throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        ProcessHandle h;
        while ((h = find.get()) == null && job.get() == null && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(h).as(() -> "the child started; the job: " + job.get()).isNotNull();
        return h;
    }

    private static List<String> arguments(ProcessHandle h) {
        return h.info().arguments().map(Arrays::asList).orElse(List.of());
    }
}
