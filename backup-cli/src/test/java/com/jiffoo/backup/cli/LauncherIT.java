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

        Jar.Run remade = Jar.exec(dir, env(""), List.of(launcher(moved).toString(), "cds-archive"));
        assertThat(remade.exitCode()).as(remade.stderr()).isZero();
        assertThat(remade.stdout()).contains(moved.resolve("jiffoo-backup.jsa").toString());
        Jar.Run shared =
                Jar.exec(dir, env("-Xshare:on"), List.of(launcher(moved).toString(), "--version"));
        assertThat(shared.exitCode()).as(shared.stderr()).isZero();
        assertThat(shared.stdout()).startsWith("jiffoo-backup ");
    }
}
