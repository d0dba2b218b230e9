package com.jiffoo.backup.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.SlackNotifier;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code monitor}: BackupMonitor's health checks, alerts to Slack, and an exit code for the scheduler. */
@Command(
        name = "monitor",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Checks the health of the backups and alerts (Slack) when they are not healthy.",
            "Per kind: the newest backup is younger than --max-age-hours (default 26), its checksum file agrees"
                    + " with its manifest, its last recorded verification did not fail, some backup passed a"
                    + " verification within 7 days, no backup or verification is dated in the future (beyond"
                    + " --clock-skew-tolerance; CRITICAL, never fresh), and the configured key decrypts its first"
                    + " blocks (skipped"
                    + " when no key is configured). With --verify, first verifies the newest backup of each kind"
                    + " (deep when a key is configured) and records the result. Sends an alert to"
                    + " SLACK_WEBHOOK_URL when the status is WARNING or CRITICAL, and a recovery message when it"
                    + " is OK again; a failed alert is reported, never fatal. See docs/monitoring.md.",
            "WAL archive (when the store holds WAL, or --wal): the newest archived WAL file is younger than"
                    + " --wal-max-lag (default 5m) and no segment is missing since the oldest base backup, else"
                    + " CRITICAL; with DB_HOST (or PGHOST) set, the server's archiver too: not failing, at most"
                    + " --wal-max-ready (10) segments waiting. With copies, each copy's WAL archive too: its newest"
                    + " file younger than --wal-copy-max-lag, continuity since its oldest base backup, and no WAL file"
                    + " the store archived longer ago than that limit missing from it (CRITICAL naming the copy)."
                    + " See docs/pitr.md.",
            "Copies (BACKUP_COPIES, --copy-to, or BACKUP_DIR beside S3_BUCKET): each copy is checked too — the"
                    + " freshness of each kind there (a copy that lags is CRITICAL for that copy), backups of the store"
                    + " completed within the limit but more than --copy-grace-minutes (60) ago that are missing there"
                    + " (WARNING), and a copy that cannot be read (CRITICAL). Each finding names its store. See"
                    + " docs/copies.md.",
            "Restore drills: the authenticated drill reports in the store and its copies. For each kind required"
                    + " (--require-drills / DRILL_REQUIRED) or drilled at least once: the newest drill failed or ran"
                    + " over its RTO target: CRITICAL; no drill passed within --drill-max-age-days (DRILL_MAX_AGE_DAYS,"
                    + " 35): WARNING. Reports that do not authenticate never count (a recent one is a WARNING). See"
                    + " docs/drills.md."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:healthy (OK)",
            " 9:WARNING: needs attention soon (e.g. no recent passed verification or restore drill)",
            "10:CRITICAL: no or stale backup (in the store or a copy), damaged newest backup, key cannot open it,"
                    + " the newest restore drill of a kind failed,"
                    + " a store or copy unreadable, a backup or verification dated in the future, WAL archive behind"
                    + " or with a gap",
            " 2:bad or missing setting",
            " 1:internal error"
        })
final class MonitorCommand extends CliCommand {
    /** Exit code of a WARNING report. */
    static final int EXIT_WARNING = 9;
    /** Exit code of a CRITICAL report. */
    static final int EXIT_CRITICAL = 10;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(
            names = "--kind",
            paramLabel = "KIND",
            description = "Watch only these kinds (repeatable; default:" + " database and files).")
    List<String> kinds = new ArrayList<>();

    @Option(
            names = "--max-age-hours",
            paramLabel = "HOURS",
            description = "How old the newest backup may be" + " (default: MAX_BACKUP_AGE_HOURS, else 26).")
    Integer maxAgeHours;

    @Option(
            names = "--max-age",
            paramLabel = "KIND=HOURS",
            description = "A limit for one kind, e.g. files=170" + " for a weekly job (repeatable).")
    Map<String, Integer> maxAgePerKind = new LinkedHashMap<>();

    @Option(
            names = "--verify",
            description = "First verify the newest backup of each kind (deep when a key is"
                    + " configured) and record the result.")
    boolean verify;

    @Option(
            names = "--freshness-only",
            description = "Only check that fresh backups exist (lists the store; reads" + " no backup).")
    boolean freshnessOnly;

    @Option(
            names = "--copy-grace-minutes",
            paramLabel = "MINUTES",
            description = "With copies: how long a backup of the store may be missing from a copy before it is a"
                    + " WARNING (default: COPY_GRACE_MINUTES, else 60).")
    Integer copyGraceMinutes;

    @Option(
            names = "--drill-max-age-days",
            paramLabel = "DAYS",
            description = "How long ago a restore drill of each expected kind must have passed (default:"
                    + " DRILL_MAX_AGE_DAYS, else 35).")
    Integer drillMaxAgeDays;

    @Option(
            names = "--require-drills",
            paramLabel = "KINDS",
            split = ",",
            description = "Expect restore drills of these kinds even before the first report, e.g."
                    + " database,files (default: DRILL_REQUIRED, else only kinds already drilled).")
    List<String> requireDrills;

