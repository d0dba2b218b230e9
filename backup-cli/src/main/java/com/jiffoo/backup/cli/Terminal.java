package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupListener;
import com.jiffoo.backup.Progress;
import java.io.PrintStream;
import java.util.Locale;

/**
 * What people see: messages on stderr and, on a terminal, a progress line for long work (bytes, rate, and the
 * ETA when the size is known) drawn from the library's {@link BackupListener} events. When stdout or stderr is not
 * a terminal ({@code System.console()} is null: cron, pipes, Kubernetes) there is no progress line.
 */
final class Terminal implements BackupListener {
    private static PrintStream stderr = System.err;

    private final boolean enabled;
    private final CliCommand.CommitGate gate;
    private long lastDraw;
    private boolean drawn;

    private Terminal(boolean enabled, CliCommand.CommitGate gate) {
        this.enabled = enabled;
        this.gate = gate;
    }

    /** Remembers the real stderr before logging takes over {@code System.err}. */
    static void keepStderr() {
        stderr = System.err;
    }

    /** The process's stderr, for messages to people. */
    static PrintStream err() {
        return stderr;
    }

    /**
     * A progress listener that draws only when stdout and stderr are a terminal and {@code quiet} is false, and holds
     * a restore's commit to {@code gate}.
     */
    static Terminal progress(boolean quiet, CliCommand.CommitGate gate) {
        return new Terminal(!quiet && System.console() != null, gate);
    }

    @Override
    public void committing(Operation operation, String key) {
        if (gate != null) {
            gate.begin(key);
        }
    }

    @Override
    public void progress(Operation operation, Progress p) {
        long now = System.nanoTime();
        if (!enabled || now - lastDraw < 500_000_000L) {
            return;
        }
        lastDraw = now;
        drawn = true;
        stderr.print("\r" + line(operation, p) + "   ");
        stderr.flush();
    }

    @Override
    public void finished(Operation operation, Progress p) {
        end();
    }

    @Override
    public void failed(Operation operation, Progress p, BackupException error) {
        end();
    }

    private void end() {
        if (drawn) {
            stderr.println();
            drawn = false;
        }
    }

    /** {@code backup  12.0 MiB  4.1 MiB/s} or, when the size is known, {@code restore  12.0 of 70.8 MiB (17%) ... ETA 0:14}. */
    static String line(Operation operation, Progress p) {
        double rate = p.storedBytesPerSecond();
        StringBuilder sb = new StringBuilder(operation.name().toLowerCase(Locale.ROOT)).append("  ");
        if (p.expectedBytes() > 0) {
            sb.append(bytes(p.storedBytes()))
                    .append(" of ")
                    .append(bytes(p.expectedBytes()))
                    .append(String.format(Locale.ROOT, " (%d%%)", p.storedBytes() * 100 / p.expectedBytes()));
        } else {
            sb.append(bytes(p.storedBytes()));
        }
        sb.append("  ").append(bytes((long) rate)).append("/s");
        if (p.expectedBytes() > 0 && rate > 0) {
            long secs = (long) ((p.expectedBytes() - p.storedBytes()) / rate);
            sb.append(String.format(Locale.ROOT, "  ETA %d:%02d", secs / 60, secs % 60));
        }
        return sb.toString();
    }

    /** Bytes in binary units: {@code 512 B}, {@code 1.5 KiB}, {@code 70.8 MiB}. */
    static String bytes(long n) {
        return com.jiffoo.backup.internal.Support.humanBytes(n);
    }
}
