package com.jiffoo.backup.cli;

import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The options every command accepts, before or after the command's name ({@code --json backup database} and
 * {@code backup database --json} alike): the values are kept on the root command (picocli's mixin pattern).
 */
final class GlobalOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    /** The values given. */
    static final class Values {
        Path config;
        boolean verbose;
        Path logFile;
        Path logDir;
        boolean quiet;
        boolean json;
        String store;
        java.util.List<String> copyTo = java.util.List.of();
        String keyFile;
        boolean allowUnauthenticated;
        boolean allowUnencrypted;
        Path metricsFile;
    }

    Values values() {
        return ((Main) mixee.root().userObject()).values;
    }

    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "A properties file of settings (NAME=value, the"
                    + " environment variables' names); flags and the environment win over it. Refused when it holds a"
                    + " secret and group or others can read it.")
    void config(Path file) {
        values().config = file;
    }

    @Option(
            names = {"-v", "--verbose"},
            description = "Log what the library does (info and debug), not just warnings.")
    void verbose(boolean v) {
        values().verbose = v;
    }

    @Option(
            names = "--log-file",
            paramLabel = "PATH",
            description = "Append log lines (info and up, each with its"
                    + " time and job[pid]) to PATH, e.g. /var/log/jiffoo-backup.log, instead of warnings on stderr. Also"
                    + " LOG_FILE; wins over LOG_DIR.")
    void logFile(Path file) {
        values().logFile = file;
    }

    @Option(
            names = "--log-dir",
            paramLabel = "DIR",
            description = "Append log lines to one file per job in DIR:"
                    + " backup-db.log, backup-files.log, backup-verify.log, backup-prune.log, backup-monitor.log, ..."
                    + " (created 0750 when missing; files 0640). Also LOG_DIR, e.g. LOG_DIR=/var/log/jiffoo.")
    void logDir(Path dir) {
        values().logDir = dir;
    }

    @Option(
            names = {"-q", "--quiet"},
            description =
                    "Print nothing when the command succeeds (for cron, which mails"
                            + " what a job prints); otherwise print what it held back, and the error on stderr. Also QUIET=true.")
    void quiet(boolean v) {
        values().quiet = v;
    }

    @Option(
            names = "--metrics-file",
            paramLabel = "FILE",
            description = "Record this run in FILE in Prometheus' text format (a node_exporter textfile collector"
                    + " file, e.g. /var/lib/node_exporter/textfile/jiffoo_backup.prom), shared by every job: last run,"
                    + " last success, exit code, duration, size, failures. Also METRICS_FILE; PUSHGATEWAY_URL pushes"
                    + " the same to a Pushgateway. See docs/monitoring.md.")
    void metricsFile(Path file) {
        values().metricsFile = file;
    }

    @Option(names = "--json", description = "Print one line of JSON (the result or the error) on stdout, for scripts.")
    void json(boolean v) {
        values().json = v;
    }

    @Option(
            names = "--store",
            paramLabel = "STORE",
            description =
                    "The store: a directory or a store URI"
                            + " (s3://bucket/prefix, minio://host:port/bucket/prefix, file:/dir). Default: S3_BUCKET, else BACKUP_DIR.")
    void store(String store) {
        values().store = store;
    }

    @Option(
            names = "--copy-to",
            paramLabel = "STORE",
            description = "Another store that holds a copy of each backup (repeatable): `backup` writes to it too, and"
                    + " restore, verify and list fall back to it when the store is down or its copy is damaged."
                    + " Also BACKUP_COPIES (comma-separated store URIs), which this replaces. See docs/copies.md.")
    void copyTo(java.util.List<String> stores) {
        values().copyTo = java.util.List.copyOf(stores);
    }

    @Option(
            names = "--key-file",
            paramLabel = "FILE",
            description = "The passphrase key file (its first line);" + " default ENCRYPTION_KEY_FILE.")
    void keyFile(String file) {
        values().keyFile = file;
    }

    @Option(
            names = "--allow-unauthenticated",
            description = "Accept backups whose manifest has no signature (written"
                    + " before backups were signed). A signature that does not check out is refused all the same. Also"
                    + " ALLOW_UNAUTHENTICATED=true.")
    void allowUnauthenticated(boolean v) {
        values().allowUnauthenticated = v;
    }

    @Option(
            names = "--allow-unencrypted",
            description = "Accept backups that are not encrypted although a key is"
                    + " configured. Also ALLOW_UNENCRYPTED=true.")
    void allowUnencrypted(boolean v) {
        values().allowUnencrypted = v;
    }
}