    @Option(names = "--no-alert", description = "Send nothing to Slack, even when SLACK_WEBHOOK_URL is set.")
    boolean noAlert;

    @Mixin
    ClockSkewOption clockSkew;

    @Option(names = "--no-recovery-alert", description = "Do not announce that the backups are healthy again.")
    boolean noRecoveryAlert;

    @Option(
            names = "--wal",
            description = "Check the WAL archive (lag, continuity since the oldest base backup) even when the store"
                    + " holds no WAL yet; it is checked anyway when the store holds WAL or WAL_MAX_LAG is set.")
    boolean wal;

    @Option(
            names = "--wal-max-lag",
            paramLabel = "DURATION",
            description = "How old the newest archived WAL file may be, e.g. 5m, 90s, 1h (default: WAL_MAX_LAG, else"
                    + " 5m).")
    String walMaxLag;

    @Option(
            names = "--wal-copy-max-lag",
            paramLabel = "DURATION",
            description = "With copies: how old a copy's newest WAL file may be, and how long ago the store may have"
                    + " archived a WAL file the copy lacks (default: WAL_COPY_MAX_LAG, else --wal-max-lag). Raise it"
                    + " with WAL_COPIES=later, e.g. 15m for a copy caught up every 5 minutes.")
    String walCopyMaxLag;

    @Option(
            names = "--wal-max-ready",
            paramLabel = "N",
            description = "With the WAL check and a database configured (DB_HOST or PGHOST): how many segments may"
                    + " wait to be archived on the server (default: WAL_MAX_READY, else 10).")
    Integer walMaxReady;

    private int exit;

    @Override
    void flags(Settings s) {
        if (maxAgeHours != null) {
            s.flag("MAX_BACKUP_AGE_HOURS", maxAgeHours.toString());
        }
        if (copyGraceMinutes != null) {
            s.flag("COPY_GRACE_MINUTES", copyGraceMinutes.toString());
        }
        if (drillMaxAgeDays != null) {
            s.flag("DRILL_MAX_AGE_DAYS", drillMaxAgeDays.toString());
        }
        if (requireDrills != null) {
            s.flag("DRILL_REQUIRED", String.join(",", requireDrills));
        }
        clockSkew.flag(s);
        s.flag(WalChecks.MAX_LAG, walMaxLag);
        s.flag(WalChecks.COPY_MAX_LAG, walCopyMaxLag);
        if (walMaxReady != null) {
            s.flag(WalChecks.MAX_READY, walMaxReady.toString());
        }
    }

    @Override
    void run(Map<String, Object> summary) throws Exception {
        List<String> watched = kinds.isEmpty() ? ListCommand.KINDS : kinds;
        List<Sink> stores = Stores.openAll(settings);
        Sink store = stores.get(0);
        try {
            BackupMonitor.Builder b = BackupMonitor.builder()
                    .sink(store)
                    .copyGrace(Duration.ofMinutes(settings.integer("COPY_GRACE_MINUTES", 60, 0)))
                    .kinds(watched.toArray(String[]::new))
                    .maxAge(Duration.ofHours(settings.integer("MAX_BACKUP_AGE_HOURS", 26, 1)))
                    .clockSkewTolerance(ClockSkewOption.tolerance(settings))
                    .notifyOnRecovery(!noRecoveryAlert);
            stores.subList(1, stores.size()).forEach(b::copy);
            maxAgePerKind.forEach((kind, hours) -> {
                if (hours == null || hours < 1) {
                    throw new ConfigurationException("--max-age " + kind + "=" + hours + ": give a whole number of"
                            + " hours of at least 1, e.g. --max-age files=170.");
                }
                b.maxAge(kind, Duration.ofHours(hours));
            });
            Optional<com.jiffoo.backup.crypto.OpenPgpTransform> key = decryptionKey();
            key.ifPresent(k -> b.transforms(List.of(k)));
            BackupTrust trust = key.map(k -> Encryption.trust(settings, k)).orElseGet(() -> Encryption.trust(settings));
            b.trust(trust);
            b.drills(Duration.ofDays(settings.integer("DRILL_MAX_AGE_DAYS", 35, 1)), requiredDrills());
            for (String kind : watched) {
                RestoreTarget check = VerifyCommand.innerCheck(kind);
                if (check != null) {
                    b.innerCheck(kind, check);
                }
            }
            List<String> storeChecks = walChecks(b, store, trust);
            if (!storeChecks.isEmpty()) {
                summary.put("storeChecks", storeChecks);
            }
            Optional<String> webhook = settings.get("SLACK_WEBHOOK_URL");
            if (webhook.isPresent() && !noAlert) {
                b.notifier(SlackNotifier.builder().webhookUrl(webhook.get()).build());
            }
            BackupMonitor monitor = b.build();

            List<Map<String, Object>> verified = new ArrayList<>();
            if (verify) {
                StoredBackups backups = StoredBackups.of(store, trust);
                ClockSkew skew = ClockSkew.of(Clock.systemUTC(), ClockSkewOption.tolerance(settings));
                for (String kind : watched) {
                    // the newest dated in the past: the health check reports one dated in the future
                    Optional<BackupManifest> newest = backups.committed(kind).stream()
                            .filter(m -> !skew.isFuture(m.completedAt()))
                            .findFirst();
                    if (newest.isEmpty()) {
                        continue; // the health check reports the missing kind
                    }
                    VerificationRecord r =
                            monitor.verifyBackupIntegrity(newest.get().objectKey());
                    Map<String, Object> v = new LinkedHashMap<>();
                    v.put("key", r.objectKey());
                    v.put("mode", r.mode());
                    v.put("passed", r.passed());
                    if (!r.passed()) {
                        v.put("message", r.message());
                    }
                    verified.add(v);
                    say(r.mode() + " verification of " + where(store, r.objectKey()) + ": "
                            + (r.passed() ? "passed" : "FAILED: " + r.message()));
                }
                summary.put("verified", verified);
            }

            HealthReport report = freshnessOnly ? monitor.checkBackupFreshness() : monitor.runHealthChecks();
            say((report.full() ? "health" : "freshness") + " of " + report.where() + ": " + report.status());
            report.summaryLines().forEach(l -> say(forOperators(l)));
            report.notifications().forEach(n -> say("alert: " + n));
            if (webhook.isEmpty() && !noAlert && !report.healthy()) {
                say("alert: none sent (SLACK_WEBHOOK_URL is not set)");
            }
            summary.put("status", report.status().name());
            summary.put("report", JSON.readTree(report.toJson()));
            exit = report.status() == HealthStatus.OK
                    ? 0
                    : report.status() == HealthStatus.WARNING ? EXIT_WARNING : EXIT_CRITICAL;
        } finally {
            CliCommand.close(stores);
        }
    }

