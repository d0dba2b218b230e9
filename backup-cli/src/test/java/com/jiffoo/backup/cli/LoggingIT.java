package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runbook's logs with the real jar: one file per job in LOG_DIR (created 0750 when missing), every line tagged
 * with the job and its pid, two jobs at once each in its own file (or both in one LOG_FILE without torn lines);
 * {@code --quiet} prints nothing on success and the error (once, in the launcher's words) on failure.
 */
class LoggingIT {
    /** A line of a log file: time, {@code job[pid]} (the %s), level, logger, message. */
    private static final String LINE =
            "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}[^ ]*" + " (%s) (INFO|WARN|ERROR|DEBUG) .*";

    private static String tag(String job, long pid) {
        return java.util.regex.Pattern.quote(job + "[" + pid + "]");
    }

    @TempDir
    Path dir;

    private Map<String, String> env;
    private Path tree;

    @BeforeEach
    void store() throws Exception {
        Path key = dir.resolve("backup.key");
        assertThat(Jar.run(dir, Map.of(), "keygen", key.toString()).exitCode()).isZero();
        Path store = Files.createDirectories(dir.resolve("store"));
        tree = Files.createDirectories(dir.resolve("uploads"));
        Files.writeString(tree.resolve("a.txt"), "a\n");
        RunbookFixture.writeRandom(tree.resolve("big.bin"), 8, 1);
        env = new HashMap<>(Map.of(
                "BACKUP_DIR", store.toString(), "ENCRYPTION_KEY_FILE", key.toString(), "SOURCE_DIR", tree.toString()));
    }

    private static void assertTagged(Path log, String job, long pid) throws Exception {
        List<String> lines = Files.readAllLines(log);
        assertThat(lines).as(log.toString()).isNotEmpty();
        assertThat(lines)
                .as(log + ": every line carries its time, job and pid")
                .allMatch(l -> l.matches(String.format(LINE, tag(job, pid))));
    }

    @Test
    void aMissingLogDirIsCreated0750AndEachLineCarriesJobAndPid() throws Exception {
        Path logs = dir.resolve("log-jiffoo");
        env.put("LOG_DIR", logs.toString());

        Jar.Started started = Jar.start(dir, env, "backup", "files");
        long pid = started.process().pid();
        Jar.Run r = started.await();

        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(Files.getPosixFilePermissions(logs)).isEqualTo(PosixFilePermissions.fromString("rwxr-x---"));
        Path log = logs.resolve("backup-files.log");
        assertThat(Files.getPosixFilePermissions(log)).isEqualTo(PosixFilePermissions.fromString("rw-r-----"));
        assertTagged(log, "backup-files", pid);
        assertThat(Files.readString(log)).contains("files/files_backup_");
        try (var files = Files.list(logs)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("backup-files.log");
        }
    }

    @Test
    void aLogDirWhoseParentIsMissingIsRefusedByName() {
        Path logs = dir.resolve("no-such-parent/jiffoo");
        Jar.Run r = Jar.run(dir, env, "--log-dir", logs.toString(), "list");

        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr()).startsWith("error: ").contains(logs.toString()).contains("LOG_DIR");
        assertThat(Files.exists(dir.resolve("no-such-parent"))).isFalse();
    }

    @Test
    void twoJobsAtOnceLogToTheirOwnFilesAndShareOneLogFileWithoutTornLines() throws Exception {
        Path logs = Files.createDirectories(dir.resolve("logs"));
        env.put("LOG_DIR", logs.toString());
        Jar.Started backup = Jar.start(dir, env, "--verbose", "backup", "files");
        Jar.Started verify = Jar.start(dir, env, "--verbose", "list");
        Jar.Run b = backup.await();
        Jar.Run v = verify.await();
        assertThat(b.exitCode()).as(b.toString()).isZero();
        assertThat(v.exitCode()).as(v.toString()).isZero();
        assertTagged(
                logs.resolve("backup-files.log"),
                "backup-files",
                backup.process().pid());
        assertTagged(
                logs.resolve("backup-list.log"), "backup-list", verify.process().pid());

        // one file for both (LOG_FILE wins over LOG_DIR): each line whole, each job's lines with its own pid.
        // Backup names hold the second the backup started: on a fast machine the first backup may have started in
        // this very second, and a second one now would be refused as a same-named backup (exit 2)
        Thread.sleep(1000 - System.currentTimeMillis() % 1000 + 10);
        Path shared = dir.resolve("shared/jiffoo-backup.log");
        env.put("LOG_FILE", shared.toString());
        Jar.Started one = Jar.start(dir, env, "--verbose", "backup", "files");
        Jar.Started two = Jar.start(dir, env, "--verbose", "verify", "--deep", "--latest");
        Jar.Run oneRun = one.await();
        Jar.Run twoRun = two.await();
        assertThat(oneRun.exitCode()).as(oneRun.toString()).isZero();
        assertThat(twoRun.exitCode()).as(twoRun.toString()).isZero();
        String pattern = String.format(
                LINE,
                tag("backup-files", one.process().pid()) + "|"
                        + tag("backup-verify", two.process().pid()));
        List<String> lines = Files.readAllLines(shared);
        assertThat(lines).allMatch(l -> l.matches(pattern));
        assertThat(lines)
                .anyMatch(l -> l.contains("backup-files[" + one.process().pid() + "]"))
                .anyMatch(l -> l.contains("backup-verify[" + two.process().pid() + "]"));
    }

    @Test
    void aQuietBackupPrintsNothingAndItsWarningsGoToTheLog() throws Exception {
        // an absolute link: the backup warns that restoring it needs --allow-symlinks-outside-target
        Files.createSymbolicLink(tree.resolve("zone"), Path.of("/usr/share/zoneinfo/UTC"));
        Path logs = dir.resolve("logs");
        env.put("LOG_DIR", logs.toString());

        Jar.Run r = Jar.run(dir, env, "--quiet", "backup", "files");

        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).isEmpty();
        assertThat(r.stderr()).isEmpty();
        String log = Files.readString(logs.resolve("backup-files.log"));
        assertThat(log)
                .contains("WARN")
                .contains("--allow-symlinks-outside-target")
                .doesNotContain("allowSymlinksOutsideTarget(true)")
                .contains("backed up directory " + tree);
    }

    /** cron mails what a job prints: a quiet monitor prints its report only when the backups are not healthy. */
    @Test
    void aQuietMonitorPrintsItsReportOnlyWhenNotHealthy() {
        Jar.Run critical = Jar.run(dir, env, "--quiet", "monitor", "--no-alert");
        assertThat(critical.exitCode()).as(critical.toString()).isEqualTo(10);
        assertThat(critical.stdout()).contains("CRITICAL").contains("database");
    }

    @Test
    void aFailingQuietBackupPrintsTheErrorOnceInTheLaunchersWords() throws Exception {
        Jar.Run missing = Jar.run(
                dir, env, "--quiet", "backup", "files", dir.resolve("gone").toString());
        assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(2);
        assertThat(missing.stdout()).isEmpty();
        assertThat(missing.stderr().lines())
                .as(missing.toString())
                .hasSize(1)
                .allMatch(l -> l.startsWith("error: ") && l.contains("gone"));

        assertThat(Jar.run(dir, env, "backup", "files").exitCode()).isZero();
        Path target = Files.createDirectories(dir.resolve("target"));
        Files.writeString(target.resolve("keep.txt"), "keep\n");
        Jar.Run r = Jar.run(dir, env, "--quiet", "restore", "files", "--latest", "--target", target.toString());
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(7);
        assertThat(r.stdout()).isEmpty();
        assertThat(r.stderr().lines())
                .as(r.toString())
                .hasSize(1)
                .allMatch(l -> l.startsWith("error: ") && l.contains("--replace"));
        assertThat(r.stderr()).doesNotContain("replaceExisting");
        Jar.Run loud = Jar.run(dir, env, "restore", "files", "--latest", "--target", target.toString());
        assertThat(loud.stderr().lines()).as("without --quiet too: once").hasSize(1);
    }
}
