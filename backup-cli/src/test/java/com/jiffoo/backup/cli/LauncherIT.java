package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher {@code target/jiffoo-backup} and the class-data-sharing archive {@code mvn package} made for it. The
 * JVM option {@code -Xshare:on} makes a JVM refuse to start when it cannot use the archive, so an exit 0 with it
 * proves the archive is used, not just present.
 */
class LauncherIT {

    @TempDir
    Path dir;

    private static Map<String, String> env(String javaOpts) {
        return Map.of("JAVA_HOME", System.getProperty("java.home"), "JAVA_OPTS", javaOpts);
    }

    private static Path launcher(Path jarDir) {
        return jarDir.resolve("jiffoo-backup");
    }

    @Test
    void theBuiltArchiveIsUsedByTheLauncher() {
        Path built = Jar.path().getParent();
        assertThat(built.resolve("jiffoo-backup.jsa"))
                .as("mvn package made the archive")
                .isRegularFile();
        Jar.Run run = Jar.exec(dir, env("-Xshare:on"), List.of(launcher(built).toString(), "--version"));
        assertThat(run.stderr()).isEmpty();
        assertThat(run.exitCode()).isZero();
        assertThat(run.stdout()).startsWith("jiffoo-backup ");
    }

    /**
     * {@code backup database} and {@code restore database} on a local store start with the smaller database archive;
     * anything that may reach S3 and every other command start with the full one. The JVM option
     * {@code -XX:+PrintSharedArchiveAndExit} prints the archive the launcher chose (and checks that it fits) and exits
     * before the command runs.
     */
    @Test
    void theDatabaseCommandsOnALocalStoreStartWithTheirOwnArchive() {
        Path built = Jar.path().getParent();
        Path database = built.resolve("jiffoo-backup-database.jsa");
        Path full = built.resolve("jiffoo-backup.jsa");
        assertThat(database).as("mvn package made the database archive").isRegularFile();
        assertThat(database.toFile().length())
                .as("it holds fewer classes than the full archive")
                .isLessThan(full.toFile().length() * 3 / 4);
        String store = "--store=" + dir;
        assertThat(archiveChosen(Map.of(), "restore", "database", "--latest", "--into=jb_x", store))
                .isEqualTo(database.toString());
        assertThat(archiveChosen(Map.of(), "--quiet", "backup", "database", store))
                .isEqualTo(database.toString());
        assertThat(archiveChosen(Map.of(), "restore", "database", "s3://bucket/database/b.sql.gpg", "--into=jb_x"))
                .as("a backup in S3")
                .isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of(), "backup", "database", "--store=minio://127.0.0.1:9000/b"))
                .isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of("S3_BUCKET", "b"), "backup", "database"))
                .as("S3_BUCKET")
                .isEqualTo(full.toString());
        assertThat(archiveChosen(
                        Map.of(),
                        "backup",
                        "database",
                        "--config",
                        dir.resolve("c").toString()))
                .as("a config file may name a bucket")
                .isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of(), "backup", "database", store, "--copy-to=" + dir))
                .isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of(), "backup", "database", store, "--copy-to", dir.toString()))
                .isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of("BACKUP_COPIES", dir.toString()), "backup", "database", store))
                .isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of("S3_BACKUP_BUCKET", "b"), "restore", "database", "--latest"))
                .isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of(), "restore", "database", "--latest", "--into=a b", store))
                .as("an argument with a space")
                .isEqualTo(database.toString());
        assertThat(archiveChosen(Map.of(), "backup", "files", dir.toString(), store))
                .isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of(), "list", store)).isEqualTo(full.toString());
        assertThat(archiveChosen(Map.of("JIFFOO_BACKUP_JSA", full.toString()), "restore", "database", "--latest"))
                .as("JIFFOO_BACKUP_JSA names the archive for every command")
                .isEqualTo(full.toString());
        Jar.Run help =
                Jar.exec(dir, env("-Xshare:on"), List.of(launcher(built).toString(), "restore", "database", "--help"));
        assertThat(help.exitCode()).as(help.stderr()).isZero();
        assertThat(help.stdout()).contains("--into");
    }

    private String archiveChosen(Map<String, String> settings, String... args) {
        return archiveChosen(Jar.path().getParent(), settings, args);
    }

    /** The archive the launcher in {@code jarDir} starts the JVM with for {@code args}. */
    private String archiveChosen(Path jarDir, Map<String, String> settings, String... args) {
        Map<String, String> env = new java.util.HashMap<>(env("-XX:+PrintSharedArchiveAndExit"));
        env.putAll(settings);
        List<String> command =
                new java.util.ArrayList<>(List.of(launcher(jarDir).toString()));
        command.addAll(List.of(args));
        Jar.Run run = Jar.exec(dir, env, command);
        assertThat(run.exitCode())
                .as("the archive fits: " + run.stdout() + run.stderr())
                .isZero();
        return run.stdout()
                .lines()
                .filter(l -> l.startsWith("Static archive name: "))
                .map(l -> l.substring("Static archive name: ".length()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no archive named in " + run.stdout()));
    }

    /** A jar moved with its archive runs without it, silently; {@code cds-archive} makes one that fits again. */
    @Test
    void aMovedJarRunsWithoutTheArchiveUntilCdsArchiveRemakesIt() throws Exception {
        Path built = Jar.path().getParent();
        Path moved = Files.createDirectories(dir.resolve("opt jiffoo"));
        for (String f : List.of("jiffoo-backup", "jiffoo-backup.jar", "jiffoo-backup.jsa")) {
            Files.copy(built.resolve(f), moved.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
        }

        Jar.Run plain = Jar.exec(dir, env(""), List.of(launcher(moved).toString(), "--version"));
        assertThat(plain.exitCode()).isZero();
        assertThat(plain.stderr())
                .as("a mismatching archive is ignored without a warning")
                .isEmpty();
        assertThat(Jar.exec(dir, env("-Xshare:on"), List.of(launcher(moved).toString(), "--version"))
                        .exitCode())
                .as("the archive made for target/ does not fit the moved jar")
                .isNotZero();

        Jar.Run none = Jar.exec(
                dir,
                Map.of("JAVA_HOME", System.getProperty("java.home"), "JIFFOO_BACKUP_JSA", "none"),
                List.of(launcher(moved).toString(), "cds-archive"));
        assertThat(none.exitCode()).isEqualTo(2);
        assertThat(none.stderr()).contains("JIFFOO_BACKUP_JSA=none");
        assertThat(dir.resolve("none")).doesNotExist();

        Jar.Run remade = Jar.exec(dir, env(""), List.of(launcher(moved).toString(), "cds-archive"));
        assertThat(remade.exitCode()).as(remade.stderr()).isZero();
        assertThat(remade.stdout())
                .contains(moved.resolve("jiffoo-backup.jsa").toString())
                .contains(moved.resolve("jiffoo-backup-database.jsa").toString());
        assertThat(moved.resolve("jiffoo-backup-database.jsa")).isRegularFile();
        assertThat(Jar.exec(
                                dir,
                                env("-Xshare:on"),
                                List.of(launcher(moved).toString(), "restore", "database", "--help"))
                        .exitCode())
                .as("the remade database archive fits")
                .isZero();
        java.nio.file.Files.delete(moved.resolve("jiffoo-backup-database.jsa"));
        assertThat(archiveChosen(moved, Map.of(), "restore", "database", "--latest", "--store=" + dir))
                .as("no database archive beside the jar (an install from before there was one): the full one")
                .isEqualTo(moved.resolve("jiffoo-backup.jsa").toString());
        Jar.Run shared =
                Jar.exec(dir, env("-Xshare:on"), List.of(launcher(moved).toString(), "--version"));
        assertThat(shared.exitCode()).as(shared.stderr()).isZero();
        assertThat(shared.stdout()).startsWith("jiffoo-backup ");
    }
}
