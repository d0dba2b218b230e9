package com.jiffoo.backup.cli;

import com.jiffoo.backup.postgres.ProcessEnvironments;
import com.jiffoo.backup.postgres.ShopSchema;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The real jar started with the runbook's secrets in its environment, as cron or Kubernetes start it: the pg_dump and
 * pg_restore it runs (caught waiting for a lock, their environment read from /proc) hold none of them.
 */
class ChildEnvironmentIT {
    private static final String PASSWORD = "Jar-deliberate-db-pw-1";
    private static RunbookFixture rb;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        rb = RunbookFixture.start("cli_env");
    }

    @AfterAll
    static void stop() throws Exception {
        rb.close();
    }

    @Test
    void pgDumpAndPgRestoreOfTheJarSeeNoneOfItsSecrets() throws Exception {
        Path key = dir.resolve("backup.key");
        assertThat(Jar.run(dir, Map.of(), "keygen", key.toString()).exitCode()).isZero();
        Map<String, String> env = rb.env(key, "childenv");
        env.putIfAbsent("DB_PASSWORD", PASSWORD); // trust auth ignores it; pg_dump must get it as PGPASSWORD only
        env.put("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0JAR/B0ONLY/jarOnlyWebhookPath");
        env.put("JAVA_TOOL_OPTIONS", "-Djiffoo.child.env.probe=1");
        env.put("JIFFOO_UNRELATED_PROBE", "jar-only-unrelated-value");
        List<String> secrets = List.of("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SLACK_WEBHOOK_URL",
                "DB_PASSWORD", "ENCRYPTION_KEY_FILE", "JAVA_TOOL_OPTIONS", "JIFFOO_UNRELATED_PROBE");

        Map<String, String> dumpEnv;
        try (Connection migration = rb.pg().connect(rb.sourceDb()); Statement s = migration.createStatement()) {
            migration.setAutoCommit(false);
            s.execute("LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE"); // pg_dump waits, alive
            Jar.Started backup = Jar.start(dir, env, "backup", "database", "--json");
            dumpEnv = ProcessEnvironments.of(child(backup, "pg_dump", "--snapshot="));
            migration.rollback();
            Jar.Run done = backup.await();
            assertThat(done.exitCode()).as(done.toString()).isZero();
        }
        assertChild(dumpEnv, env, secrets, rb.sourceDb(), "jiffoo-backup pg_dump");

        // over an existing database whose table a reader holds: pg_restore --clean waits to drop it
        String existing = rb.pg().createDatabase("cli_env_existing");
        Map<String, String> over = new HashMap<>(env);
        over.put("DB_NAME", existing);
        Map<String, String> restoreEnv;
        try {
            try (Connection c = rb.pg().connect(existing)) {
                ShopSchema.create(c, 5);
            }
            try (Connection reader = rb.pg().connect(existing); Statement s = reader.createStatement()) {
                reader.setAutoCommit(false);
                s.execute("LOCK TABLE public.orders IN ACCESS SHARE MODE");
                Jar.Started restore = Jar.start(dir, over, "restore", "database", "--latest", "--existing", "--json");
                restoreEnv = ProcessEnvironments.of(child(restore, "pg_restore", "--clean"));
                reader.rollback();
                Jar.Run done = restore.await();
                assertThat(done.exitCode()).as(done.toString()).isZero();
            }
        } finally {
            rb.pg().dropDatabase(existing);
        }
        assertChild(restoreEnv, over, secrets, existing, "jiffoo-backup pg_restore");
    }

    private static void assertChild(Map<String, String> child, Map<String, String> parent, List<String> secrets,
            String db, String application) {
        assertThat(child).as("the child's environment").doesNotContainKeys(secrets.toArray(String[]::new))
                .containsEntry("PGDATABASE", db).containsEntry("PGHOST", parent.get("DB_HOST"))
                .containsEntry("PGPORT", parent.get("DB_PORT")).containsEntry("PGUSER", parent.get("DB_USER"))
                .containsEntry("PGPASSWORD", parent.get("DB_PASSWORD")) // the one secret it needs, deliberately
                .containsEntry("PGAPPNAME", application).containsKey("PATH");
        for (String name : secrets) {
            if (!name.equals("DB_PASSWORD")) {
                assertThat(child.values()).as("the value of " + name).doesNotContain(parent.get(name));
            }
        }
        assertThat(child.keySet()).as("only allowlisted names").allMatch(ProcessEnvironments::allowlisted);
    }

    /** The running child {@code tool} of the jar whose arguments include one starting with {@code argument}. */
    private static ProcessHandle child(Jar.Started jar, String tool, String argument) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline && jar.process().isAlive()) {
            ProcessHandle found = jar.process().descendants()
                    .filter(h -> h.info().command().map(c -> c.endsWith("/" + tool)).orElse(false))
                    .filter(h -> h.info().arguments().map(a -> Arrays.stream(a).anyMatch(x -> x.startsWith(argument)))
                            .orElse(false))
                    .findFirst().orElse(null);
            if (found != null) {
                return found;
            }
            Thread.sleep(20);
        }
        jar.process().destroyForcibly();
        throw new AssertionError(tool + " " + argument + "... was not seen running; the jar: " + jar.await());
    }
}
