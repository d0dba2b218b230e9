package com.jiffoo.backup.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.cli.Jar;
import com.jiffoo.backup.cli.RunbookFixture;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.postgres.TableHashes;
import com.jiffoo.backup.s3.S3Sink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * The runbook's shell scripts in {@code examples/scripts} over the real jar: database and files backups to S3
 * (S3Proxy) with the runbook's variables, the daily verification, and {@code restore-database.sh} of an
 * {@code s3://} URI into a new database compared with the source. Plus shellcheck, when it is installed, and the
 * embedding example {@link DatabaseBackupToS3}.
 */
class ScriptsTest {
    private static final Path SCRIPTS =
            Path.of(System.getProperty("jiffoo.scripts", "scripts")).toAbsolutePath();
    private static RunbookFixture rb;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        rb = RunbookFixture.start("scripts_src");
    }

    @AfterAll
    static void stop() throws Exception {
        rb.close();
    }

    @Test
    void scriptsAreShellcheckClean() throws Exception {
        boolean installed =
                Stream.of(System.getenv("PATH").split(":")).anyMatch(d -> Files.isExecutable(Path.of(d, "shellcheck")));
        Assumptions.assumeTrue(installed, "shellcheck is not installed (apt-get install -y shellcheck): not checked");
        List<String> cmd = new ArrayList<>(List.of("shellcheck", "--shell=bash"));
        try (Stream<Path> s = Files.list(SCRIPTS)) {
            s.sorted().forEach(p -> cmd.add(p.toString()));
        }
        Jar.Run r = Jar.exec(dir, Map.of(), cmd);
        assertThat(r.exitCode()).as(r.toString()).isZero();
    }

    @Test
    void backupVerifyAndRestoreWithTheRunbooksScripts() throws Exception {
        Path key = dir.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        Path uploads = dir.resolve("uploads");
        Files.createDirectories(uploads);
        Files.writeString(uploads.resolve("a.txt"), "a");
        Map<String, String> env = rb.env(key, "scripts");
        env.put("JIFFOO_BACKUP_JAR", Jar.path().toString());
        env.put("SOURCE_DIR", uploads.toString());
        Path log = dir.resolve("jiffoo-backup.log");
        env.put("LOG_FILE", log.toString());

        Jar.Run db = script(env, "backup-database.sh");
        assertThat(db.exitCode()).as(db.toString()).isZero();
        Jar.Run files = script(env, "backup-files.sh");
        assertThat(files.exitCode()).as(files.toString()).isZero();
        assertThat(Files.readString(log)).contains("database/db_backup_").contains("files/files_backup_");
        Jar.Run verify = script(env, "verify-backups.sh");
        assertThat(verify.exitCode()).as(verify.toString()).isZero();
        assertThat(verify.stdout())
                .contains("deep verification passed")
                .contains("db_backup_")
                .contains("files_backup_");

        Jar.Run list = Jar.run(dir, env, "list", "--kind", "database", "--json");
        String uri = rb.store("scripts") + "/"
                + list.json().get("backups").get(0).get("key").asText();
        String restored = "jb_scripts_restored_" + Long.toHexString(System.nanoTime());
        try {
            Jar.Run restore = script(env, "restore-database.sh", uri, restored);
            assertThat(restore.exitCode()).as(restore.toString()).isZero();
            try (Connection src = rb.pg().connect(rb.sourceDb());
                    Connection dst = rb.pg().connect(restored)) {
                assertThat(TableHashes.of(dst)).isEqualTo(TableHashes.of(src));
            }
        } finally {
            rb.pg().dropDatabase(restored);
        }
        Jar.Run usage = script(env, "restore-database.sh");
        assertThat(usage.exitCode()).isEqualTo(2);
        assertThat(usage.stderr()).contains("usage:");
        Map<String, String> noJar = new HashMap<>(env);
        noJar.put("JIFFOO_BACKUP_JAR", dir.resolve("missing.jar").toString());
        Jar.Run missing = script(noJar, "backup-files.sh");
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.stderr()).contains("JIFFOO_BACKUP_JAR");
    }

    /**
     * The runbook's "restore into a test environment", typed as it shows it: {@code DB_HOST=test-db
     * DB_NAME=jiffoo_test_db restore-database.sh s3://…} restores into DB_NAME (created), refuses it once it
     * exists, and restores over it with {@code --existing}. The URI is the one {@code list --json} prints.
     */
    @Test
    void restoreIntoTheTestEnvironmentAsTheRunbookShows() throws Exception {
        Path key = dir.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        Map<String, String> env = rb.env(key, "testenv");
        env.put("JIFFOO_BACKUP_JAR", Jar.path().toString());
        Jar.Run db = script(env, "backup-database.sh");
        assertThat(db.exitCode()).as(db.toString()).isZero();
        Jar.Run list = Jar.run(dir, env, "list", "--kind", "database", "--json");
        String uri = list.json().get("backups").get(0).get("uri").asText();
        assertThat(uri).startsWith("s3://" + rb.s3().bucket() + "/testenv/database/db_backup_");

        String testDb = "jb_scripts_test_db_" + Long.toHexString(System.nanoTime());
        env.remove("DB_NAME");
        env.remove("DB_HOST");
        String asTheRunbookShows = "DB_HOST=" + rb.pg().host() + " DB_NAME=" + testDb + " "
                + SCRIPTS.resolve("restore-database.sh") + " " + uri;
        try {
            Jar.Run restore = Jar.exec(dir, env, List.of("bash", "-c", asTheRunbookShows));
            assertThat(restore.exitCode()).as(restore.toString()).isZero();
            assertThat(restore.stdout()).contains("/" + testDb + " in ").contains("table(s) match");
            TableHashes source = hashes(rb.sourceDb());
            assertThat(hashes(testDb)).isEqualTo(source);

            try (Connection c = rb.pg().connect(testDb);
                    java.sql.Statement st = c.createStatement()) {
                st.execute("DELETE FROM public.order_items");
            }
            TableHashes changed = hashes(testDb);
            Jar.Run again = Jar.exec(dir, env, List.of("bash", "-c", asTheRunbookShows));
            assertThat(again.exitCode()).as(again.toString()).isEqualTo(2);
            assertThat(again.stderr()).contains("already exists").contains("--existing");
            assertThat(hashes(testDb)).isEqualTo(changed);

            Jar.Run over = Jar.exec(dir, env, List.of("bash", "-c", asTheRunbookShows + " --existing"));
            assertThat(over.exitCode()).as(over.toString()).isZero();
            assertThat(hashes(testDb)).isEqualTo(source);
        } finally {
            rb.pg().dropDatabase(testDb);
        }
    }

    private static TableHashes hashes(String database) throws Exception {
        try (Connection c = rb.pg().connect(database)) {
            return TableHashes.of(c);
        }
    }

    /**
     * The cron example's lines as cron runs them: through bash, with the cron file's variables and an environment
     * file like /etc/jiffoo/backup.env. On success they print nothing (cron mails only failures), and each job has
     * its own log in LOG_DIR; a failing one prints the error.
     */
    @Test
    void theCronLinesPrintNothingOnSuccessAndTheErrorOnFailure() throws Exception {
        Path key = dir.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        Path uploads = uploads();
        Files.createSymbolicLink(uploads.resolve("tz"), Path.of("/usr/share/zoneinfo/UTC")); // a warning: to the log
        Path logs = dir.resolve("log-jiffoo");
        Map<String, String> settings = rb.env(key, "cron");
        settings.put("JIFFOO_BACKUP_JAR", Jar.path().toString());
        settings.put("SOURCE_DIR", uploads.toString());
        settings.put("LOG_DIR", logs.toString());
        Path envFile = dir.resolve("backup.env");
        StringBuilder lines = new StringBuilder();
        settings.forEach((k, v) ->
                lines.append(k).append("='").append(v.replace("'", "'\\''")).append("'\n"));
        Files.writeString(envFile, lines);
        Files.setPosixFilePermissions(envFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));

        Map<String, String> cronEnv = new HashMap<>();
        List<String> jobs = new ArrayList<>();
        for (String line : Files.readAllLines(SCRIPTS.resolveSibling("cron").resolve("jiffoo-backup.cron"))) {
            if (line.matches("[A-Z_]+=.*")) {
                cronEnv.put(line.substring(0, line.indexOf('=')), line.substring(line.indexOf('=') + 1));
            } else if (!line.isBlank() && !line.startsWith("#")) {
                // minute hour day month weekday user command
                String command = line.trim().split("\\s+", 7)[6];
                jobs.add(command.replace("/etc/jiffoo/backup.env", envFile.toString())
                        .replace("/opt/jiffoo-backup/scripts", SCRIPTS.toString()));
            }
        }
        assertThat(jobs).hasSize(4);
        for (String job : jobs) {
            Jar.Run r = Jar.exec(dir, cronEnv, List.of("bash", "-c", job));
            assertThat(r.exitCode()).as(job + "\n" + r).isZero();
            assertThat(r.stdout() + r.stderr())
                    .as("what cron would mail for: " + job)
                    .isEmpty();
        }
        try (Stream<Path> files = Files.list(logs)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(
                            "backup-db.log",
                            "backup-prune.log",
                            "backup-files.log",
                            "backup-verify.log",
                            "backup-list.log",
                            "backup-monitor.log");
        }
        assertThat(Files.readString(logs.resolve("backup-files.log")))
                .contains("WARN")
                .contains("tz");
        try (Stream<Path> files = Files.list(logs)) {
            for (Path log : files.toList()) {
                String job = log.getFileName().toString().replaceFirst("\\.log$", "");
                assertThat(Files.readAllLines(log))
                        .as(log + ": every line carries its time, its job (" + job + ") and a pid")
                        .isNotEmpty()
                        .allMatch(l -> l.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\S* "
                                + java.util.regex.Pattern.quote(job) + "\\[\\d+] (INFO|WARN|ERROR|DEBUG) .*"));
            }
        }

        Files.writeString(envFile, "DB_NAME='jb_no_such_database'\n", java.nio.file.StandardOpenOption.APPEND);
        Jar.Run failed = Jar.exec(dir, cronEnv, List.of("bash", "-c", jobs.get(0)));
        assertThat(failed.exitCode()).isNotZero();
        assertThat(failed.stderr()).as(failed.toString()).startsWith("error: ").contains("jb_no_such_database");
    }

    /**
     * The Kubernetes example's CronJobs as a pod runs them: each container's command and arguments, with the
     * ConfigMap's settings (the places in it replaced by the test's: database, S3 store, key, uploads) and no other
     * environment. On success each prints nothing, so the pod's log is empty, as the cron lines' mail is.
     */
    @Test
    void theKubernetesCronJobsPrintNothingOnSuccess() throws Exception {
        Path key = dir.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        Path uploads = uploads();
        List<JsonNode> docs;
        try (MappingIterator<JsonNode> it = new YAMLMapper()
                .readerFor(JsonNode.class)
                .readValues(SCRIPTS.resolveSibling("k8s")
                        .resolve("backup-cronjob.yaml")
                        .toFile())) {
            docs = it.readAll();
        }
        JsonNode config = docs.stream()
                .filter(d -> d.path("kind").asText().equals("ConfigMap"))
                .findFirst()
                .orElseThrow();
        Map<String, String> env = new HashMap<>();
        config.path("data")
                .fields()
                .forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
        assertThat(env).containsEntry("QUIET", "true").containsKey("JAVA_OPTS");
        env.putAll(rb.env(key, "k8s")); // the Secret's and the places: this test's server, S3Proxy, key
        env.put("SOURCE_DIR", uploads.toString());
        String launcher = Jar.path().resolveSibling("jiffoo-backup").toString();

        List<String> names = new ArrayList<>();
        for (JsonNode d : docs) {
            if (!d.path("kind").asText().equals("CronJob")) {
                continue;
            }
            String name = d.at("/metadata/name").asText();
            names.add(name);
            JsonNode container = d.at("/spec/jobTemplate/spec/template/spec/containers/0");
            assertThat(container.at("/envFrom/0/configMapRef/name").asText())
                    .as(name + " takes the ConfigMap's settings")
                    .isEqualTo(config.at("/metadata/name").asText());
            List<String> argv = new ArrayList<>();
            container.path("command").forEach(a -> argv.add(a.asText()));
            container.path("args").forEach(a -> argv.add(a.asText()));
            argv.replaceAll(a -> a.replace("/opt/jiffoo-backup/jiffoo-backup", launcher));
            Jar.Run r = Jar.exec(dir, env, argv);
            assertThat(r.exitCode()).as(name + ": " + argv + "\n" + r).isZero();
            assertThat(r.stdout() + r.stderr()).as("the pod's log of " + name).isEmpty();
        }
        assertThat(names)
                .containsExactly(
                        "jiffoo-backup-database",
                        "jiffoo-backup-files",
                        "jiffoo-backup-verify",
                        "jiffoo-backup-monitor");
    }

    /** SOURCE_DIR of the scheduled jobs: a directory holding one file. */
    private Path uploads() throws java.io.IOException {
        Path uploads = Files.createDirectories(dir.resolve("uploads"));
        Files.writeString(uploads.resolve("a.txt"), "a");
        return uploads;
    }

    @Test
    void embeddingExampleBacksUpVerifiesAndPrunes() throws Exception {
        Path key = dir.resolve("backup.key");
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.generate(key))
                .build();
        try (S3Sink store = S3Sink.builder()
                .uri("s3://" + rb.s3().bucket() + "/embedded")
                .endpointOverride(rb.s3().endpoint())
                .pathStyleAccess(true)
                .region("us-east-1")
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(rb.s3().accessKey(), rb.s3().secretKey())))
                .build()) {
            BackupManifest m = DatabaseBackupToS3.run(rb.pg().connection(rb.sourceDb()), pgp, store, 30);
            assertThat(StoredBackups.of(store).latest("database")).contains(m);
        }
    }

    private Jar.Run script(Map<String, String> env, String name, String... args) {
        List<String> cmd = new ArrayList<>(List.of("bash", SCRIPTS.resolve(name).toString()));
        cmd.addAll(List.of(args));
        return Jar.exec(dir, env, cmd);
    }
}
