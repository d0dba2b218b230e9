package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.jiffoo.backup.postgres.MallSchema;
import com.jiffoo.backup.postgres.PgToolLocator;
import com.jiffoo.backup.postgres.ProcessEnvironments;
import com.jiffoo.backup.postgres.ShopSchema;
import com.jiffoo.backup.postgres.TableHashes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The runbook's database procedures with the real jar as a process: a backup to S3 (S3Proxy) configured by the
 * runbook's environment variables alone, list, quick and deep verification, and the restore test — into a new
 * database, compared table by table with the source.
 */
class DatabaseCommandsIT {
    private static RunbookFixture rb;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        rb = RunbookFixture.start("cli_src");
    }

    @AfterAll
    static void stop() throws Exception {
        rb.close();
    }

    private Map<String, String> runbookEnv(Path key) {
        return rb.env(key, "prod");
    }

    /** An uploads directory holding {@code mib} MiB of incompressible data in one file (0: a small file). */
    private Path uploads(int mib) throws Exception {
        Path uploads = dir.resolve("uploads");
        Files.createDirectories(uploads);
        Path big = uploads.resolve("big.bin");
        RunbookFixture.writeRandom(big, mib, 11);
        Files.write(big, new byte[] {'a'}, java.nio.file.StandardOpenOption.APPEND);
        return uploads;
    }

    @Test
    void backupListVerifyAndRestoreIntoANewDatabaseAsTheRunbookDoes() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
                .isEqualTo("rw-------");
        Map<String, String> env = runbookEnv(key);

        Jar.Run backup = Jar.run(dir, env, "backup", "database", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        JsonNode b = backup.json();
        assertThat(b.get("status").asText()).isEqualTo("ok");
        String objectKey = b.get("key").asText();
        assertThat(objectKey).matches("database/db_backup_\\d{8}_\\d{6}\\.sql\\.gpg");
        assertThat(b.get("location").asText()).isEqualTo("s3://" + rb.s3().bucket() + "/prod");
        assertThat(backup.stderr())
                .as("quiet: no progress and no log lines when not on a terminal")
                .isEmpty();
        assertNoSecrets(backup);

        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(list.json().get("backups").get(0).get("key").asText()).isEqualTo(objectKey);
        Jar.Run listText = Jar.run(dir, env, "list", "--check");
        assertThat(listText.exitCode()).as(listText.toString()).isZero();
        assertThat(listText.stdout()).contains(b.get("id").asText()).contains("ok");

        Jar.Run quick = Jar.run(dir, env, "verify", "--latest");
        assertThat(quick.exitCode()).as(quick.toString()).isZero();
        assertThat(quick.stdout()).contains("quick verification passed").contains(objectKey);
        String uri = "s3://" + rb.s3().bucket() + "/prod/" + objectKey;
        Jar.Run deep = Jar.run(dir, env, "verify", "--deep", uri, "--json");
        assertThat(deep.exitCode()).as(deep.toString()).isZero();
        assertThat(deep.json().get("results").get(0).get("verified").asText()).isEqualTo("deep");

        String restored = "jb_cli_restored_" + Long.toHexString(System.nanoTime());
        try {
            Jar.Run restore = Jar.run(dir, env, "restore", "database", uri, "--into", restored, "--json");
            assertThat(restore.exitCode()).as(restore.toString()).isZero();
            assertThat(restore.json().get("rowCountsMatch").asBoolean()).isTrue();
            assertNoSecrets(restore);
            try (Connection src = rb.pg().connect(rb.sourceDb());
                    Connection dst = rb.pg().connect(restored)) {
                assertThat(TableHashes.of(dst)).isEqualTo(TableHashes.of(src));
            }
            Jar.Run again = Jar.run(dir, env, "restore", "database", "--latest", "--into", restored);
            assertThat(again.exitCode()).as(again.toString()).isEqualTo(2); // refused before the store is read
            assertThat(again.stderr()).contains("already exists");
            assertThat(again.stderr().lines().filter(l -> l.startsWith("error: ")))
                    .singleElement()
                    .asString()
                    .contains("--existing")
                    .doesNotContain("existingDatabase(...)");
        } finally {
            rb.pg().dropDatabase(restored);
        }

        // over an existing database (DB_NAME), as after losing production data
        String existing = rb.pg().createDatabase("cli_existing");
        String previous = null;
        try {
            try (Connection c = rb.pg().connect(existing)) {
                ShopSchema.create(c, 5);
            }
            Map<String, String> over = new HashMap<>(env);
            over.put("DB_NAME", existing);
            Jar.Run restore = Jar.run(dir, over, "restore", "database", objectKey, "--existing");
            assertThat(restore.exitCode()).as(restore.toString()).isZero();
            try (Connection src = rb.pg().connect(rb.sourceDb());
                    Connection dst = rb.pg().connect(existing)) {
                assertThat(TableHashes.of(dst)).isEqualTo(TableHashes.of(src));
            }
            // a table created after the backup is not in it: the restored database replaces DB_NAME, and the
            // previous content is kept under another name (and named), not silently dropped; that is no reason to
            // call a complete restore damaged (it exited 5, "do not rely on it")
            try (Connection c = rb.pg().connect(existing);
                    java.sql.Statement st = c.createStatement()) {
                st.execute("CREATE TABLE public.made_after_the_backup (x int)");
            }
            Jar.Run again = Jar.run(dir, over, "restore", "database", objectKey, "--existing", "--json");
            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(again.json().get("rowCountsMatch").asBoolean()).isTrue();
            previous = again.json().get("previousDatabaseKept").asText();
            assertThat(previous).startsWith(existing + "_jbp_");
            assertThat(again.json().get("relationsOnlyInPrevious").toString()).contains("public.made_after_the_backup");
            try (Connection src = rb.pg().connect(rb.sourceDb());
                    Connection dst = rb.pg().connect(existing);
                    Connection kept = rb.pg().connect(previous)) {
                assertThat(TableHashes.of(dst)).isEqualTo(TableHashes.of(src));
                assertThat(TableHashes.of(kept).tables()).containsKey("public.made_after_the_backup");
            }
        } finally {
            rb.pg().dropDatabase(existing);
            if (previous != null) {
                rb.pg().dropDatabase(previous);
            }
        }
    }

    /**
     * A database with declarative partitions, inheritance, materialized views, extensions and large objects
     * ({@link MallSchema}): restored with {@code --into} it exits 0 with {@code rowCountsMatch} (it exited 5, the
     * partitions counted on one side and their parents on the other), and {@code --existing} over a changed copy
     * (pg_restore --clean failed: "cannot drop inherited constraint") gives the backup's content back.
     */
    @Test
    void aPartitionedDatabaseRestoresIntoANewOneAndOverAChangedOneWithMatchingRowCounts() throws Exception {
        String mall = rb.pg().createDatabase("cli_mall");
        String restored = "jb_cli_mall_restored_" + Long.toHexString(System.nanoTime());
        try {
            MallSchema.create(rb.pg(), mall);
            Map<String, String> env = new HashMap<>(rb.env(RunbookFixture.keyFile(dir), "mall"));
            env.put("DB_NAME", mall);
            Jar.Run backup = Jar.run(dir, env, "backup", "database", "--json");
            assertThat(backup.exitCode()).as(backup.toString()).isZero();

            Jar.Run restore = Jar.run(dir, env, "restore", "database", "--latest", "--into", restored, "--json");
            assertThat(restore.exitCode()).as(restore.toString()).isZero();
            assertThat(restore.json().get("rowCountsMatch").asBoolean()).isTrue();
            try (Connection src = rb.pg().connect(mall);
                    Connection dst = rb.pg().connect(restored)) {
                assertThat(TableHashes.of(dst)).isEqualTo(TableHashes.of(src));
                assertThat(MallSchema.extras(dst)).isEqualTo(MallSchema.extras(src));
            }

            try (Connection c = rb.pg().connect(restored);
                    Statement st = c.createStatement()) {
                st.execute("DELETE FROM sales.orders_2025_12 WHERE id % 2 = 0; UPDATE ops.notes SET body = 'x'");
            }
            Map<String, String> over = new HashMap<>(env);
            over.put("DB_NAME", restored);
            Jar.Run again = Jar.run(dir, over, "restore", "database", "--latest", "--existing", "--json");
            assertThat(again.exitCode()).as(again.toString()).isZero();
            assertThat(again.json().get("rowCountsMatch").asBoolean()).isTrue();
            assertThat(again.json().has("previousDatabaseKept")).isFalse();
            try (Connection src = rb.pg().connect(mall);
                    Connection dst = rb.pg().connect(restored)) {
                assertThat(TableHashes.of(dst)).isEqualTo(TableHashes.of(src));
            }
        } finally {
            rb.pg().dropDatabase(restored);
            rb.pg().dropDatabase(mall);
        }
    }

    @Test
    void minioEndpointSelectsTheMinioClient() throws Exception {
        Path uploads = uploads(0);
        Map<String, String> env = runbookEnv(RunbookFixture.keyFile(dir));
        env.remove("S3_ENDPOINT");
        env.put("MINIO_ENDPOINT", rb.s3().endpoint().toString());
        env.put("S3_BUCKET", rb.s3().bucket() + "/minio");
        env.put("SOURCE_DIR", uploads.toString());
        Jar.Run backup = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        String objectKey = backup.json().get("key").asText();
        Jar.Run verify = Jar.run(dir, env, "verify", "--deep", "s3://" + rb.s3().bucket() + "/minio/" + objectKey);
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        // the location the tool prints for a MinIO store names the backup too
        String printed = backup.json().get("location").asText() + "/" + objectKey;
        assertThat(printed).startsWith("minio://");
        Jar.Run byPrinted = Jar.run(dir, env, "verify", printed);
        assertThat(byPrinted.exitCode()).as(byPrinted.toString()).isZero();
        Jar.Run missing = Jar.run(dir, env, "verify", "files/files_backup_20200101_000000.tar.gz.gpg", "--json");
        assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(8);
        assertThat(missing.json().get("error").asText()).isEqualTo("NOT_FOUND");
    }

    @Test
    void wrongStoreCredentialsAreNamedWithoutShowingThem() throws Exception {
        Map<String, String> env = runbookEnv(RunbookFixture.keyFile(dir));
        env.put("AWS_SECRET_ACCESS_KEY", "wrong-secret-0123456789abcdef");
        Jar.Run r = Jar.run(dir, env, "list", "--json");
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.json().get("error").asText()).isEqualTo("CONFIGURATION");
        assertThat(r.stderr()).contains("AWS_SECRET_ACCESS_KEY");
        assertThat(r.all())
                .doesNotContain("wrong-secret-0123456789abcdef")
                .doesNotContain(rb.s3().secretKey());
    }

    @Test
    void aStoppedBackupAbortsItsUploadAndCommitsNothing() throws Exception {
        Path uploads = uploads(256); // incompressible: gzip makes the backup take seconds
        Map<String, String> env = rb.env(RunbookFixture.keyFile(dir), "stopped");
        env.put("SOURCE_DIR", uploads.toString());
        Jar.Started backup = Jar.start(dir, env, "backup", "files");
        while (rb.s3().openMultipartUploads().stream().noneMatch(k -> k.startsWith("stopped/"))
                && backup.process().isAlive()) {
            Thread.sleep(20);
        }
        assertThat(backup.process().isAlive())
                .as("the upload started before the backup ended")
                .isTrue();
        backup.process().destroy(); // SIGTERM, as Kubernetes and systemd stop a job
        Jar.Run stopped = backup.await();
        assertThat(stopped.exitCode()).as(stopped.toString()).isNotZero();
        assertThat(stopped.stderr()).contains("was stopped; cleaning up");
        assertThat(rb.s3().openMultipartUploads()).noneMatch(k -> k.startsWith("stopped/"));
        Jar.Run list = Jar.run(dir, env, "list", "--json");
        assertThat(list.json().get("backups")).isEmpty();
    }

    @Test
    void aStoppedRestoreFromALocalStoreDropsTheNewDatabase() throws Exception {
        String big = rb.pg().createDatabase("cli_big");
        String into = "jb_cli_stopped_" + Long.toHexString(System.nanoTime());
        try {
            try (Connection c = rb.pg().connect(big);
                    java.sql.Statement st = c.createStatement()) {
                st.execute("CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS s"
                        + " FROM generate_series(1, 1500000) g");
            }
            Path store = Files.createDirectories(dir.resolve("store"));
            Map<String, String> env = runbookEnv(RunbookFixture.keyFile(dir));
            env.remove("S3_BUCKET");
            env.put("BACKUP_DIR", store.toString());
            env.put("DB_NAME", big);
            Jar.Run backup = Jar.run(dir, env, "backup", "database", "--compression-level", "1");
            assertThat(backup.exitCode()).as(backup.toString()).isZero();
            Jar.Started restore = Jar.start(dir, env, "restore", "database", "--latest", "--into", into);
            while (restore.process().isAlive() && !rb.pg().databaseExists(into)) {
                Thread.sleep(10);
            }
            Thread.sleep(300); // pg_restore is loading
            assertThat(restore.process().isAlive())
                    .as("the restore started before it ended")
                    .isTrue();
            restore.process().destroy(); // SIGTERM
            Jar.Run stopped = restore.await();
            assertThat(stopped.exitCode()).as(stopped.toString()).isNotZero();
            assertThat(stopped.stdout()).as(stopped.toString()).doesNotContain("restored");
            assertThat(rb.pg().databaseExists(into))
                    .as("the half-restored database is dropped: " + stopped)
                    .isFalse();
        } finally {
            if (rb.pg().databaseExists(into)) {
                rb.pg().dropDatabase(into);
            }
            rb.pg().dropDatabase(big);
        }
    }

    /**
     * The jar started with the runbook's secrets in its environment: the pg_dump and pg_restore it runs (caught
     * waiting for a lock, their environment read from /proc) hold none of them, only what they need.
     */
    @Test
    void pgDumpAndPgRestoreOfTheJarSeeNoneOfItsSecrets() throws Exception {
        Map<String, String> env = rb.env(RunbookFixture.keyFile(dir), "childenv");
        // trust auth ignores it; the children must get it as PGPASSWORD only
        env.putIfAbsent("DB_PASSWORD", "Jar-deliberate-db-pw-1");
        env.put("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0JAR/B0ONLY/jarOnlyWebhookPath");
        env.put("JAVA_TOOL_OPTIONS", "-Djiffoo.child.env.probe=1");
        env.put("JIFFOO_UNRELATED_PROBE", "jar-only-unrelated-value");
        List<String> secrets = List.of(
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "SLACK_WEBHOOK_URL",
                "DB_PASSWORD",
                "ENCRYPTION_KEY_FILE",
                "JAVA_TOOL_OPTIONS",
                "JIFFOO_UNRELATED_PROBE");

        Map<String, String> dumpEnv;
        try (Connection migration = rb.pg().connect(rb.sourceDb());
                Statement s = migration.createStatement()) {
            migration.setAutoCommit(false);
            s.execute("LOCK TABLE public.orders IN ACCESS EXCLUSIVE MODE"); // pg_dump waits, alive
            Jar.Started backup = Jar.start(dir, env, "backup", "database", "--json");
            dumpEnv = ProcessEnvironments.of(child(backup, "pg_dump", "--snapshot="));
            migration.rollback();
            Jar.Run done = backup.await();
            assertThat(done.exitCode()).as(done.toString()).isZero();
        }
        assertChild(dumpEnv, env, secrets, rb.sourceDb(), "jiffoo-backup pg_dump");

        // over an existing database: it restores into a fresh database (nothing to hold a lock on beforehand), so
        // pg_restore is found on PATH as a script that saves the environment it was started with, then execs the
        // real one
        String existing = rb.pg().createDatabase("cli_env_existing");
        Map<String, String> over = new HashMap<>(env);
        over.put("DB_NAME", existing);
        Path bin = Files.createDirectory(dir.resolve("bin"));
        Path saved = dir.resolve("pg_restore.environ");
        Path wrapper = bin.resolve("pg_restore");
        Files.writeString(
                wrapper,
                "#!/bin/sh\ncase \"$*\" in *--dbname=*) cat /proc/$$/environ > '" + saved + "' ;; esac\nexec '"
                        + PgToolLocator.system().locateNewest("pg_restore").path() + "' \"$@\"\n");
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwx------"));
        over.put("PATH", bin + ":" + System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        try {
            try (Connection c = rb.pg().connect(existing)) {
                ShopSchema.create(c, 5);
            }
            Jar.Run done = Jar.run(dir, over, "restore", "database", "--latest", "--existing", "--json");
            assertThat(done.exitCode()).as(done.toString()).isZero();
        } finally {
            rb.pg().dropDatabase(existing);
        }
        Map<String, String> restoreEnv = new HashMap<>(ProcessEnvironments.parse(Files.readAllBytes(saved)));
        assertThat(restoreEnv.get("PGDATABASE"))
                .as("the fresh database swapped in")
                .startsWith(existing + "_jbr_");
        restoreEnv.put("PGDATABASE", existing);
        assertChild(restoreEnv, over, secrets, existing, "jiffoo-backup pg_restore");
    }

    private static void assertChild(
            Map<String, String> child,
            Map<String, String> parent,
            List<String> secrets,
            String db,
            String application) {
        assertThat(child)
                .as("the child's environment")
                .doesNotContainKeys(secrets.toArray(String[]::new))
                .containsEntry("PGDATABASE", db)
                .containsEntry("PGHOST", parent.get("DB_HOST"))
                .containsEntry("PGPORT", parent.get("DB_PORT"))
                .containsEntry("PGUSER", parent.get("DB_USER"))
                .containsEntry("PGPASSWORD", parent.get("DB_PASSWORD")) // the one secret it needs, deliberately
                .containsEntry("PGAPPNAME", application)
                .containsKey("PATH");
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
            ProcessHandle found = jar.process()
                    .descendants()
                    .filter(h ->
                            h.info().command().map(c -> c.endsWith("/" + tool)).orElse(false))
                    .filter(h -> h.info()
                            .arguments()
                            .map(a -> Arrays.stream(a).anyMatch(x -> x.startsWith(argument)))
                            .orElse(false))
                    .findFirst()
                    .orElse(null);
            if (found != null) {
                return found;
            }
            Thread.sleep(20);
        }
        jar.process().destroyForcibly();
        throw new AssertionError(tool + " " + argument + "... was not seen running; the jar: " + jar.await());
    }

    private void assertNoSecrets(Jar.Run r) {
        assertThat(r.all()).doesNotContain(rb.s3().secretKey());
        if (rb.pg().password() != null && rb.pg().password().length() > 6) {
            assertThat(r.all()).doesNotContain("PASSWORD=" + rb.pg().password());
        }
    }

    /**
     * The attack of issue 11 on a database, against S3 (S3Proxy): someone with the bucket's credentials but no key
     * plants a plain {@code pg_dump -Fc} whose table has a CHECK calling a function that runs {@code COPY … TO
     * PROGRAM}, with a manifest edited as text and a {@code sha256sum} sidecar. Before authentication, {@code restore
     * database --latest --existing} replaced the live table and ran the attacker's shell command as postgres.
     */
    @Test
    void aPlantedPlainDumpIsNeitherVerifiedNorRestoredAndItsSqlNeverRuns() throws Exception {
        Path key = RunbookFixture.keyFile(dir);
        Map<String, String> env = rb.env(key, "planted");
        Jar.Run backup = Jar.run(dir, env, "backup", "database", "--json");
        assertThat(backup.exitCode()).as(backup.toString()).isZero();
        JsonNode real = backup.json();

        String live = rb.pg().createDatabase("planted_live");
        String evil = rb.pg().createDatabase("planted_evil");
        Path marker = Path.of("/tmp", "jb-pwned-" + live);
        Files.deleteIfExists(marker);
        try {
            try (Connection c = rb.pg().connect(live)) {
                ShopSchema.create(c, 20);
            }
            try (Connection c = rb.pg().connect(evil);
                    Statement s = c.createStatement()) {
                s.execute("CREATE FUNCTION pwn() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN"
                        + " EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch /tmp/jb-pwned-' || current_database() || '''';"
                        + " RETURN true; END $$");
                s.execute("CREATE TABLE orders (id int PRIMARY KEY, note text CHECK (pwn()))");
                s.execute("INSERT INTO orders VALUES (1, 'all your orders are belong to us')");
            }
            TableHashes before;
            try (Connection c = rb.pg().connect(live)) {
                before = TableHashes.of(c);
            }

            // the attacker's tools: pg_dump, sha256sum, and the real manifest edited as text
            Path dump = dir.resolve("evil.dump");
            Map<String, String> pgEnv = new HashMap<>();
            if (rb.pg().password() != null) {
                pgEnv.put("PGPASSWORD", rb.pg().password());
            }
            Jar.Run pgDump = Jar.exec(
                    dir,
                    pgEnv,
                    List.of(
                            "pg_dump",
                            "-Fc",
                            "-h",
                            rb.pg().host(),
                            "-p",
                            Integer.toString(rb.pg().port()),
                            "-U",
                            rb.pg().user(),
                            "-f",
                            dump.toString(),
                            evil));
            assertThat(pgDump.exitCode()).as(pgDump.toString()).isZero();
            String id = "db_backup_20991231_235959";
            String plantedKey = "database/" + id + ".sql";
            String sum = Jar.exec(dir, Map.of(), List.of("sha256sum", dump.toString()))
                    .stdout();
            String hex = sum.substring(0, 64);
            String realKey = real.get("key").asText();
            try (S3Client s3 = S3Client.builder()
                    .endpointOverride(rb.s3().endpoint())
                    .region(Region.US_EAST_1)
                    .forcePathStyle(true)
                    .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(
                            rb.s3().accessKey(), rb.s3().secretKey())))
                    .build()) {
                String manifest = s3.getObjectAsBytes(
                                b -> b.bucket(rb.s3().bucket()).key("planted/" + realKey + ".manifest.json"))
                        .asUtf8String()
                        .replace(realKey, plantedKey)
                        .replace(real.get("id").asText(), id)
                        .replace(
                                real.get("completedAt").asText(),
                                java.time.Instant.parse(real.get("completedAt").asText())
                                        .plusSeconds(3600)
                                        .toString())
                        .replaceAll("\"sha256\" : \"[0-9a-f]{64}\"", "\"sha256\" : \"" + hex + "\"")
                        .replaceAll("\"size\" : [0-9]+", "\"size\" : " + Files.size(dump))
                        .replaceAll("(?s)\"transforms\" : \\[.*?\\],", "\"transforms\" : [ ],")
                        .replace("\"encrypted\" : true", "\"encrypted\" : false");
                put(s3, plantedKey, Files.readAllBytes(dump));
                put(s3, plantedKey + ".sha256", (hex + "  " + id + ".sql\n").getBytes(StandardCharsets.UTF_8));
                put(s3, plantedKey + ".manifest.json", manifest.getBytes(StandardCharsets.UTF_8));
            }

            Jar.Run verify = Jar.run(dir, env, "verify", "--deep", "--latest");
            assertThat(verify.exitCode()).as(verify.toString()).isEqualTo(5);
            assertThat(verify.stderr()).contains(plantedKey + ".manifest.json").contains("not authenticated");

            Map<String, String> over = new HashMap<>(env);
            over.put("DB_NAME", live);
            Jar.Run restore = Jar.run(dir, over, "restore", "database", "--latest", "--existing");
            assertThat(restore.exitCode()).as(restore.toString()).isEqualTo(5);
            Jar.Run named =
                    Jar.run(dir, over, "restore", "database", rb.store("planted") + "/" + plantedKey, "--existing");
            assertThat(named.exitCode()).as(named.toString()).isEqualTo(5);
            assertThat(named.stderr()).contains("not authenticated");

            assertThat(marker).as("the planted dump's SQL must never run").doesNotExist();
            try (Connection c = rb.pg().connect(live)) {
                assertThat(TableHashes.of(c)).isEqualTo(before);
            }
        } finally {
            Files.deleteIfExists(marker);
            Files.deleteIfExists(Path.of("/tmp", "jb-pwned-" + evil)); // the attacker's own INSERT ran it there
            rb.pg().dropDatabase(evil);
            rb.pg().dropDatabase(live);
        }
    }

    private void put(S3Client s3, String key, byte[] bytes) {
        s3.putObject(b -> b.bucket(rb.s3().bucket()).key("planted/" + key), RequestBody.fromBytes(bytes));
    }
}
