package com.jiffoo.backup.postgres;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Test helpers that run the real PostgreSQL and shell CLIs against {@link PgTestServer} (the libpq settings go
 * through the environment; the password never on a command line).
 */
final class PgTools {
    private PgTools() {}

    /** The test server's connection settings for {@code database}. */
    static PgConnection connection(String database) {
        PgTestServer s = PgTestServer.get();
        return PgConnection.builder()
                .host(s.host())
                .port(s.port())
                .user(s.user())
                .password(s.password() == null ? null : s.password().toCharArray())
                .database(database)
                .build();
    }

    /** {@code pg_dump -Fc -f file database}. */
    static Path dump(String database, Path file) {
        run(List.of("pg_dump", "-Fc", "-f", file.toString(), database), database, null);
        return file;
    }

    /** Runs {@code bash -o pipefail -c script} with the libpq environment for {@code database}; returns stderr. */
    static String bash(String script, String database, Map<String, String> extraEnv) {
        return run(List.of("bash", "-o", "pipefail", "-c", script), database, extraEnv);
    }

    private static String run(List<String> cmd, String database, Map<String, String> extraEnv) {
        try {
            Path err = Files.createTempFile("jb-cli-", ".err");
            try {
                ProcessBuilder pb = new ProcessBuilder(cmd)
                        .redirectError(err.toFile())
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD);
                pb.environment().putAll(connection(database).childEnvironment());
                if (extraEnv != null) {
                    pb.environment().putAll(extraEnv);
                }
                Process p = pb.start();
                p.getOutputStream().close();
                if (!p.waitFor(10, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    throw new AssertionError("timed out: " + cmd);
                }
                String stderr = Files.readString(err, StandardCharsets.UTF_8);
                if (p.exitValue() != 0) {
                    throw new AssertionError("exit " + p.exitValue() + ": " + cmd + "\n" + stderr);
                }
                return stderr;
            } finally {
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The fingerprint of a database of the test server. */
    static TableHashes hashes(String database) throws java.sql.SQLException {
        try (java.sql.Connection c = PgTestServer.get().connect(database)) {
            return TableHashes.of(c);
        }
    }

    /** A copy of {@code file} holding its first {@code fraction} of bytes. */
    static Path truncated(Path file, double fraction, Path out) throws IOException {
        byte[] all = Files.readAllBytes(file);
        Files.write(out, java.util.Arrays.copyOf(all, (int) (all.length * fraction)));
        return out;
    }

    static List<String> argsOf(String... a) {
        return new ArrayList<>(List.of(a));
    }
}
