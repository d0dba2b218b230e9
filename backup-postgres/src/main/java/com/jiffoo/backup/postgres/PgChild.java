package com.jiffoo.backup.postgres;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one launcher of PostgreSQL client tools (pg_dump, pg_restore, {@code --version} probes, and the tools to come)
 * and of the other children of this module ({@code pg_ctl} of {@link RecoveryServer}, the trial of a
 * {@code restore_command} by {@link PitrRestore}): every child process of this module is started here, and only here.
 * <ul>
 *   <li><b>Environment</b>: {@link ChildEnvironment}'s allowlist, never inherited; the libpq settings of the
 *       {@link PgConnection} (the password only there, never in argv) when the tool connects.</li>
 *   <li><b>Death</b>: where {@code setpriv --pdeathsig} exists (util-linux), the tool is started through it so that
 *       it is killed when this JVM dies, even by {@code kill -9}: neither a pg_restore going on into a database
 *       unchecked, nor a pg_dump holding its locks. The signal comes when the thread that started the child ends;
 *       callers wait for their child on that thread.</li>
 *   <li><b>stderr</b> is drained on a daemon thread, which logs every line at debug, keeps the last
 *       {@value #KEPT_LINES} lines (each cut at {@value #MAX_LINE} characters) for error messages and counts
 *       warnings.</li>
 *   <li><b>Exit</b>: {@link #exitText(int)} says how a tool ended, signal included
 *       ({@code killed by signal 9 (SIGKILL, exit code 137)}).</li>
 *   <li><b>Stopping</b>: {@link #kill()} (never throws), {@link #cancel()} from another thread; a failure while
 *       feeding the tool or taking its output kills it before the failure is rethrown.</li>
 * </ul>
 * Not thread-safe, except {@link #cancel()}, {@link #tail()} and what reads stderr's tail; private to this package.
 */
final class PgChild {
    private static final Logger LOG = LoggerFactory.getLogger(PgChild.class);

    /** Lines of stderr kept for error messages. */
    static final int KEPT_LINES = 50;
    /** Characters of one stderr line kept. */
    static final int MAX_LINE = 1000;

    private static final int BUFFER_SIZE = 128 * 1024;

    private final Process process;
    private final String name;
    private final Thread drainer;
    private final Deque<String> lastLines = new ArrayDeque<>();
    private int warnings;
    private volatile boolean cancelled;
    /** Sees each stderr line first; a line it returns true for is its own (not kept, logged at trace). */
    private volatile java.util.function.Predicate<String> progress;

    private PgChild(Process process, String name, java.util.function.Predicate<String> progress) {
        this.process = process;
        this.name = name;
        this.progress = progress;
        this.drainer = new Thread(this::drain, "jiffoo-" + name + "-stderr-" + process.pid());
        this.drainer.setDaemon(true);
        this.drainer.start();
    }

    /**
     * Starts {@code command} (the tool's path first) with the allowlisted environment for {@code connection} (null
     * for a tool that connects nowhere) and {@code stdin} as its standard input; stdout is discarded unless
     * {@code keepStdout}.
     */
    static PgChild start(
            List<String> command, PgConnection connection, ProcessBuilder.Redirect stdin, boolean keepStdout)
            throws IOException {
        return start(command, connection, stdin, keepStdout, null);
    }

    /**
     * {@link #start(List, PgConnection, ProcessBuilder.Redirect, boolean)}, with {@code progress} seeing every line
     * of stderr first (on the draining thread): the lines it returns true for are progress, not kept for error
     * messages. It must not block; if it throws, it is dropped and the lines are kept again.
     */
    static PgChild start(
            List<String> command,
            PgConnection connection,
            ProcessBuilder.Redirect stdin,
            boolean keepStdout,
            java.util.function.Predicate<String> progress)
            throws IOException {
        List<String> cmd = new ArrayList<>(DeathSignal.PREFIX);
        cmd.addAll(command);
        ProcessBuilder pb = processBuilder(cmd, connection, toolName(command))
                .redirectOutput(keepStdout ? ProcessBuilder.Redirect.PIPE : ProcessBuilder.Redirect.DISCARD)
                .redirectInput(stdin);
        return new PgChild(pb.start(), toolName(command), progress);
    }

    private static String toolName(List<String> command) {
        return command.get(0).replaceAll(".*/", "");
    }

    /** A process builder for {@code command} whose environment is {@link ChildEnvironment#of} this process's. */
    private static ProcessBuilder processBuilder(List<String> command, PgConnection connection, String tool) {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().clear();
        pb.environment().putAll(ChildEnvironment.of(System.getenv(), connection, tool));
        return pb;
    }

    /**
     * Probes now, on the calling thread, what the first {@link #start} would otherwise probe first (whether setpriv
     * can set the death signal): for a caller that prepares on another thread while it waits for something else.
     */
    static void warmUp() {
        if (DeathSignal.PREFIX == null) {
            throw new IllegalStateException("unreachable");
        }
    }

    /** {@code setpriv --pdeathsig KILL}, when this system's setpriv has it (probed once), else nothing. */
    private static final class DeathSignal {
        static final List<String> PREFIX = probe();

        private static List<String> probe() {
            for (String dir : new String[] {"/usr/bin", "/bin"}) {
                Path setpriv = Path.of(dir, "setpriv");
                if (!Files.isExecutable(setpriv)) {
                    continue;
                }
                List<String> prefix = List.of(setpriv.toString(), "--pdeathsig", "KILL");
                try {
                    List<String> probe = new ArrayList<>(prefix);
                    probe.add("true");
                    Process p = processBuilder(probe, null, "setpriv")
                            .redirectErrorStream(true)
                            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                            .start();
                    if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
                        return prefix;
                    }
                    p.destroyForcibly();
                } catch (IOException e) {
                    // not usable
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return List.of();
        }
    }

    /** The process id (the tool's own: setpriv replaces itself with the tool). */
    long pid() {
        return process.pid();
    }

    /** The tool's standard input (when started with {@link ProcessBuilder.Redirect#PIPE}). */
    OutputStream stdin() {
        return process.getOutputStream();
    }

    /** The tool's standard output (only when started with keepStdout). */
    InputStream stdout() {
        return process.getInputStream();
    }

    private void drain() {
        try (BufferedReader r =
                new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (isProgress(line)) {
                    LOG.trace("{}: {}", name, line);
                    continue;
                }
                LOG.debug("{}: {}", name, line);
                synchronized (lastLines) {
                    if (line.contains("warning:")) {
                        warnings++;
                    }
                    if (lastLines.size() == KEPT_LINES) {
                        lastLines.removeFirst();
                    }
                    lastLines.addLast(line.length() > MAX_LINE ? line.substring(0, MAX_LINE) + "..." : line);
                }
            }
        } catch (IOException e) {
            LOG.debug("reading the stderr of {} failed: {}", name, e.toString());
        }
    }

    private boolean isProgress(String line) {
        java.util.function.Predicate<String> p = progress;
        if (p == null) {
            return false;
        }
        try {
            return p.test(line);
        } catch (RuntimeException e) {
            progress = null;
            LOG.debug("following the progress of {} failed: {}", name, e.toString());
            return false;
        }
    }

    /**
     * Copies the tool's stdout into {@code out} until it ends, then flushes {@code out} (never closes it); when writing
     * fails (downstream: the store or encryption), kills the tool and rethrows.
     *
     * @return the bytes copied
     */
    long copyStdoutTo(OutputStream out) throws IOException {
        byte[] buf = new byte[BUFFER_SIZE];
        long total = 0;
        try (InputStream in = stdout()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                try {
                    out.write(buf, 0, n);
                } catch (IOException | RuntimeException e) {
                    LOG.debug(
                            "writing the output of {} failed downstream after {} bytes; killing it (pid {})",
                            name,
                            total,
                            pid());
                    process.destroyForcibly();
                    throw e;
                }
                total += n;
            }
        }
        out.flush();
        return total;
    }

    /** Reads a tool's stdout and writes what becomes of it: {@link #transformStdout}. */
    @FunctionalInterface
    interface StdoutTransform {
        /** Reads {@code in} to its end, writes to {@code out}; returns the bytes read. */
        long transfer(InputStream in, OutputStream out) throws IOException;
    }

    /**
     * Like {@link #copyStdoutTo} through {@code transform}: when writing fails downstream or the transform refuses
     * what it reads, kills the tool and rethrows; when the tool's output ends early ({@link java.io.EOFException}),
     * leaves it alone, so that its exit code and stderr tell why.
     *
     * @return the bytes read from the tool
     */
    long transformStdout(StdoutTransform transform, OutputStream out) throws IOException {
        long total;
        try (InputStream in = stdout()) {
            total = transform.transfer(in, out);
        } catch (java.io.EOFException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            LOG.debug("transforming the output of {} failed: {}; killing it (pid {})", name, e.toString(), pid());
            process.destroyForcibly();
            throw e;
        }
        out.flush();
        return total;
    }

    /**
     * Copies {@code in} into the tool's stdin and closes it; stops early when the tool stops reading (it ended: its
     * exit code and stderr tell why). When reading {@code in} fails, kills the tool (it must not finish on part of
     * its input) and rethrows. Does not close {@code in}.
     */
    void feed(InputStream in) throws IOException {
        OutputStream stdin = stdin();
        byte[] buf = new byte[2 * BUFFER_SIZE];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                try {
                    stdin.write(buf, 0, n);
                } catch (IOException e) {
                    LOG.debug("{} stopped reading: {}", name, e.toString());
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            kill();
            throw e;
        } finally {
            closeQuietly(stdin);
        }
    }

    static void closeQuietly(OutputStream out) {
        if (out != null) {
            try {
                out.close();
            } catch (IOException ignored) {
                // the tool closed its end first
            }
        }
    }

    /** Waits for the tool and for its stderr to be drained; returns the exit code. Interrupted: kills it. */
    int waitFor() throws InterruptedIOException {
        try {
            int code = process.waitFor();
            drainer.join(TimeUnit.SECONDS.toMillis(30));
            return code;
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + name);
        }
    }

    /** Waits up to {@code timeout} for the tool to end; true when it did (its code is then {@link #waitFor()}'s). */
    boolean waitFor(long timeout, TimeUnit unit) throws InterruptedException {
        return process.waitFor(timeout, unit);
    }

    /** Kills the tool (if still running) and waits for it. Never throws. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
            drainer.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Kills the tool from another thread because the work it serves was cancelled or failed elsewhere; the thread
     * that waits for it then sees the end of its output, its exit code and {@link #cancelled()}. Never throws, never
     * waits. (SIGKILL through the process handle: {@link Process#destroyForcibly()} would also close our ends of its
     * pipes under the reading thread, which would then fail with "Stream closed" instead.)
     */
    void cancel() {
        cancelled = true;
        if (process.isAlive()) {
            LOG.info("cancelled: killing {} (pid {})", name, pid());
            process.toHandle().destroyForcibly();
        }
    }

    /** Whether {@link #cancel()} was called. */
    boolean cancelled() {
        return cancelled;
    }

    /** The warning lines of stderr so far. */
    int warnings() {
        synchronized (lastLines) {
            return warnings;
        }
    }

    /** The last lines of stderr (at most {@value #KEPT_LINES}). */
    List<String> tail() {
        synchronized (lastLines) {
            return List.copyOf(lastLines);
        }
    }

    /** The last lines of stderr, joined by newlines, or "(no output)". */
    String lastLines() {
        List<String> tail = tail();
        return tail.isEmpty() ? "(no output)" : String.join("\n", tail);
    }

    /** True when one of the kept stderr lines contains {@code text}. */
    boolean said(String text) {
        return tail().stream().anyMatch(l -> l.contains(text));
    }

    /**
     * How a tool with this exit code ended: {@code failed with exit code 1}, or for a tool killed by a signal (exit
     * code 128 + signal, as Java reports it) {@code was killed by signal 9 (SIGKILL, exit code 137)}.
     */
    static String exitText(int exit) {
        int signal = signal(exit);
        return signal == 0
                ? "failed with exit code " + exit
                : "was killed by signal " + signal + " (" + signalName(signal) + ", exit code " + exit + ")";
    }

    /** The signal that killed a tool with this exit code, or 0 when it exited by itself. */
    static int signal(int exit) {
        return exit > 128 && exit < 128 + 65 ? exit - 128 : 0;
    }

    private static String signalName(int signal) {
        return switch (signal) {
            case 1 -> "SIGHUP";
            case 2 -> "SIGINT";
            case 3 -> "SIGQUIT";
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 13 -> "SIGPIPE";
            case 15 -> "SIGTERM";
            default -> "signal " + signal;
        };
    }
}
