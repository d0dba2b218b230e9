package com.jiffoo.backup.postgres;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One running PostgreSQL client process (pg_restore). Its environment is {@link ChildEnvironment}'s allowlist with
 * the libpq settings of a {@link PgConnection} (the password only there, never in argv); stderr is drained on a
 * daemon thread, which keeps the last {@value #KEPT_LINES} lines and counts warnings. Not thread-safe; private to
 * this package.
 */
final class PgChild {
    static final int KEPT_LINES = 50;

    private final Process process;
    private final Thread drainer;
    private final Deque<String> lastLines = new ArrayDeque<>();
    private int warnings;
    private long lines;

    private PgChild(Process process, String name) {
        this.process = process;
        this.drainer = new Thread(this::drain, name + "-stderr");
        this.drainer.setDaemon(true);
        this.drainer.start();
    }

    /**
     * Starts {@code command} with {@link ChildEnvironment}'s environment for the connection (null for commands that
     * need no server).
     * stdout is discarded unless {@code keepStdout}.
     */
    static PgChild start(List<String> command, PgConnection connection, boolean keepStdout) throws IOException {
        return start(command, connection, keepStdout, ProcessBuilder.Redirect.PIPE);
    }

    /**
     * Starts {@code command} as {@link #start(List, PgConnection, boolean)} does, with {@code stdin} as its standard
     * input. Where {@code setpriv --pdeathsig} exists (util-linux), the child is started through it so that it is
     * killed when this JVM dies, even by {@code kill -9}: a pg_restore must not go on into a database unchecked.
     */
    static PgChild start(List<String> command, PgConnection connection, boolean keepStdout,
                         ProcessBuilder.Redirect stdin) throws IOException {
        ProcessBuilder pb = ChildEnvironment.processBuilder(command, connection); // the environment of the tool
        List<String> cmd = new ArrayList<>(DeathSignal.PREFIX);
        cmd.addAll(command);
        pb.command(cmd);
        pb.redirectOutput(keepStdout ? ProcessBuilder.Redirect.PIPE : ProcessBuilder.Redirect.DISCARD);
        pb.redirectInput(stdin);
        return new PgChild(pb.start(), command.get(0).replaceAll(".*/", ""));
    }

    /**
     * {@code setpriv --pdeathsig KILL}, when this system's setpriv has it (probed once), else nothing. The signal
     * comes when the thread that started the child ends; callers wait for their child on that thread.
     */
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
                    Process p = ChildEnvironment.processBuilder(probe, null).redirectErrorStream(true)
                            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
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

    Process process() {
        return process;
    }

    private void drain() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (this) {
                    lines++;
                    if (line.contains("warning:")) {
                        warnings++;
                    }
                    lastLines.addLast(line);
                    if (lastLines.size() > KEPT_LINES) {
                        lastLines.removeFirst();
                    }
                }
            }
        } catch (IOException e) {
            // the process went away; what we have is what there is
        }
    }

    /** Waits for the process and for stderr to be drained; returns the exit code. */
    int waitFor() throws InterruptedIOException {
        try {
            int code = process.waitFor();
            drainer.join(TimeUnit.SECONDS.toMillis(30));
            return code;
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + process.info().command().orElse("a child"));
        }
    }

    /** Kills the process (if still running) and waits for it. Never throws. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
            drainer.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** stdout of the process (only when started with keepStdout). */
    InputStream stdout() {
        return process.getInputStream();
    }

    synchronized int warnings() {
        return warnings;
    }

    /** The last lines of stderr, joined by newlines, or "(no output)". */
    synchronized String lastLines() {
        return lastLines.isEmpty() ? "(no output)" : String.join("\n", lastLines);
    }

    /** True when one of the kept stderr lines contains {@code text}. */
    synchronized boolean said(String text) {
        return lastLines.stream().anyMatch(l -> l.contains(text));
    }
}
