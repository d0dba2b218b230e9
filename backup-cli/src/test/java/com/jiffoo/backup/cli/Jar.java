package com.jiffoo.backup.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real launcher, {@code target/jiffoo-backup.jar}, as a separate {@code java -jar} process with exactly the
 * environment given (plus {@code PATH}, {@code HOME} and a UTF-8 locale), as cron or Kubernetes would.
 */
public final class Jar {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What one run printed and returned. */
    public record Run(int exitCode, String stdout, String stderr) {
        /** The one JSON line --json prints. */
        public JsonNode json() {
            try {
                return JSON.readTree(stdout.strip());
            } catch (IOException e) {
                throw new AssertionError("stdout is not one JSON document: " + stdout + "\nstderr: " + stderr, e);
            }
        }

        /** Everything printed, for checks that nothing secret leaked. */
        public String all() {
            return stdout + stderr;
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }

    private Jar() {}

    /** The jar that `package` built. */
    public static Path path() {
        String p = System.getProperty("jiffoo.cli.jar", "target/jiffoo-backup.jar");
        Path jar = Path.of(p).toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            throw new AssertionError(jar + " is missing: these tests run in `mvn verify`, after `package` built it");
        }
        return jar;
    }

    /** Runs {@code java -jar jiffoo-backup.jar ARGS} in {@code dir} with {@code env}. */
    public static Run run(Path dir, Map<String, String> env, String... args) {
        return start(dir, env, args).await();
    }

    /** Runs any command with {@code env} (plus PATH, HOME, LANG). */
    public static Run exec(Path dir, Map<String, String> env, List<String> command) {
        return start(dir, env, command).await();
    }

    /**
     * Starts {@code jiffoo-backup ARGS} without waiting for it: the launcher {@code package} made next to the jar (as
     * operators run it, with its class-data-sharing archive; it execs {@code java -jar}, so the pid is the JVM's), or
     * {@code java -jar jiffoo-backup.jar ARGS} where there is none.
     */
    public static Started start(Path dir, Map<String, String> env, String... args) {
        Path launcher = path().resolveSibling("jiffoo-backup");
        List<String> command = new ArrayList<>(
                Files.isExecutable(launcher)
                        ? List.of(launcher.toString())
                        : List.of(javaBinary(), "-jar", path().toString()));
        command.addAll(List.of(args));
        return start(dir, env, command);
    }

    /** Starts any command with {@code env} (plus PATH, HOME, LANG, JAVA_HOME) without waiting for it. */
    public static Started start(Path dir, Map<String, String> env, List<String> command) {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
        pb.environment().clear();
        pb.environment().putAll(baseEnvironment());
        pb.environment().putAll(env);
        try {
            Path out = Files.createTempFile(dir, ".stdout", ".txt");
            Path err = Files.createTempFile(dir, ".stderr", ".txt");
            pb.redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            return new Started(pb.start(), out, err, command);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A running process whose output goes to files. */
    public record Started(Process process, Path out, Path err, List<String> command) {
        /** Waits for the process to end (at most 10 minutes, then it is killed and the test fails). */
        public Run await() {
            try {
                if (!process.waitFor(10, TimeUnit.MINUTES)) {
                    process.destroyForcibly();
                    throw new AssertionError("hung: " + command);
                }
                Run r = new Run(
                        process.exitValue(),
                        Files.readString(out, StandardCharsets.UTF_8),
                        Files.readString(err, StandardCharsets.UTF_8));
                Files.delete(out);
                Files.delete(err);
                return r;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    private static Map<String, String> baseEnvironment() {
        Map<String, String> env = new HashMap<>();
        env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        env.put("HOME", System.getProperty("java.io.tmpdir"));
        env.put("LANG", "C.UTF-8");
        env.put("JAVA_HOME", System.getProperty("java.home")); // the launcher runs the JDK running the tests
        return env;
    }

    /** The java binary running the tests. */
    public static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
