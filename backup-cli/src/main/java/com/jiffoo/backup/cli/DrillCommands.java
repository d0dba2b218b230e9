package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoreFallback;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.files.FilesDrill;
import com.jiffoo.backup.monitor.Alert;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.SlackNotifier;
import com.jiffoo.backup.postgres.DatabaseDrill;
import com.jiffoo.backup.postgres.PitrDrill;
import com.jiffoo.backup.postgres.PitrRestore;
import com.jiffoo.backup.postgres.RecoveryTarget;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code drill database|files}: restore drills ({@link DatabaseDrill}, {@link FilesDrill}). */
@Command(
        name = "drill",
        description = "Restore drills: `drill database` restores a backup into a scratch database, `drill files` into a"
                + " scratch directory; each checks it, measures the recovery time and removes the scratch"
                + " (docs/drills.md).",
        mixinStandardHelpOptions = true,
        subcommands = {DrillCommands.Database.class, DrillCommands.FilesCommand.class})
final class DrillCommands {
    /** The kinds of drill: those the monitor can expect (DRILL_REQUIRED). */
    static final List<String> KINDS = List.of("database", "files");

    /** The drill could not run (store or database server unreachable). */
    static final int EXIT_COULD_NOT_RUN = 14;

    private static final Pattern DURATION = Pattern.compile("(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?");

    private DrillCommands() {}

