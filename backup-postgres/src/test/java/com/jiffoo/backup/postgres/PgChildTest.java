package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher with real children: small shell scripts in place of the PostgreSQL tools, started exactly as pg_dump
 * and pg_restore are. The test JVM's environment holds secrets ({@link ChildEnvironmentTest#PARENT_SECRETS}, set by
 * this module's pom).
 */
class PgChildTest {
    private static final String PASSWORD = "Launcher-child-pw-7";

    @TempDir
    Path dir;

    /** An executable script named {@code name} (e.g. pg_dump) running {@code body} under /bin/sh. */
    private Path tool(String name, String body) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path script = bin.resolve(name);
        Files.writeString(script, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private static PgConnection connection() {
        return PgConnection.builder()
                .host("db.example.com")
                .port(5433)
                .database("shop")
                .user("backup")
                .password(PASSWORD.toCharArray())
                .build();
    }

    private static Map<String, String> environmentOf(Path tool, PgConnection connection) throws IOException {
        PgChild child = PgChild.start(List.of(tool.toString()), connection, ProcessBuilder.Redirect.PIPE, true);
        child.stdin().close();
        byte[] out;
        try (InputStream in = child.stdout()) {
            out = in.readAllBytes();
        }
        assertThat(child.waitFor()).as(child.lastLines()).isZero();
        return ProcessEnvironments.parse(out);
    }

    @Test
    void aSecretOfOurEnvironmentNeverReachesTheTool() throws Exception {
        Path pgDump = tool("pg_dump", "cat /proc/$$/environ");
        Map<String, String> env = environmentOf(pgDump, connection());
        assertThat(env)
                .doesNotContainKeys(ChildEnvironmentTest.PARENT_SECRETS.toArray(String[]::new))
                .doesNotContainKeys("JAVA_TOOL_OPTIONS", "JAVA_HOME", "MAVEN_OPTS")
                .containsEntry("PGHOST", "db.example.com")
                .containsEntry("PGPORT", "5433")
                .containsEntry("PGDATABASE", "shop")
                .containsEntry("PGUSER", "backup")
                .containsEntry("PGPASSWORD", PASSWORD)
                .containsEntry("PGAPPNAME", "jiffoo-backup pg_dump")
                .containsKey("PATH");
        for (String name : ChildEnvironmentTest.PARENT_SECRETS) {
            assertThat(env.values()).as("the value of " + name).doesNotContain(System.getenv(name));
        }
        assertThat(env.keySet()).allMatch(ProcessEnvironments::allowlisted);

        Map<String, String> unconnected = environmentOf(tool("pg_restore", "cat /proc/$$/environ"), null);
        assertThat(unconnected.keySet())
                .as("a tool that connects nowhere gets no libpq settings")
                .noneMatch(k -> k.startsWith("PG"))
                .allMatch(ProcessEnvironments::allowlisted);
    }

    @Test
    void thePasswordIsNotOnTheCommandLine() throws Exception {
        Path pgDump = tool("pg_dump", "cat /proc/$$/cmdline");
        PgChild child = PgChild.start(
                List.of(pgDump.toString(), "--format=custom"), connection(), ProcessBuilder.Redirect.PIPE, true);
        String argv = new String(child.stdout().readAllBytes());
        assertThat(child.waitFor()).isZero();
        assertThat(argv).contains("--format=custom").doesNotContain(PASSWORD);
    }

    @Test
    void stderrKeepsABoundedTailAndCountsWarnings() throws Exception {
        Path pgRestore = tool(
                "pg_restore",
                "i=1; while [ $i -le 200 ]; do echo \"line $i\" >&2; i=$((i+1)); done\n"
                        + "printf '%05000d\\n' 0 >&2\n"
                        + "echo 'pg_restore: warning: errors ignored on restore: 1' >&2\n"
                        + "exit 3");
        PgChild child = PgChild.start(List.of(pgRestore.toString()), null, ProcessBuilder.Redirect.PIPE, false);
        int exit = child.waitFor();
        assertThat(exit).isEqualTo(3);
        assertThat(PgChild.exitText(exit)).isEqualTo("failed with exit code 3");
        List<String> tail = child.tail();
        assertThat(tail).hasSize(PgChild.KEPT_LINES);
        assertThat(tail.get(0)).isEqualTo("line 153");
        assertThat(tail.get(tail.size() - 2)).hasSize(PgChild.MAX_LINE + 3).endsWith("...");
        assertThat(tail.get(tail.size() - 1)).contains("errors ignored");
        assertThat(child.warnings()).isEqualTo(1);
        assertThat(child.said("line 200")).isTrue();
    }

    @Test
    void aToolKilledBySignalSaysWhichSignal() throws Exception {
        Path pgDump = tool("pg_dump", "echo 'pg_dump: dumping' >&2\nexec sleep 60");
        PgChild child = PgChild.start(List.of(pgDump.toString()), null, ProcessBuilder.Redirect.PIPE, false);
        assertThat(ProcessHandle.of(child.pid())).isPresent();
        ProcessHandle.of(child.pid()).orElseThrow().destroyForcibly(); // SIGKILL, as the OOM killer sends
        int exit = child.waitFor();
        assertThat(PgChild.signal(exit)).isEqualTo(9);
        assertThat(PgChild.exitText(exit)).isEqualTo("was killed by signal 9 (SIGKILL, exit code 137)");

        PgChild terminated = PgChild.start(
                List.of(tool("pg_restore", "kill -TERM $$").toString()), null, ProcessBuilder.Redirect.PIPE, false);
        assertThat(PgChild.exitText(terminated.waitFor()))
                .isEqualTo("was killed by signal 15 (SIGTERM, exit code 143)");
    }

    @Test
    void aFailingDownstreamKillsTheToolAndRethrows() throws Exception {
        Path pgDump = tool("pg_dump", "exec yes dump");
        PgChild child = PgChild.start(List.of(pgDump.toString()), null, ProcessBuilder.Redirect.PIPE, true);
        child.stdin().close();
        assertThatThrownBy(() -> child.copyStdoutTo(ChildProcesses.failingAfter(1 << 20, () -> {})))
                .hasMessage("disk full (test)");
        assertThat(child.waitFor(10, TimeUnit.SECONDS))
                .as("the tool was killed")
                .isTrue();
        assertThat(PgChild.signal(child.waitFor())).isEqualTo(9);
    }

    @Test
    void aFailingInputKillsTheToolSoItCannotFinishOnPartOfIt() throws Exception {
        Path pgRestore = tool("pg_restore", "cat > /dev/null\necho 'restored' >&2");
        PgChild child = PgChild.start(List.of(pgRestore.toString()), null, ProcessBuilder.Redirect.PIPE, false);
        InputStream broken = new InputStream() {
            int n;

            @Override
            public int read() throws IOException {
                if (++n > 1000) {
                    throw new IOException("checksum stream failed (test)");
                }
                return 'x';
            }
        };
        assertThatThrownBy(() -> child.feed(broken)).hasMessage("checksum stream failed (test)");
        assertThat(PgChild.signal(child.waitFor())).isEqualTo(9);
        assertThat(child.said("restored")).isFalse();
    }

    @Test
    void feedingStopsQuietlyWhenTheToolStopsReading() throws Exception {
        Path pgRestore = tool("pg_restore", "head -c 10 > /dev/null\necho 'pg_restore: error: bad input' >&2\nexit 1");
        PgChild child = PgChild.start(List.of(pgRestore.toString()), null, ProcessBuilder.Redirect.PIPE, false);
        child.feed(new ByteArrayInputStream(new byte[8 << 20]));
        assertThat(child.waitFor()).isEqualTo(1);
        assertThat(child.lastLines()).isEqualTo("pg_restore: error: bad input");
    }

    @Test
    void cancelKillsAToolThatWritesNothing() throws Exception {
        Path pgDump = tool("pg_dump", "exec sleep 60"); // e.g. waiting for a lock
        for (int i = 0; i < 10; i++) { // the cancel races with the start of the copy: either way, the same end
            PgChild child = PgChild.start(List.of(pgDump.toString()), null, ProcessBuilder.Redirect.PIPE, true);
            Thread canceller = new Thread(child::cancel);
            canceller.start();
            assertThat(child.copyStdoutTo(OutputStream.nullOutputStream())).isZero();
            assertThat(PgChild.signal(child.waitFor())).isEqualTo(9);
            assertThat(child.cancelled()).isTrue();
            assertThat(child.lastLines()).isEqualTo("(no output)");
            canceller.join();
        }
    }
}