    /**
     * Registers the WAL archive check when asked ({@code --wal}, {@code WAL_MAX_LAG}) or when the store holds WAL, and
     * with it the server's archiver check when a database server is configured ({@code DB_HOST} or {@code PGHOST}).
     */
    private List<String> walChecks(BackupMonitor.Builder b, Sink store, BackupTrust trust) throws java.io.IOException {
        if (!wal && settings.get(WalChecks.MAX_LAG).isEmpty() && !holdsWal(store)) {
            return List.of();
        }
        WalChecks.Reading reading = WalChecks.reading(settings, store);
        b.storeCheck(
                com.jiffoo.backup.wal.WalArchiveCheck.create(trust, WalChecks.maxLag(settings), reading.historyReader())
                        .copyMaxLag(WalChecks.copyMaxLag(settings))
                        .historyReaders(reading::historyReader));
        if (settings.get("DB_HOST").isEmpty()
                && Optional.ofNullable(settings.environment().get("PGHOST"))
                        .orElse("")
                        .isBlank()) {
            return List.of("wal");
        }
        b.storeCheck(com.jiffoo.backup.wal.ArchiverCheck.create(
                Databases.server(settings),
                settings.integer(WalChecks.MAX_READY, com.jiffoo.backup.wal.ArchiverCheck.DEFAULT_MAX_READY, 0)));
        return List.of("wal", "archiver");
    }

    /**
     * Whether the store holds WAL; true when it cannot be listed (down): the WAL check then says CRITICAL for it, as
     * the other checks do, instead of the whole monitor failing (exit 4) before it checked anything, the copies
     * included.
     */
    private static boolean holdsWal(Sink store) {
        try {
            return WalChecks.hasWal(store);
        } catch (java.io.IOException | com.jiffoo.backup.BackupException e) {
            org.slf4j.LoggerFactory.getLogger(MonitorCommand.class)
                    .warn(
                            "monitor: cannot tell whether {} holds WAL ({}); checking it",
                            store.location(),
                            e.getMessage());
            return true;
        }
    }

    /** The kinds whose drills are expected before any report: DRILL_REQUIRED, comma separated. */
    private String[] requiredDrills() {
        List<String> out = new ArrayList<>();
        for (String k : settings.get("DRILL_REQUIRED").orElse("").split(",")) {
            String kind = k.strip();
            if (kind.isEmpty()) {
                continue;
            }
            if (!DrillCommands.KINDS.contains(kind)) {
                throw new ConfigurationException(
                        "DRILL_REQUIRED (--require-drills) names '" + kind + "': drills are of "
                                + String.join(" or ", DrillCommands.KINDS) + ", e.g. DRILL_REQUIRED=database,files.");
            }
            out.add(kind);
        }
        return out.toArray(String[]::new);
    }

    /** The decryption key when one is configured: the key check and deep verification need it. */
    private Optional<com.jiffoo.backup.crypto.OpenPgpTransform> decryptionKey() {
        if (settings.get("ENCRYPTION_KEY_FILE").isEmpty()
                && settings.get("ENCRYPTION_SECRET_KEY_FILE").isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Encryption.forRestore(settings));
    }

    @Override
    int exitCode() {
        return exit;
    }
}
