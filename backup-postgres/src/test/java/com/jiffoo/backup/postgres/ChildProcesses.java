package com.jiffoo.backup.postgres;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** Finds the pg_dump processes this JVM started, and streams that act on them once data flows. */
final class ChildProcesses {
    private ChildProcesses() {}

    /** The running pg_dump children (and grandchildren) of this JVM. */
    static List<ProcessHandle> pgDumps() {
        return children("pg_dump");
    }

    /** The running children (and grandchildren) of this JVM whose executable is named {@code tool}. */
    static List<ProcessHandle> children(String tool) {
        return ProcessHandle.current()
                .descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("/" + tool)).orElse(false))
                .toList();
    }

    /**
     * {@link #children}, waiting up to 10 s for {@code count} of them: a tool started through {@code setpriv} is
     * named {@code setpriv} until it has exec'd the tool, which may come after the first bytes were written to its
     * stdin.
     */
    static List<ProcessHandle> awaitChildren(String tool, int count) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        List<ProcessHandle> found = children(tool);
        while (found.size() < count && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            found = children(tool);
        }
        return found;
    }

    /**
     * {@code h}'s info once its arguments can be read, waiting up to 10 s: while a child execs, the kernel shows the
     * new executable in {@code /proc/PID/exe} a moment before it has set up the argument list that
     * {@code /proc/PID/cmdline} reads (empty until then).
     */
    static ProcessHandle.Info awaitArguments(ProcessHandle h) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        ProcessHandle.Info info = h.info();
        while (info.arguments().isEmpty() && h.isAlive() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            info = h.info();
        }
        return info;
    }

    /** Kills every pg_dump child with SIGKILL and waits until they are gone. */
    static int killPgDumps() {
        int n = 0;
        for (ProcessHandle h : pgDumps()) {
            h.destroyForcibly();
            try {
                h.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("pg_dump " + h.pid() + " did not exit", e);
            }
            n++;
        }
        return n;
    }

    /** A stream passing bytes to {@code out} that runs {@code action} once, after {@code after} bytes went by. */
    static OutputStream onceAfter(OutputStream out, long after, Runnable action) {
        return new FilterOutputStream(out) {
            long count;
            boolean done;

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                count += len;
                if (!done && count >= after) {
                    done = true;
                    action.run();
                }
            }

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }
        };
    }

    /**
     * A stream that takes {@code after} bytes, then runs {@code before} and fails every write with
     * {@code IOException("disk full (test)")}, as a full store does.
     */
    static OutputStream failingAfter(long after, Runnable before) {
        return new OutputStream() {
            long n;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                n += len;
                if (n > after) {
                    before.run();
                    throw new IOException("disk full (test)");
                }
            }
        };
    }

    /** Records the argument lists of running pg_dump children into {@code into}. */
    static Runnable recordPgDumpArguments(List<List<String>> into) {
        return recordArguments("pg_dump", into);
    }

    /** Records the argument lists of running {@code tool} children into {@code into}. */
    static Runnable recordArguments(String tool, List<List<String>> into) {
        return () -> {
            for (ProcessHandle h : awaitChildren(tool, 1)) {
                ProcessHandle.Info info = awaitArguments(h);
                List<String> args = new ArrayList<>();
                info.command().ifPresent(args::add);
                info.arguments().ifPresent(a -> args.addAll(List.of(a)));
                into.add(args);
            }
        };
    }

    /** A stream reading from {@code in} that runs {@code action} once, after {@code after} bytes were read. */
    static java.io.InputStream onceAfterRead(java.io.InputStream in, long after, Runnable action) {
        return new java.io.FilterInputStream(in) {
            long count;
            boolean done;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = in.read(b, off, len);
                if (n > 0) {
                    count += n;
                    if (!done && count >= after) {
                        done = true;
                        action.run();
                    }
                }
                return n;
            }

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                int n = read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xff;
            }
        };
    }

    /** Ignore-the-bytes stream. */
    static OutputStream discard(Consumer<Long> total) {
        return new OutputStream() {
            long n;

            @Override
            public void write(int b) {
                n++;
                total.accept(n);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                n += len;
                total.accept(n);
            }
        };
    }
}
