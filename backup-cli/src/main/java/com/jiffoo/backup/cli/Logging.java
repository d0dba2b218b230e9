package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * Sets up slf4j-simple before the first logger exists (the library never configures logging; the launcher does).
 *
 * <p>Where log lines go: with a log file ({@code LOG_FILE}, {@code --log-file}) to that file; else with a log directory
 * ({@code LOG_DIR}, {@code --log-dir}) to one file per job in it, named as the runbook names them
 * ({@code backup-db.log}, {@code backup-files.log}, {@code backup-verify.log}, see {@link #jobName}); else to stderr,
 * warnings only. In a file, each line starts with its time and {@code job[pid]}
 * ({@code 2026-01-11T02:00:01.042+01:00 backup-db[4711] INFO BackupPipeline - ...}), info and up ({@code --verbose}:
 * debug). A missing log directory (the file's, or {@code LOG_DIR}) is created with mode 0750 — only the last
 * directory, never its parents, so that a typo does not grow a tree — and a new log file gets mode 0640.
 *
 * <p>Two jobs may log to one file at once: every line reaches the file in one {@code write} to a file opened with
 * {@code O_APPEND}, so lines never interleave. Every line, on stderr too, is passed through a filter (the launcher's
 * flags for the library's API names, secrets replaced). The launcher's own messages to people go to the real stderr
 * ({@link Terminal#err()}).
 */
final class Logging {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", Locale.ROOT);
    private static boolean configured;

    private Logging() {}

    /**
     * The job's name, for its log file and its lines: {@code backup-db}, {@code backup-files}, {@code backup-verify},
     * {@code backup-restore-db}, {@code backup-restore-files}, {@code backup-prune}, {@code backup-monitor},
     * {@code backup-list}, {@code backup-keygen}.
     *
     * @param command the command's name, e.g. {@code backup database}
     */
    static String jobName(String command) {
        String job = command.trim().replace("database", "db").replaceAll("\\s+", "-");
        return job.startsWith("backup-") ? job : "backup-" + job;
    }

    /**
     * Configures logging once per process; later calls do nothing.
     *
     * @param verbose info and debug lines too
     * @param logFile the log file, or null
     * @param logDir  the log directory (one file per job), or null; a log file wins over it
     * @param job     the job's name ({@link #jobName})
     * @param filter  applied to every line before it is written
     * @throws ConfigurationException when the log file cannot be opened for appending
     */
    static synchronized void configure(
            boolean verbose, Path logFile, Path logDir, String job, UnaryOperator<String> filter) {
        if (configured) {
            return;
        }
        configured = true;
        Path file = logFile != null ? logFile : logDir != null ? logDir.resolve(job + ".log") : null;
        String level = verbose ? "debug" : file != null ? "info" : "warn";
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        // the AWS SDK, Apache HTTP and OkHttp are chatty at debug; keep them at info even with --verbose
        for (String noisy : new String[] {"software.amazon.awssdk", "org.apache.http", "okhttp3", "io.minio"}) {
            System.setProperty("org.slf4j.simpleLogger.log." + noisy, verbose ? "info" : "warn");
        }
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "false");
        // slf4j-simple looks up System.err at each line: the lines go through Lines, to the file or the real stderr
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        String setting = logFile != null ? "LOG_FILE (--log-file)" : "LOG_DIR (--log-dir)";
        OutputStream out = file == null ? System.err : open(file, setting);
        String tag =
                file == null ? null : " " + job + "[" + ProcessHandle.current().pid() + "] ";
        Terminal.keepStderr();
        System.setErr(new PrintStream(new Lines(out, tag, filter), true, StandardCharsets.UTF_8));
    }

    /** Opens {@code file} for appending, creating its directory (0750) and the file (0640) when missing. */
    private static OutputStream open(Path file, String setting) {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectory(dir);
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-x---"));
            }
        } catch (FileAlreadyExistsException e) {
            // another job created it first, or it is a file: opening the log file below says which
        } catch (NoSuchFileException e) {
            throw new ConfigurationException(
                    "cannot create the log directory " + dir + " (" + setting + "): its"
                            + " parent " + dir.getParent()
                            + " does not exist. Create it (only the last directory is created"
                            + " for you), or fix " + setting.substring(0, setting.indexOf(' ')) + ".",
                    e);
        } catch (IOException | UnsupportedOperationException e) {
            throw new ConfigurationException(
                    "cannot create the log directory " + dir + " (" + setting + "): " + e
                            + "; create it (install -d -m 750 " + dir + ") or choose another.",
                    e);
        }
        try {
            try {
                Files.createFile(abs);
                Files.setPosixFilePermissions(abs, PosixFilePermissions.fromString("rw-r-----"));
            } catch (FileAlreadyExistsException e) {
                // appended to as it is
            }
            return Files.newOutputStream(abs, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        } catch (IOException | UnsupportedOperationException e) {
            throw new ConfigurationException(
                    "cannot append to the log file " + abs + " (" + setting + "): " + e
                            + "; fix its permissions or choose another.",
                    e);
        }
    }

    /**
     * Collects bytes into lines and writes each line, filtered and (in a file) with its time and job tag in front,
     * with one {@code write} call, so that lines of two processes appending to one file never interleave.
     */
    static final class Lines extends OutputStream {
        private final OutputStream out;
        private final String tag;
        private final UnaryOperator<String> filter;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        /**
         * @param out    where the lines go
         * @param tag    {@code " job[pid] "} to put after each line's time, or null: no time, no tag (stderr)
         * @param filter applied to each line's text
         */
        Lines(OutputStream out, String tag, UnaryOperator<String> filter) {
            this.out = out;
            this.tag = tag;
            this.filter = filter;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            if (b == '\n') {
                emit();
            } else {
                line.write(b);
            }
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            for (int i = off; i < off + len; i++) {
                write(b[i]);
            }
        }

        private void emit() throws IOException {
            String text = line.toString(StandardCharsets.UTF_8);
            line.reset();
            if (text.endsWith("\r")) {
                text = text.substring(0, text.length() - 1);
            }
            String filtered = filter.apply(text);
            String full = (tag == null ? "" : TIME.format(ZonedDateTime.now()) + tag) + filtered + "\n";
            out.write(full.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        @Override
        public synchronized void flush() throws IOException {
            out.flush();
        }

        @Override
        public synchronized void close() throws IOException {
            if (line.size() > 0) {
                emit();
            }
            out.close();
        }
    }
}
