package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad and missing settings with the real jar: the exit code is 2, the message names the setting and what to set,
 * and no secret's value is ever printed. Also --help everywhere, and the precedence flag > environment > file.
 */
class SettingsIT {
    private static final String PASSWORD = "Sup3r-Secret-Pa55word";
    private static final String AWS_SECRET = "aws-secret-Zm9vYmFyYmF6cXV4";

    @TempDir
    Path dir;

    private Map<String, String> secrets() {
        Map<String, String> env = new HashMap<>();
        env.put("DB_PASSWORD", PASSWORD);
        env.put("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYID1234");
        env.put("AWS_SECRET_ACCESS_KEY", AWS_SECRET);
        env.put("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX");
        return env;
    }

    private void assertFailsNaming(Jar.Run r, String... names) {
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr()).as(r.toString()).startsWith("error: ").contains(names);
        assertThat(r.all())
                .doesNotContain(PASSWORD)
                .doesNotContain(AWS_SECRET)
                .doesNotContain("XXXXSECRETXXXX")
                .doesNotContain("AKIAEXAMPLEKEYID1234");
    }

    @Test
    void noStoreNamesBothVariables() {
        Map<String, String> env = secrets();
        env.put("ENCRYPTION_KEY_FILE", dir.resolve("k").toString());
        assertFailsNaming(
                Jar.run(dir, env, "list"),
                "no store configured",
                "S3_BUCKET=s3://bucket/prefix",
                "BACKUP_DIR=",
                "--store");
        Jar.Run json = Jar.run(dir, env, "list", "--json");
        assertThat(json.json().get("error").asText()).isEqualTo("CONFIGURATION");
        assertThat(json.json().get("exitCode").asInt()).isEqualTo(2);
    }

    @Test
    void missingAndBadValuesAreNamed() throws Exception {
        Map<String, String> env = secrets();
        env.put("BACKUP_DIR", dir.toString());
        assertFailsNaming(Jar.run(dir, env, "backup", "database"), "DB_NAME");
        env.put("DB_NAME", "jiffoo_mall");
        env.put("DB_PORT", "fivefourthreetwo");
        Path key = dir.resolve("backup.key");
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        assertThat(Jar.run(dir, Map.of(), "keygen", key.toString()).exitCode()).isZero();
        assertFailsNaming(Jar.run(dir, env, "backup", "database"), "DB_PORT", "fivefourthreetwo");
        env.put("RETENTION_DAYS", "thirty");
        assertFailsNaming(Jar.run(dir, env, "prune"), "RETENTION_DAYS", "thirty");
        env.remove("ENCRYPTION_KEY_FILE");
        env.put("SOURCE_DIR", dir.toString());
        assertFailsNaming(Jar.run(dir, env, "backup", "files"), "ENCRYPTION_KEY_FILE", "keygen");
        env.put("SOURCE_DIR", dir.resolve("missing").toString());
        assertFailsNaming(Jar.run(dir, env, "backup", "files"), "SOURCE_DIR");
        env.put("BACKUP_DIR", dir.resolve("no-such-store").toString());
        assertFailsNaming(Jar.run(dir, env, "list"), "BACKUP_DIR", "does not exist");
        env.remove("BACKUP_DIR");
        env.put("S3_BUCKET", "Jiffoo_Backups/prod");
        assertFailsNaming(Jar.run(dir, env, "list"), "S3_BUCKET", "Jiffoo_Backups");
        env.put("S3_BUCKET", "jiffoo-backups/prod");
        env.put("MINIO_ENDPOINT", "minio.internal:9000");
        assertFailsNaming(Jar.run(dir, env, "list"), "MINIO_ENDPOINT", "https://");
    }

    /** The runbook's monitor names its bucket S3_BACKUP_BUCKET: the jar reads it from the environment and --config. */
    @Test
    void s3BackupBucketNamesTheStoreInTheEnvironmentAndTheConfigFile() throws Exception {
        Map<String, String> env = secrets();
        env.put("S3_BACKUP_BUCKET", "Jiffoo_Env_Bucket/prod"); // not a valid name: the error shows it was read
        assertFailsNaming(Jar.run(dir, env, "list"), "Jiffoo_Env_Bucket");
        Path config = dir.resolve("monitor.properties");
        Files.writeString(config, "S3_BACKUP_BUCKET=Jiffoo_File_Bucket/prod\n");
        assertFailsNaming(Jar.run(dir, Map.of(), "--config", config.toString(), "monitor"), "Jiffoo_File_Bucket");
    }

    @Test
    void keyFileReadableByOthersIsRefused() throws Exception {
        Path key = dir.resolve("backup.key");
        Files.writeString(key, "c2VjcmV0LXBhc3NwaHJhc2UtdmFsdWU=\n");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
        Map<String, String> env = secrets();
        env.put("BACKUP_DIR", dir.toString());
        env.put("SOURCE_DIR", dir.toString());
        env.put("ENCRYPTION_KEY_FILE", key.toString());
        Jar.Run r = Jar.run(dir, env, "backup", "files");
        assertFailsNaming(r, "ENCRYPTION_KEY_FILE", "chmod 600");
        assertThat(r.all()).doesNotContain("c2VjcmV0LXBhc3NwaHJhc2UtdmFsdWU");
    }

    @Test
    void configFileHoldingSecretsMustBePrivateAndLosesToTheEnvironment() throws Exception {
        Path store = dir.resolve("from-file");
        Files.createDirectories(store);
        Path config = dir.resolve("jiffoo-backup.properties");
        // no key here: this store is listed as it is, which must be said explicitly
        Files.writeString(
                config, "BACKUP_DIR=" + store + "\nDB_PASSWORD=" + PASSWORD + "\nALLOW_UNAUTHENTICATED=true\n");
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-r-----"));
        assertFailsNaming(
                Jar.run(dir, Map.of(), "--config", config.toString(), "list"), "chmod 600", config.toString());

        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-------"));
        Jar.Run fromFile = Jar.run(dir, Map.of(), "list", "--json", "--config", config.toString());
        assertThat(fromFile.exitCode()).as(fromFile.toString()).isZero();
        assertThat(fromFile.json().get("location").asText()).isEqualTo("file:" + store);

        Path envStore = dir.resolve("from-env");
        Files.createDirectories(envStore);
        Jar.Run fromEnv = Jar.run(
                dir, Map.of("BACKUP_DIR", envStore.toString()), "--config", config.toString(), "--json", "list");
        assertThat(fromEnv.json().get("location").asText()).isEqualTo("file:" + envStore);
        Jar.Run fromFlag = Jar.run(
                dir,
                Map.of("BACKUP_DIR", envStore.toString()),
                "--config",
                config.toString(),
                "--json",
                "list",
                "--store",
                store.toString());
        assertThat(fromFlag.json().get("location").asText()).isEqualTo("file:" + store);

        Files.writeString(config, "DB_PASSWROD=x\n");
        assertFailsNaming(
                Jar.run(dir, Map.of(), "--config", config.toString(), "list"), "DB_PASSWROD", "not a setting");
    }

    @Test
    void everyCommandHasHelpAndUsageErrorsExitWith2() {
        for (List<String> cmd : List.<List<String>>of(
                List.of(),
                List.of("backup"),
                List.of("backup", "database"),
                List.of("backup", "files"),
                List.of("restore"),
                List.of("restore", "database"),
                List.of("restore", "files"),
                List.of("verify"),
                List.of("list"),
                List.of("prune"),
                List.of("keygen"),
                List.of("monitor"))) {
            List<String> args = new java.util.ArrayList<>(cmd);
            args.add("--help");
            Jar.Run r = Jar.run(dir, Map.of(), args.toArray(String[]::new));
            assertThat(r.exitCode()).as(cmd + "\n" + r).isZero();
            assertThat(r.stdout()).as(cmd.toString()).contains("Usage: jiffoo-backup");
        }
        assertThat(Jar.run(dir, Map.of(), "--help").stdout())
                .contains("Exit codes:")
                .contains("S3_BUCKET");
        Jar.Run unknown = Jar.run(dir, Map.of(), "list", "--no-such-option");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.stderr()).contains("--no-such-option").contains("--help");
        Jar.Run unknownJson = Jar.run(dir, Map.of(), "list", "--json", "--no-such-option");
        assertThat(unknownJson.exitCode()).isEqualTo(2);
        assertThat(unknownJson.json().get("error").asText())
                .as(unknownJson.toString())
                .isEqualTo("CONFIGURATION");
        assertThat(unknownJson.json().get("exitCode").asInt()).isEqualTo(2);
        assertThat(unknownJson.json().get("message").asText()).contains("--no-such-option");
        // secrets have no flags: a password typed as one is not echoed back
        Jar.Run typedSecret = Jar.run(
                dir,
                Map.of("DB_PASSWORD", "Env-S3cret-pw"),
                "backup",
                "database",
                "--db-password=Typed-S3cret-pw",
                "--json");
        assertThat(typedSecret.exitCode()).isEqualTo(2);
        assertThat(typedSecret.all())
                .contains("--db-password=***")
                .doesNotContain("Typed-S3cret-pw")
                .doesNotContain("Env-S3cret-pw");
        // ... nor as the next argument, the way a shell user types an option's value, wherever the flag goes
        for (List<String> typed : List.of(
                List.of("backup", "database", "--db-password", "Typed-S3cret-pw"),
                List.of("backup", "database", "--json", "--db-password", "Typed-S3cret-pw"),
                List.of("--db-password", "Typed-S3cret-pw", "backup", "database"),
                List.of("restore", "database", "--latest", "--aws-secret-access-key", "Typed-S3cret-pw"),
                List.of("monitor", "--slack-webhook-url", "https://hooks.slack.com/services/T/B/Typed-S3cret-pw"),
                List.of("verify", "--latest", "--passphrase", "Typed-S3cret-pw", "--json"),
                List.of("list", "-P", "Typed-S3cret-pw"),
                List.of("list", "--store", "s3://AKIAX:Typed-S3cret-pw@bucket/prod"))) {
            Jar.Run spaced = Jar.run(dir, Map.of("DB_PASSWORD", "Env-S3cret-pw"), typed.toArray(String[]::new));
            assertThat(spaced.exitCode()).as(typed + "\n" + spaced).isEqualTo(2);
            assertThat(spaced.all())
                    .as(typed.toString())
                    .doesNotContain("Typed-S3cret-pw")
                    .doesNotContain("Env-S3cret-pw")
                    .contains(typed.stream()
                            .filter(a -> a.startsWith("-") && !a.equals("--json") && !a.equals("--latest"))
                            .findFirst()
                            .orElseThrow());
        }
        assertThat(Jar.run(dir, Map.of(), "restore", "database").exitCode()).isEqualTo(2);
        // --existing restores into a fresh database swapped in by name, so --jobs is accepted with it: this one is
        // refused for another reason (no such database, or no key file), not for its flags
        Jar.Run parallelOver = Jar.run(
                dir,
                Map.of("BACKUP_DIR", dir.toString(), "DB_NAME", "jb_never_touched"),
                "restore",
                "database",
                "--latest",
                "--existing",
                "--jobs",
                "2");
        assertThat(parallelOver.exitCode()).as(parallelOver.toString()).isEqualTo(2);
        assertThat(parallelOver.stderr()).doesNotContain("--jobs").doesNotContain("singleTransaction");
    }

    /**
     * A key file that cannot be read fails before the database server is contacted: no connection, no database
     * created and dropped again, and no wait on a server that accepts and never answers (pgjdbc would wait for it).
     */
    @Test
    void aMissingKeyFileFailsBeforeTheDatabaseServerIsContacted() throws Exception {
        List<java.net.Socket> held = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        AtomicInteger accepted = new AtomicInteger();
        try (java.net.ServerSocket silent =
                new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        held.add(silent.accept());
                        accepted.incrementAndGet();
                    }
                } catch (java.io.IOException closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            Jar.Started run = Jar.start(
                    dir,
                    Map.of(
                            "BACKUP_DIR", dir.toString(),
                            "ENCRYPTION_KEY_FILE", dir.resolve("no-such.key").toString(),
                            "DB_HOST", "127.0.0.1",
                            "DB_PORT", Integer.toString(silent.getLocalPort()),
                            "DB_USER", "jb_nobody"),
                    "restore",
                    "database",
                    "--latest",
                    "--into",
                    "jb_never_created");
            boolean ended = run.process().waitFor(60, TimeUnit.SECONDS);
            if (!ended) {
                run.process().destroyForcibly();
            }
            assertThat(ended).as("ended without waiting on the server").isTrue();
            assertFailsNaming(run.await(), "ENCRYPTION_KEY_FILE");
            assertThat(accepted.get())
                    .as("connections made to the database server")
                    .isZero();
        } finally {
            for (java.net.Socket s : held) {
                s.close();
            }
        }
    }
}
