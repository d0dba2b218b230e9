package com.jiffoo.backup.cli;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Sets up slf4j-simple before the first logger exists: warnings only, to stderr, by default; {@code --verbose}
 * adds info and debug lines of the launcher and the library; {@code --log-file PATH} appends timestamped log lines
 * (info and up, or debug with {@code --verbose}) to that file instead, like the runbook's
 * {@code >> /var/log/jiffoo-backup.log}. The launcher's own messages to people still go to the real stderr.
 */
final class Logging {
    private static boolean configured;

    private Logging() {
    }

    /** Configures logging once per process; later calls do nothing. */
    static synchronized void configure(boolean verbose, Path logFile) {
        if (configured) {
            return;
        }
        configured = true;
        String level = verbose ? "debug" : logFile != null ? "info" : "warn";
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        // the AWS SDK, Apache HTTP and OkHttp are chatty at debug; keep them at info even with --verbose
        for (String noisy : new String[] {"software.amazon.awssdk", "org.apache.http", "okhttp3", "io.minio"}) {
            System.setProperty("org.slf4j.simpleLogger.log." + noisy, verbose ? "info" : "warn");
        }
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        if (logFile != null) {
            System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
            System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ssXXX");
            try {
                // slf4j-simple truncates its own files: log through a stderr stream that appends to the file
                PrintStream file = new PrintStream(new FileOutputStream(logFile.toFile(), true), true,
                        StandardCharsets.UTF_8);
                Terminal.keepStderr();
                System.setErr(file);
            } catch (IOException e) {
                throw new com.jiffoo.backup.ConfigurationException("cannot append to the log file " + logFile
                        + " (--log-file): " + e.getMessage() + "; create its directory or choose another file.", e);
            }
        }
    }
}
