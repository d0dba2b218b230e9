package com.jiffoo.backup.monitor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DecryptionException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.Transform;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.VerificationResult;
import com.jiffoo.backup.internal.BoundedJson;
import com.jiffoo.backup.internal.Keys;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a store: are there fresh backups of each kind, do they verify, does the key still open them — and tells
 * someone ({@link Notifier}s, e.g. {@link SlackNotifier}) when not.
 *
 * <pre>{@code
 * BackupMonitor monitor = BackupMonitor.builder()
 *         .sink(store)
 *         .kinds("database", "files")
 *         .maxAge(Duration.ofHours(26))                  // the default: a daily backup plus slack
 *         .transforms(List.of(pgp))                      // the decryption key, to prove it still opens the newest
 *         .notifier(SlackNotifier.builder().webhookUrl(System.getenv("SLACK_WEBHOOK_URL")).build())
 *         .build();
 * HealthReport report = monitor.runHealthChecks();      // alerts on WARNING/CRITICAL, recovery when OK again
 * System.out.println(report.toJson());
 * }</pre>
 *
 * <ul>
 *   <li>{@link #checkBackupFreshness()}: the cheap checks, which list the store and read manifests:
 *       {@code future-dates}, {@code trust} and {@code freshness} (the newest committed backup of each kind is
 *       younger than its maximum age, default 26 h). Time from the store is not trusted ({@link ClockSkew}): a backup
 *       dated in the future beyond the {@linkplain Builder#clockSkewTolerance tolerance} is CRITICAL and never
 *       counts as fresh; nor does a verification record dated in the future count as a verification.</li>
 *   <li>{@link #verifyBackupIntegrity(String)}: verifies one backup (deep when a decryption key is configured),
 *       records the outcome in the store, alerts when it fails.</li>
 *   <li>{@link #runHealthChecks()}: every check, in this order — the cheap ones, then on the newest backup
 *       {@code checksum-file}, {@code data-object}, {@code verifications} (the newest backup's standing one must not
 *       have failed; some backup must have passed one within {@link Builder#requireVerificationWithin(Duration)
 *       7 days}) and {@code key} (the configured key decrypts its first blocks); each check is a small class, and
 *       each finding names its check. It records its report in the store under {@code _monitor/} so that the next
 *       run, even in another process, can tell a recovery.</li>
 * </ul>
 *
 * <p><b>Copies</b> ({@link Builder#copy(Sink)}): every copy of the store is checked too, in both the full and the
 * freshness-only check — per kind, {@code future-dates}, {@code trust}, {@code freshness} with the same limits as
 * the store (a copy that lags is CRITICAL for that copy, whatever the store holds) and {@code missing} (a backup the
 * store holds that completed within the freshness limit and more than {@link Builder#copyGrace(Duration) 1 h} ago
 * but is not in the copy: WARNING); a copy that cannot be read is CRITICAL for that copy and the others are still
 * checked. The {@linkplain StoreCheck#checksCopies() store checks that concern copies} (the WAL archive) run on each
 * copy that could be read too. Each copy is a {@link CopyHealth} of the report. The deeper checks (checksum file, data object,
 * verifications, key), integrity verification and the recorded reports concern the store only.
 *
 * <p><b>Drills</b> ({@link Builder#drills}): the restore drills recorded in the store and its copies; a failed newest
 * drill of a kind is CRITICAL, no passed drill within the limit WARNING; only authenticated reports count.
 *
 * <p>A notifier that fails (webhook down) is logged and noted in the report's {@code notifications}; the report is
 * returned all the same. Thread-safe; does not close the sink or the copies.
 */
public final class BackupMonitor {
    /** The key prefix of the monitor's recorded reports. */
    public static final String REPORT_PREFIX = StoreLayout.MONITOR_REPORT_PREFIX;

    /** The usual limit of {@link Builder#drills}: a monthly drill plus slack (the launcher's default). */
    public static final Duration DEFAULT_DRILL_MAX_AGE = Duration.ofDays(35);

    private static final int REPORTS_KEPT = 30;
    private static final Logger log = LoggerFactory.getLogger(BackupMonitor.class);
    private static final ObjectMapper MAPPER = BoundedJson.mapper();

    private final Sink sink;
    private final List<Sink> copies;
    private final List<HealthCheck> copyChecks;
    private final List<String> kinds;
    private final List<Transform> transforms;
    private final BackupTrust trust;
    private final Map<String, RestoreTarget> innerChecks;
    private final List<Notifier> notifiers;
    private final boolean notifyOnRecovery;
    private final boolean recordReports;
    private final List<HealthCheck> checks;
    private final List<StoreCheck> storeChecks;
    private final Clock clock;
    private final Duration clockSkewTolerance;
    private final Object lock = new Object();
    private HealthStatus lastStatus; // guarded by lock; the last full report's status in this process

    private BackupMonitor(Builder b) {
        this.sink = b.sink;
        this.copies = List.copyOf(b.copies);
        this.kinds = List.copyOf(b.kinds);
        this.transforms = List.copyOf(b.transforms);
        this.trust = b.trust != null ? b.trust : BackupTrust.of(this.transforms);
        this.innerChecks = Map.copyOf(b.innerChecks);
        this.notifiers = List.copyOf(b.notifiers);
        this.notifyOnRecovery = b.notifyOnRecovery;
        this.recordReports = b.recordReports;
        FreshnessCheck freshness = new FreshnessCheck(b.maxAge, b.maxAges);
        this.checks = List.of(
                new FutureDatesCheck(),
                new TrustCheck(),
                new ChainCheck(),
                freshness,
                new ChecksumFileCheck(),
                new DataObjectCheck(),
                new VerificationHistoryCheck(b.verificationWithin),
                new DecryptionKeyCheck(this.transforms, this.trust, b.keyCheckBytes));
        this.copyChecks = List.of(
                new FutureDatesCheck(),
                new TrustCheck(),
                new ChainCheck(),
                freshness,
                new MissingFromCopyCheck(freshness, b.copyGrace));
        List<StoreCheck> extra = new ArrayList<>(b.storeChecks);
        if (b.drillMaxAge != null) {
            extra.add(new DrillHistoryCheck(this.trust, b.drillMaxAge, b.requiredDrills, this.copies));
        }
        this.storeChecks = List.copyOf(extra);
        this.clock = b.clock;
        this.clockSkewTolerance = b.clockSkewTolerance;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The kinds watched, in order. */
    public List<String> kinds() {
        return kinds;
    }

    /**
     * Checks that the newest committed backup of each kind completed within its maximum age. Alerts when a kind is
     * stale or has no backup; does not record anything in the store.
     */
    public HealthReport checkBackupFreshness() {
        HealthReport report = inspect(false);
        return report.healthy() ? report : report.withNotifications(send(alertFor(report, false)));
    }

    /**
     * Runs every check (see the class description), records the report in the store, alerts when the status is not
     * OK, and — when {@link Builder#notifyOnRecovery(boolean) enabled} — says so when it is OK again after a
     * report that was not.
     */
    public HealthReport runHealthChecks() {
        HealthReport report = inspect(true);
        HealthStatus previous = previousStatus();
        List<String> notes = new ArrayList<>();
        if (!report.healthy()) {
            notes.addAll(send(alertFor(report, false)));
        } else if (notifyOnRecovery && previous != null && previous != HealthStatus.OK) {
            notes.addAll(send(alertFor(report, true)));
        }
        report = report.withNotifications(notes);
        synchronized (lock) {
            lastStatus = report.status();
        }
        recordReport(report);
        log.info("health checks of {}: {}", sink.location(), report.status());
        return report;
    }

    /**
     * Verifies one backup — deep (decrypted, plaintext and inner format checked) when a decryption key is
     * configured, quick (stored bytes against checksum and manifest) otherwise — records the outcome in the store
     * and alerts when it fails.
     *
     * @param key the backup's data, sidecar or manifest key
     * @return the outcome; a failed verification is returned, not thrown
     * @throws BackupException when the verification could not run at all (store unreachable, no such backup)
     */
    public VerificationRecord verifyBackupIntegrity(String key) {
        return verifyBackupIntegrity(key, DecryptionKeyCheck.canDecrypt(transforms));
    }

    /**
     * Verifies one backup, quick or deep; see {@link #verifyBackupIntegrity(String)}.
     *
     * @throws BackupException when the verification could not run at all (store unreachable, no such backup, deep
     *                         without a configured key)
     */
    public VerificationRecord verifyBackupIntegrity(String key, boolean deep) {
        String kind = StoreLayout.kindOf(StoreLayout.dataKeyOf(key));
        BackupVerifier.Builder vb =
                BackupVerifier.builder().sink(sink).transforms(transforms).clock(clock);
        RestoreTarget inner = innerChecks.get(kind);
        if (inner != null) {
            vb.innerCheck(inner);
        }
        BackupVerifier verifier = vb.build();
        long started = System.nanoTime();
        try {
            VerificationResult r = verifier.verify(key, deep);
            return new VerificationRecord(
                    r.manifest().objectKey(),
                    r.manifest().id(),
                    r.verifiedAt(),
                    deep,
                    true,
                    null,
                    null,
                    r.elapsed(),
                    Support.hostName());
        } catch (IntegrityException | DecryptionException e) {
            String objectKey = e.key().orElse(StoreLayout.dataKeyOf(key));
            VerificationRecord failed = new VerificationRecord(
                    objectKey,
                    backupIdOf(objectKey),
                    clock.instant(),
                    deep,
                    false,
                    e.code().name(),
                    e.getMessage(),
                    Duration.ofNanos(System.nanoTime() - started),
                    Support.hostName());
            send(new Alert(
                    HealthStatus.CRITICAL,
                    false,
                    "jiffoo-backup: " + (deep ? "deep" : "quick") + " verification FAILED in " + sink.location(),
                    List.of(objectKey + ": " + e.getMessage()),
                    null));
            return failed;
        }
    }

    /** The id of a backup whose manifest can be read, else null (a backup without manifest has no id). */
    private String backupIdOf(String objectKey) {
        try {
            return StoredBackups.of(sink, trust).manifest(objectKey).id();
        } catch (BackupException e) {
            return null;
        }
    }

    /**
     * Runs the checks on every kind: all of them, or only those that {@linkplain HealthCheck.When#ALWAYS always} run;
     * then the store checks, then the copies.
     */
    private HealthReport inspect(boolean full) {
        Instant now = clock.instant();
        ClockSkew skew = ClockSkew.at(now, clockSkewTolerance);
        List<KindInspection> inspections = new ArrayList<>();
        List<KindHealth> out = new ArrayList<>();
        for (String kind : kinds) {
            KindInspection k = new KindInspection(kind, sink, StoredBackups.of(sink, trust), skew);
            out.add(inspect(k, full));
            inspections.add(k);
        }
        List<StoreCheckHealth> extra =
                storeChecks.stream().map(c -> run(c, skew)).toList();
        List<CopyHealth> copied =
                copies.stream().map(c -> inspect(c, inspections, skew)).toList();
        return new HealthReport(now, sink.location(), Support.hostName(), full, out, extra, copied, List.of());
    }

    /**
     * Runs the copy checks on every kind in one copy, against the store's inspections of the same kinds. A copy that
     * cannot be read is one CRITICAL finding; its other kinds are not tried (each try would wait for the store's
     * retries again).
     */
    private CopyHealth inspect(Sink copy, List<KindInspection> store, ClockSkew skew) {
        List<KindHealth> out = new ArrayList<>();
        for (KindInspection p : store) {
            KindInspection k = new KindInspection(p.kind(), copy, StoredBackups.of(copy, trust), skew, p);
            if (!k.read()) {
                log.warn("{}", k.findings().get(0).message());
                return new CopyHealth(copy.location(), k.findings(), out);
            }
            for (HealthCheck check : copyChecks) {
                k.run(check);
            }
            out.add(k.health("not checked in a copy"));
        }
        List<StoreCheckHealth> checks = storeChecks.stream()
                .filter(StoreCheck::checksCopies)
                .map(c -> run(c, copy, () -> c.checkCopy(copy, sink, skew)))
                .toList();
        return new CopyHealth(copy.location(), List.of(), out, checks);
    }

    /** Runs one store check on the store. */
    private StoreCheckHealth run(StoreCheck c, ClockSkew skew) {
        return run(c, sink, () -> c.check(sink, skew));
    }

    /**
     * Runs one store check on {@code where} (the store or a copy); an unchecked exception becomes its CRITICAL
     * finding: the monitor never says OK blind.
     */
    private static StoreCheckHealth run(
            StoreCheck c, Sink where, java.util.function.Supplier<StoreCheck.Outcome> check) {
        try {
            StoreCheck.Outcome o = check.get();
            return new StoreCheckHealth(c.name(), o.summary(), o.findings(), o.facts());
        } catch (RuntimeException e) {
            log.warn("the {} check of {} failed", c.name(), where.location(), e);
            return new StoreCheckHealth(
                    c.name(),
                    "could not check",
                    List.of(new Finding(
                            c.name(),
                            HealthStatus.CRITICAL,
                            "the " + c.name() + " check could not run: "
                                    + e.getClass().getSimpleName() + ": " + e.getMessage()
                                    + ". Check the store " + where.location() + " and the monitor's log.")),
                    Map.of());
        }
    }

    private KindHealth inspect(KindInspection k, boolean full) {
        k.full(full);
        if (!k.read()) {
            return k.health("store unreadable");
        }
        boolean failed = false;
        for (HealthCheck check : checks) {
            if (check.applies(k, full)) {
                failed |= !k.run(check);
            }
        }
        return k.health(failed ? "check failed" : k.newest() == null ? "no backup" : "freshness check only");
    }

    private Alert alertFor(HealthReport report, boolean recovery) {
        String title = recovery
                ? "jiffoo-backup recovered: backups in " + report.where() + " are healthy again"
                : "jiffoo-backup " + report.status() + ": " + report.where();
        return new Alert(report.status(), recovery, title, report.summaryLines(), report);
    }

    /** Sends to every notifier; returns what happened to each, never throws. */
    private List<String> send(Alert alert) {
        List<String> notes = new ArrayList<>();
        for (Notifier n : notifiers) {
            try {
                n.send(alert);
                notes.add(n.describe() + ": sent");
            } catch (IOException | RuntimeException e) {
                log.warn(
                        "could not send the {} alert through {}: {}",
                        alert.recovery() ? "recovery" : alert.status().name(),
                        n.describe(),
                        e.getMessage());
                notes.add(n.describe() + ": failed (" + e.getMessage() + ")");
            }
        }
        return notes;
    }

    /** The status of the previous full report: this process's, or the newest one recorded in the store. */
    private HealthStatus previousStatus() {
        synchronized (lock) {
            if (lastStatus != null) {
                return lastStatus;
            }
        }
        if (!recordReports) {
            return null;
        }
        try {
            for (StoredObject report : Keys.newestFirst(sink.list(REPORT_PREFIX))) {
                try (InputStream in = sink.open(report.key())) {
                    JsonNode n = MAPPER.readTree(in.readNBytes(BoundedJson.MAX_DOCUMENT_BYTES));
                    // another monitor of the same store may watch other kinds: its status is not ours
                    List<String> watched = new ArrayList<>();
                    n.path("kinds").forEach(k -> watched.add(k.path("kind").asText()));
                    if (watched.equals(kinds)) {
                        return HealthStatus.valueOf(n.path("status").asText());
                    }
                }
            }
            return null;
        } catch (IOException | RuntimeException e) {
            log.warn("could not read the previous health report from {}: {}", sink.location(), e.getMessage());
            return null;
        }
    }

    private void recordReport(HealthReport report) {
        if (!recordReports) {
            return;
        }
        String key = StoreLayout.newMonitorReportKey(report.checkedAt());
        try {
            try (SinkOutput out = sink.create(key)) {
                out.write(report.toJsonBytes());
                out.commit();
            }
            Keys.keepNewest(sink, sink.list(REPORT_PREFIX), REPORTS_KEPT);
        } catch (IOException | RuntimeException e) {
            log.warn(
                    "could not record the health report in {} (give the monitor write access to {}* to get"
                            + " recovery alerts across runs): {}",
                    sink.location(),
                    REPORT_PREFIX,
                    e.getMessage());
        }
    }

    /** Builds a {@link BackupMonitor}. Not thread-safe. */
    public static final class Builder {
        private BackupTrust trust;
        private Sink sink;
        private final List<Sink> copies = new ArrayList<>();
        private Duration copyGrace = Duration.ofHours(1);
        private final List<String> kinds = new ArrayList<>();
        private Duration maxAge = Duration.ofHours(26);
        private final Map<String, Duration> maxAges = new LinkedHashMap<>();
        private Duration verificationWithin = Duration.ofDays(7);
        private final List<Transform> transforms = new ArrayList<>();
        private final Map<String, RestoreTarget> innerChecks = new LinkedHashMap<>();
        private final List<Notifier> notifiers = new ArrayList<>();
        private final List<StoreCheck> storeChecks = new ArrayList<>();
        private Duration drillMaxAge;
        private final List<String> requiredDrills = new ArrayList<>();
        private boolean notifyOnRecovery = true;
        private boolean recordReports = true;
        private int keyCheckBytes = 64 * 1024;
        private Clock clock = Clock.systemUTC();
        private Duration clockSkewTolerance = ClockSkew.DEFAULT_TOLERANCE;

        private Builder() {}

        /** The store to watch. Required. */
        public Builder sink(Sink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /**
         * Adds a copy of the store to watch too (repeatable; none by default), e.g. the second region a backup with
         * {@code BackupPipeline.Builder.copy} writes to: the freshness of each kind there, recent backups of the store
         * missing there, and whether it can be read at all. See the class description.
         */
        public Builder copy(Sink copy) {
            Objects.requireNonNull(copy, "copy");
            if (copies.contains(copy)) {
                throw new IllegalArgumentException("the copy " + copy.location() + " is added twice");
            }
            this.copies.add(copy);
            return this;
        }

        /**
         * How long after its completion a backup of the store may still be missing from a copy before the
         * {@code missing} check warns: time for a {@code copy} catching the copy up; 1 hour by default, zero allowed.
         */
        public Builder copyGrace(Duration grace) {
            Objects.requireNonNull(grace, "grace");
            if (grace.isNegative()) {
                throw new IllegalArgumentException("copyGrace must not be negative, got " + grace);
            }
            this.copyGrace = grace;
            return this;
        }

        /**
         * The kinds of backup to watch, e.g. {@code "database", "files"}. Required: a kind that has no backup at all
         * is CRITICAL, which is how a backup job that never ran is noticed.
         */
        public Builder kinds(String... kinds) {
            for (String k : kinds) {
                if (k == null || k.isBlank() || k.contains("/")) {
                    throw new IllegalArgumentException(
                            "a kind is a plain name such as database or files, got '" + k + "'");
                }
                if (!this.kinds.contains(k)) {
                    this.kinds.add(k);
                }
            }
            return this;
        }

        /** How old the newest backup of every kind may be; 26 hours by default (a daily backup plus slack). */
        public Builder maxAge(Duration maxAge) {
            this.maxAge = positive(maxAge, "maxAge");
            return this;
        }

        /** How old the newest backup of one kind may be, e.g. 8 days for a weekly files backup. */
        public Builder maxAge(String kind, Duration maxAge) {
            this.maxAges.put(Objects.requireNonNull(kind, "kind"), positive(maxAge, "maxAge"));
            return this;
        }

        /**
         * Some backup of each kind must have passed a verification within this period, else WARNING; 7 days by
         * default. {@code null} switches the rule off.
         */
        public Builder requireVerificationWithin(Duration period) {
            this.verificationWithin = period == null ? null : positive(period, "period");
            return this;
        }

        /** The decoding transforms with their keys: used for the key check and deep verification. */
        public Builder transforms(List<? extends Transform> transforms) {
            this.transforms.clear();
            this.transforms.addAll(transforms);
            return this;
        }

        /** The inner-format check deep verification uses for one kind (a tar listing, {@code pg_restore --list}). */
        public Builder innerCheck(String kind, RestoreTarget check) {
            this.innerChecks.put(Objects.requireNonNull(kind, "kind"), Objects.requireNonNull(check, "check"));
            return this;
        }

        /** Adds a notifier; alerts go to each in turn. */
        public Builder notifier(Notifier notifier) {
            this.notifiers.add(Objects.requireNonNull(notifier, "notifier"));
            return this;
        }

        /**
         * Adds a check of something that is not a kind of backup, e.g. the WAL archive
         * ({@code com.jiffoo.backup.wal.WalArchiveCheck} in backup-postgres); it runs after the kinds, in the full and
         * the freshness-only check, and its findings count in the status and the alerts.
         */
        public Builder storeCheck(StoreCheck check) {
            this.storeChecks.add(Objects.requireNonNull(check, "check"));
            return this;
        }

        /**
         * Checks the restore drills ({@code drills}, after the other store checks): the authenticated drill reports
         * ({@link com.jiffoo.backup.DrillHistory}) in the store and its copies. Drills of a kind are expected when
         * the kind is in {@code required} or once an authenticated report of it exists; then the newest drill of
         * the kind failed or ran over its RTO target: CRITICAL; no drill of it passed within {@code maxAge}
         * (35 days is the launcher's default: a monthly drill plus slack): WARNING. Reports that do not
         * authenticate never count (a recent one is a WARNING naming it); without a key that can check signatures
         * no report counts. Off unless called.
         */
        public Builder drills(Duration maxAge, String... required) {
            this.drillMaxAge = positive(maxAge, "maxAge");
            for (String k : required) {
                if (k == null || k.isBlank() || k.contains("/")) {
                    throw new IllegalArgumentException("a drill kind is database or files, got '" + k + "'");
                }
                if (!requiredDrills.contains(k)) {
                    requiredDrills.add(k);
                }
            }
            return this;
        }

        /** Whether a healthy report after one that was not sends a recovery message; true by default. */
        public Builder notifyOnRecovery(boolean notifyOnRecovery) {
            this.notifyOnRecovery = notifyOnRecovery;
            return this;
        }

        /**
         * Whether {@link #runHealthChecks()} records its report in the store under {@value #REPORT_PREFIX}* (the newest
         * {@value #REPORTS_KEPT} are kept), which lets the next run in another process tell a recovery; true by
         * default. A monitor without write access logs a warning and carries on.
         */
        public Builder recordReports(boolean recordReports) {
            this.recordReports = recordReports;
            return this;
        }

        /** How many plaintext bytes the key check decrypts; 64 KiB by default. */
        public Builder keyCheckBytes(int bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("keyCheckBytes must be positive, got " + bytes);
            }
            this.keyCheckBytes = bytes;
            return this;
        }

        /**
         * What is accepted as a backup. Default: {@link BackupTrust#of} the configured transforms. A monitor that
         * holds no key cannot tell a planted backup from a real one: give it the key file, or in public-key mode the
         * signers' public keys.
         */
        public Builder trust(BackupTrust trust) {
            this.trust = java.util.Objects.requireNonNull(trust, "trust");
            return this;
        }

        /** The clock ages are measured with; {@link Clock#systemUTC()} by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * How far in the future a manifest's completion time or a verification record's time may lie before it is
         * a finding (CRITICAL, "dated in the future", never fresh nor a passed verification);
         * {@link ClockSkew#DEFAULT_TOLERANCE 5 minutes} by default.
         */
        public Builder clockSkewTolerance(Duration tolerance) {
            this.clockSkewTolerance = ClockSkew.checkTolerance(tolerance);
            return this;
        }

        /** Builds the monitor. */
        public BackupMonitor build() {
            if (sink == null) {
                throw new ConfigurationException("A monitor needs a store: call sink(...).");
            }
            if (copies.contains(sink)) {
                throw new ConfigurationException(
                        "The store " + sink.location() + " is also given as its own copy: a copy is another store.");
            }
            if (kinds.isEmpty()) {
                throw new ConfigurationException("A monitor needs the kinds of backup to watch: call"
                        + " kinds(\"database\", \"files\") with the kinds your backup jobs write.");
            }
            return new BackupMonitor(this);
        }

        private static Duration positive(Duration d, String name) {
            Objects.requireNonNull(d, name);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + " must be positive, got " + d);
            }
            return d;
        }
    }
}