    /** {@code 2h}, {@code 90m}, {@code 1h30m}, {@code 45s}, {@code 1d}, or ISO-8601 ({@code PT2H}). */
    static Duration parseDuration(String text, String flag) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        Matcher m = DURATION.matcher(t);
        Duration d = null;
        if (!t.isEmpty() && m.matches()) {
            d = Duration.ZERO;
            long[] unit = {86400, 3600, 60, 1};
            for (int i = 0; i < 4; i++) {
                if (m.group(i + 1) != null) {
                    d = d.plusSeconds(Long.parseLong(m.group(i + 1)) * unit[i]);
                }
            }
        } else {
            try {
                d = Duration.parse(text.strip().toUpperCase(Locale.ROOT));
            } catch (java.time.format.DateTimeParseException e) {
                d = null;
            }
        }
        if (d == null || d.isZero() || d.isNegative()) {
            throw new ConfigurationException(
                    flag + " " + text + ": give a positive duration such as 2h, 90m, 1h30m" + " or 45s.");
        }
        return d;
    }

    /** {@code drill database}. */
    @Command(
            name = "database",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Restore drill of a database backup (pg_dump): restores the newest backup (or --backup NAME) from the"
                        + " store, or from a copy when the store cannot serve it (as `restore` does), into a scratch"
                        + " database jiffoo_drill_YYYYMMDD_HHMMSS_<8 hex> on the DB_HOST server (created, never one"
                        + " that exists), then checks it: every table's row count against the manifest, every table"
                        + " read to its end (damaged pages), every btree index with amcheck when the extension can be"
                        + " created (skipped otherwise), and the --smoke-sql queries (each must return a row).",
                "With --as-of TIME (or --backup base/…): a point-in-time recovery from the base backups and the archived"
                        + " WAL into a scratch cluster in --scratch-dir, started on a free port of 127.0.0.1 and"
                        + " recovered to TIME (or to the end of the archive); every database read, amcheck, the smoke"
                        + " queries (in DB_NAME, default postgres), and the achieved RPO (the last recovered"
                        + " transaction against TIME); then the server is stopped and the directory removed. A TIME"
                        + " outside what the store can recover is refused (exit 2).",
                "The scratch database is dropped at the end, also when a check fails or the drill is stopped"
                        + " (SIGTERM, Ctrl-C); scratch databases of killed drills are dropped by the next drill (this"
                        + " host's at once, others' after a day). Each phase (locate, restore = download + decrypt +"
                        + " pg_restore, checks, cleanup) is timed; the total is the measured RTO, judged against"
                        + " --rto-target.",
                "The report is stored in the store as _drills/drill-<time>-<tag>.json, signed as manifests are;"
                        + " --report-file appends it as a Markdown entry to a drill log; a drill that does not pass"
                        + " is sent to SLACK_WEBHOOK_URL."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:the drill passed",
                " 2:bad or missing setting",
                "12:the drill failed: the backup did not restore (damaged, missing, the key does not open it,"
                        + " pg_restore refused it) or a check failed",
                "13:every check passed, but the drill took longer than --rto-target",
                "14:the drill could not run (the store or the database server cannot be reached, the report"
                        + " could not be stored)",
                " 1:internal error"
            })
    static final class Database extends DrillCommand {
        @Option(
                names = "--smoke-sql",
                paramLabel = "FILE",
                description = "Queries to run in the restored database, each ending with ; at the end of a line;"
                        + " each must return at least one row.")
        Path smokeSql;

        @Option(
                names = "--no-owner",
                description = "pg_restore --no-owner --no-privileges (the dump's roles do not exist on this server).")
        boolean noOwner;

        @Option(
                names = "--check-table",
                paramLabel = "TABLE",
                description = "Compare this table's content fingerprint with the one the backup recorded (backup"
                        + " database --fingerprint-table); repeatable; a table without a recorded fingerprint fails.")
        List<String> checkTables = new ArrayList<>();

        @Option(
                names = "--as-of",
                paramLabel = "TIME",
                description =
                        "Drill a point-in-time recovery to TIME (with a zone: '2026-12-02 03:00:00+00', ISO 8601):"
                                + " the newest base backup that ended before it and the archived WAL, restored into a scratch"
                                + " cluster on a free port of 127.0.0.1 and checked there; reports the achieved RPO. With"
                                + " --backup base/…, that base backup.")
        String asOf;

        @Option(
                names = "--scratch-dir",
                paramLabel = "DIR",
                description = "With --as-of or --backup base/…: create the scratch cluster's directory in DIR (room for"
                        + " the whole cluster; the server's user must reach it; default: the system temporary"
                        + " directory).")
        Path scratchDir;

        @Option(
                names = "--pg-bin",
                paramLabel = "DIR",
                description = "With --as-of: pg_ctl's directory for the data's version (default"
                        + " /usr/lib/postgresql/N/bin).")
        Path pgBin;

        @Option(
                names = "--launcher",
                paramLabel = "PATH",
                description = "With --as-of: the jiffoo-backup launcher named in the scratch cluster's restore_command"
                        + " (default: the one next to this jar).")
        Path launcher;

        @picocli.CommandLine.Mixin
        DbOptions db;

        @Override
        void flags(Settings s) {
            db.apply(s);
        }

        @Override
        void run(Map<String, Object> summary) throws IOException {
            Duration target = target(DatabaseDrill.DEFAULT_RTO_TARGET);
            List<String> smoke = List.of();
            if (smokeSql != null) {
                try {
                    smoke = DatabaseDrill.parseSmokeSql(Files.readString(smokeSql, StandardCharsets.UTF_8));
                } catch (IOException e) {
                    throw new ConfigurationException(
                            "cannot read the smoke queries --smoke-sql " + smokeSql + ": " + e.getMessage() + ".");
                }
                if (smoke.isEmpty()) {
                    throw new ConfigurationException("--smoke-sql " + smokeSql + " holds no query.");
                }
            }
            List<String> queries = smoke;
            if (asOf != null
                    || (backup != null
                            && (backup.startsWith(StoreLayout.BASE_BACKUP_KIND + "/")
                                    || backup.contains("/base/base_backup_")))) {
                if (!checkTables.isEmpty() || noOwner) {
                    throw new ConfigurationException("--check-table and --no-owner are for drills of a database backup"
                            + " (pg_dump); a point-in-time drill restores the whole cluster (every table is read).");
                }
                drill(summary, "database", source -> pointInTime(source, target, queries));
                return;
            }
            drill(
                    summary,
                    "database",
                    source -> DatabaseDrill.builder()
                            .server(Databases.server(settings))
                            .source(source)
                            .smokeQueries(queries)
                            .checkTables(checkTables)
                            .rtoTarget(target)
                            .noOwner(noOwner)
                            .build()
                            .run());
        }
    }

    /** {@code drill database --as-of TIME} (or of a base backup): a {@link PitrDrill} from the store or a copy. */
    private static DrillReport pointInTime(FallbackSource source, Duration target, List<String> queries) {
        Database cmd = (Database) source.cmd;
        Settings settings = cmd.settings;
        PitrDrill.Builder b = PitrDrill.builder()
                .source(source.pointInTime(cmd.launcher))
                .target(cmd.asOf != null ? RecoveryTarget.time(cmd.asOf, true) : RecoveryTarget.LATEST)
                .connection(PitrCommand.queryConnection(settings, null))
                .smokeQueries(queries)
                .smokeDatabase(settings.get("DB_NAME").orElse("postgres"))
                .rtoTarget(target);
        if (source.at.key() != null) {
            b.backup(source.at.key());
        }
        if (cmd.scratchDir != null) {
            b.scratchParent(cmd.scratchDir);
        }
        if (cmd.pgBin != null) {
            b.binDirectory(cmd.pgBin);
        }
        return b.build().run();
    }

    /** {@code drill files}. */
    @Command(
            name = "files",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Restore drill of a files backup: restores the newest files backup (or --backup NAME) from the store,"
                        + " or from a copy when the store cannot serve it (as `restore` does), into a new scratch"
                        + " directory jiffoo_drill_files_<time>_<random> (0700, a name no directory has) in"
                        + " --scratch-dir (default: the system temporary directory), then checks it: the number of"
                        + " files and their bytes against the manifest, and the SHA-256 of each file of the random"
                        + " sample the backup recorded (20 files by default; skipped for backups made before"
                        + " samples were recorded).",
                "The scratch directory is removed at the end, also when a check fails or the drill is stopped"
                        + " (SIGTERM, Ctrl-C); one left by a killed drill is removed by the next drill after a day."
                        + " Phases, RTO, report, drill log and Slack as for `drill database`."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:the drill passed",
                " 2:bad or missing setting (also: the scratch directory cannot be created)",
                "12:the drill failed: the backup did not restore (damaged, missing, the key does not open it, the"
                        + " archive was refused) or a check failed",
                "13:every check passed, but the drill took longer than --rto-target",
                "14:the drill could not run (the store cannot be reached, the report could not be stored)",
                " 1:internal error"
            })
    static final class FilesCommand extends DrillCommand {
        @Option(
                names = "--scratch-dir",
                paramLabel = "DIR",
                description = "Create the scratch directory in DIR (needs room for the restored files; default: the"
                        + " system temporary directory).")
        Path scratchDir;

        @Override
        void run(Map<String, Object> summary) throws IOException {
            Duration target = target(FilesDrill.DEFAULT_RTO_TARGET);
            drill(summary, "files", source -> {
                FilesDrill.Builder b = FilesDrill.builder().source(source).rtoTarget(target);
                if (scratchDir != null) {
                    b.scratchParent(scratchDir);
                }
                return b.build().run();
            });
        }
    }

    /** What both drills share: which backup, the target, the report's four ways, the exit codes. */
    abstract static class DrillCommand extends CliCommand {
        @Option(names = "--latest", description = "Drill the newest committed backup (the default).")
        boolean latest;

        @Option(
                names = "--backup",
                paramLabel = "NAME",
                description =
                        "Drill this backup: its key (database/db_backup_….sql.gpg, files/files_backup_….tar.gz.gpg), s3:// URI, or local file.")
        String backup;

        @Option(
                names = "--rto-target",
                paramLabel = "DURATION",
                description = "The recovery time objective (2h, 90m, 1h30m); default 2h. A drill taking longer fails"
                        + " (exit 13).")
        String rtoTarget;

        @Option(
                names = "--report-file",
                paramLabel = "FILE",
                description = "Append the drill's report to this Markdown drill log (created when missing), e.g."
                        + " disaster-recovery-drill.md.")
        Path reportFile;

        @Option(names = "--no-alert", description = "Send nothing to Slack, even when SLACK_WEBHOOK_URL is set.")
        boolean noAlert;

        private int exit;

        @Override
        int exitCode() {
            return exit;
        }

        @Override
        int failureExitCode(ErrorCode code) {
            return code == ErrorCode.CONFIGURATION
                    ? ErrorCode.CONFIGURATION.exitCode()
                    : code == ErrorCode.INTERNAL ? ErrorCode.INTERNAL.exitCode() : EXIT_COULD_NOT_RUN;
        }

        /** --rto-target, or the default. */
        Duration target(Duration fallback) {
            if (latest && backup != null) {
                throw new ConfigurationException("pass --latest or --backup NAME, not both.");
            }
            return rtoTarget == null ? fallback : parseDuration(rtoTarget, "--rto-target");
        }

        /**
         * Runs a drill of {@code kind} from the store (falling back to the copies), then prints the report, appends it
         * to the drill log, alerts when it did not pass and stores it.
         */
        void drill(
                Map<String, Object> summary,
                String kind,
                java.util.function.Function<FallbackSource, DrillReport> run) {
            OpenPgpTransform pgp = Encryption.forRestore(settings);
            pgp.authenticator().ifPresent(com.jiffoo.backup.Authenticator::prepare);
            BackupTrust trust = Encryption.trust(settings, pgp);
            Optional<String> webhook = noAlert ? Optional.empty() : settings.get("SLACK_WEBHOOK_URL");
            Stores.Candidates at = Stores.candidates(settings, backup);
            try {
                DrillReport report;
                try {
                    report = run.apply(new FallbackSource(this, at, pgp, trust, kind));
                } catch (BackupException e) {
                    if (e.code() != ErrorCode.CONFIGURATION) {
                        alert(
                                webhook,
                                new Alert(
                                        HealthStatus.CRITICAL,
                                        false,
                                        "jiffoo-backup " + kind + " restore drill COULD NOT RUN: "
                                                + at.stores().get(0).location(),
                                        List.of(forOperators(e.getMessage())),
                                        null),
                                summary);
                    }
                    throw e;
                }
                print(report);
                summary.put("outcome", report.outcome().label());
                summary.put("drill", report.toTree());
                exit = report.outcome().exitCode();
                if (reportFile != null) {
                    append(reportFile, report);
                    summary.put("reportFile", reportFile.toString());
                    say("appended to the drill log " + reportFile);
                }
                if (!report.passed()) {
                    alert(webhook, report.toAlert(), summary);
                }
                store(report, at.stores(), trust, summary);
                summary.put("status", report.passed() ? "ok" : report.outcome().label());
                summary.put("exitCode", exit);
            } finally {
                CliCommand.close(at.stores());
            }
        }

        private void print(DrillReport r) {
            say("drill of " + (r.backupKey() == null ? "(no backup)" : r.backupKey()) + " from " + r.store() + " into "
                    + r.scratch() + ": " + r.outcome().label().toUpperCase(Locale.ROOT));
            StringBuilder phases = new StringBuilder("  phases:");
            for (DrillReport.Phase p : r.phases()) {
                phases.append(' ')
                        .append(p.name())
                        .append(' ')
                        .append(DrillReport.human(p.duration()))
                        .append(',');
            }
            phases.setLength(phases.length() - 1);
            say(phases.toString());
            if (r.recovery() != null) {
                say("  RPO " + r.recovery().rpo().map(DrillReport::human).orElse("not measured") + " ("
                        + r.recovery().describe() + ")");
            }
            say("  RTO " + DrillReport.human(r.total()) + " (target " + DrillReport.human(r.rtoTarget())
                    + (r.total().compareTo(r.rtoTarget()) > 0
                            ? ", over by " + DrillReport.human(r.total().minus(r.rtoTarget()))
                            : "")
                    + ")");
            for (DrillReport.Check c : r.checks()) {
                say("  " + c.name() + ": " + c.status().name().toLowerCase(Locale.ROOT) + " — " + c.detail());
            }
            for (String f : r.findings()) {
                say("  finding: " + f);
            }
        }

        /** Appends the report's Markdown entry to the drill log, with a title when the log is new. */
        private void append(Path file, DrillReport r) {
            try {
                String entry = settings.redact(r.toMarkdown());
                if (!Files.exists(file) || Files.size(file) == 0) {
                    entry = "# Disaster recovery drills\n\nOne entry per drill, newest last, appended by"
                            + " `jiffoo-backup drill` (docs/drills.md).\n\n" + entry;
                }
                Files.writeString(
                        file, entry, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new ConfigurationException(
                        "cannot append the drill's report to --report-file " + file + ": " + e.getMessage()
                                + ". The drill itself " + r.outcome().label() + " (see the JSON report in the store).");
            }
        }

        /** Stores the report in the first store that takes it (the store, else a copy). */
        private void store(DrillReport r, List<Sink> stores, BackupTrust trust, Map<String, Object> summary) {
            BackupException first = null;
            for (Sink store : stores) {
                try {
                    String key = r.storeIn(store, trust);
                    Map<String, Object> record = new LinkedHashMap<>();
                    record.put("location", store.location());
                    record.put("key", key);
                    summary.put("record", record);
                    say("  report stored as " + CliCommand.where(store, key));
                    return;
                } catch (BackupException e) {
                    say("  could not store the report in " + store.location() + ": " + forOperators(e.getMessage()));
                    if (first == null) {
                        first = e;
                    }
                }
            }
            if (first != null) {
                throw first;
            }
        }

        private void alert(Optional<String> webhook, Alert alert, Map<String, Object> summary) {
            if (webhook.isEmpty()) {
                say("  alert: none sent (" + (noAlert ? "--no-alert" : "SLACK_WEBHOOK_URL is not set") + ")");
                return;
            }
            SlackNotifier slack =
                    SlackNotifier.builder().webhookUrl(webhook.get()).build();
            try {
                slack.send(alert);
                summary.put("alerted", slack.describe());
                say("  alert sent to " + slack.describe());
            } catch (IOException e) {
                summary.put("alertFailed", e.getMessage());
                org.slf4j.LoggerFactory.getLogger(DrillCommands.class)
                        .error("the drill's alert could not be sent: {}", e.getMessage());
            }
        }
    }

    /**
     * The launcher's source: the named backup or the newest one, read from the store and then each copy in turn
     * ({@link StoreFallback}), as {@code restore} does.
     */
    private static final class FallbackSource implements DrillSource {
        private final CliCommand cmd;
        private final Stores.Candidates at;
        private final OpenPgpTransform pgp;
        private final BackupTrust trust;
        private final String kind;

        FallbackSource(CliCommand cmd, Stores.Candidates at, OpenPgpTransform pgp, BackupTrust trust, String kind) {
            this.cmd = cmd;
            this.at = at;
            this.pgp = pgp;
            this.trust = trust;
            this.kind = kind;
        }

        @Override
        public String locate() {
            if (at.key() != null) {
                return at.key();
            }
            if (at.stores().size() > 1) {
                Optional<String> newest = StoreFallback.newest(at.stores(), kind, trust);
                if (newest.isPresent()) {
                    return newest.get();
                }
            }
            return StoreFallback.first(
                            at.stores(),
                            "drill",
                            store -> StoredBackups.of(store, trust)
                                    .scan(kind)
                                    .latestTrusted()
                                    .map(com.jiffoo.backup.BackupManifest::objectKey)
                                    .orElseThrow(() -> new NotFoundException(
                                            "No committed " + kind + " backup in " + store.location() + " to drill.",
                                            null,
                                            store.location(),
                                            null)))
                    .value();
        }

        @Override
        public Restored restore(String key, RestoreTarget target) {
            StoreFallback.Served<com.jiffoo.backup.RestoreResult> served =
                    StoreFallback.first(at.stores(), "drill", store -> {
                        return RestorePipeline.builder()
                                .sink(store)
                                .decryption(pgp)
                                .trust(trust)
                                .target(target)
                                .listener(cmd.progress())
                                .build()
                                .restore(key);
                    });
            return new Restored(served.value(), served.store().location(), failures(served));
        }

        @Override
        public String describe() {
            return at.stores().get(0).location();
        }

        /**
         * The point-in-time source: the first store whose base backup and archive serve (the store, then each copy),
         * with the default restore_command of {@code restore pitr} (this launcher's wal-fetch from that store, then
         * the copies after it).
         */
        PitrDrill.Source pointInTime(Path launcher) {
            return new PitrDrill.Source() {
                @Override
                public PitrDrill.Restored restore(Path dir, UnaryOperator<PitrRestore.Builder> drill) {
                    List<Sink> stores = at.stores();
                    StoreFallback.Served<PitrRestore.Result> served = StoreFallback.first(
                            stores,
                            "drill",
                            store -> drill.apply(PitrRestore.builder(store, pgp, dir)
                                            .trust(trust)
                                            .restoreCommand(PitrCommand.walFetch(
                                                    cmd.settings, cmd.options.values().config, launcher, store, stores))
                                            .recoveryEndCommand("rm -rf " + PitrCommand.PREFETCH_SPOOL)
                                            .readAheadSpool(PitrCommand.PREFETCH_SPOOL)
                                            .checkArchive(true)
                                            .listener(cmd.progress()))
                                    .build()
                                    .run());
                    return new PitrDrill.Restored(served.value(), served.store().location(), failures(served));
                }

                @Override
                public String describe() {
                    return FallbackSource.this.describe();
                }
            };
        }

        private static List<StoreFailure> failures(StoreFallback.Served<?> served) {
            List<StoreFailure> failures = new ArrayList<>();
            for (StoreFallback.Failure f : served.failures()) {
                failures.add(new StoreFailure(
                        f.store().location(),
                        f.error().code(),
                        CliCommand.forOperators(f.error().getMessage())));
            }
            return failures;
        }
    }
}
