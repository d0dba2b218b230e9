package com.jiffoo.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.jiffoo.backup.internal.BoundedJson;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outcome of one restore drill: which backup was restored from which store into what, how long each phase took
 * against the recovery time objective (RTO), what was checked and what was found. Immutable.
 *
 * <p>A report is kept three ways: as a JSON object in the store under {@link StoreLayout#DRILL_REPORT_PREFIX}
 * ({@link #storeIn}), authenticated like a manifest (a detached signature {@code X.json.sig} by the same
 * {@link Authenticator}, written before the report; {@link #readFrom} checks it), as a Markdown entry for the team's
 * drill log ({@link #toMarkdown()}, in the shape of the runbook's {@code disaster-recovery-drill.md}), and as the
 * launcher's {@code --json} summary.
 *
 * @param kind        what was drilled: {@code database}
 * @param outcome     the verdict
 * @param startedAt   when the drill started
 * @param host        the host that ran it
 * @param backupKey   the restored backup's key, {@code null} when none was located
 * @param backupAt    when that backup completed, {@code null} when none was located
 * @param store       the store the backup was restored from (or tried first), never a secret
 * @param scratch     where it was restored to, e.g. {@code database jiffoo_drill_20261202_040000_3f9a2c1b on
 *                    127.0.0.1:5432}
 * @param phases      each phase with its duration, in order
 * @param total       the measured RTO: from the drill's start to the end of its cleanup
 * @param rtoTarget   the target the total is judged against
 * @param checks      each check and its status
 * @param findings    what someone should look at (a store that could not serve, a check's failure, leftovers
 *                    dropped); empty when there is nothing
 * @param recovery    for a drill through point-in-time recovery: the target and the point recovery reached (the
 *                    achieved RPO); null otherwise
 */
public record DrillReport(
        String kind,
        Outcome outcome,
        Instant startedAt,
        String host,
        String backupKey,
        Instant backupAt,
        String store,
        String scratch,
        List<Phase> phases,
        Duration total,
        Duration rtoTarget,
        List<Check> checks,
        List<String> findings,
        Recovery recovery) {
    private static final Logger log = LoggerFactory.getLogger(DrillReport.class);
    private static final ObjectMapper MAPPER = BoundedJson.mapper();
    private static final int MAX_REPORT_BYTES = 256 * 1024;
    private static final int MAX_SIGNATURE_BYTES = 16 * 1024;

    /** Checks the required fields and copies the lists. */
    public DrillReport {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(total, "total");
        Objects.requireNonNull(rtoTarget, "rtoTarget");
        phases = List.copyOf(phases);
        checks = List.copyOf(checks);
        findings = List.copyOf(findings);
    }

    /** A report without a point-in-time recovery ({@link #recovery()} null). */
    public DrillReport(
            String kind,
            Outcome outcome,
            Instant startedAt,
            String host,
            String backupKey,
            Instant backupAt,
            String store,
            String scratch,
            List<Phase> phases,
            Duration total,
            Duration rtoTarget,
            List<Check> checks,
            List<String> findings) {
        this(
                kind, outcome, startedAt, host, backupKey, backupAt, store, scratch, phases, total, rtoTarget, checks,
                findings, null);
    }

    /**
     * Where a drill through point-in-time recovery asked recovery to stop, and where it stopped.
     *
     * @param target          the recovery target as given ({@code 2026-12-02 03:00:00+00}, or {@code latest})
     * @param targetTime      the target as an instant; null for a target that is no time (the latest)
     * @param lastTransaction the commit time of the last replayed transaction
     *                        ({@code pg_last_xact_replay_timestamp()}); null when recovery replayed none
     * @param lastReplayedLsn the last replayed WAL position; null when not known
     */
    public record Recovery(String target, Instant targetTime, Instant lastTransaction, String lastReplayedLsn) {
        /** Checks the target. */
        public Recovery {
            Objects.requireNonNull(target, "target");
        }

        /**
         * The achieved recovery point objective: how long before the target the last recovered transaction committed
         * (what a restore to this target would lose at most); empty when either time is unknown.
         */
        public java.util.Optional<Duration> rpo() {
            return targetTime == null || lastTransaction == null
                    ? java.util.Optional.empty()
                    : java.util.Optional.of(Duration.between(lastTransaction, targetTime));
        }

        /** One line for people: the target, the last recovered transaction and the RPO. */
        public String describe() {
            StringBuilder b = new StringBuilder("target ").append(target);
            b.append(", last recovered transaction ")
                    .append(
                            lastTransaction == null
                                    ? "none (nothing committed after the base backup was replayed)"
                                    : lastTransaction.toString());
            rpo().ifPresent(d -> b.append(", RPO ")
                    .append(d.isNegative() ? "-" + human(d.negated()) + " (AFTER the target)" : human(d)));
            if (lastReplayedLsn != null) {
                b.append(", WAL ").append(lastReplayedLsn);
            }
            return b.toString();
        }
    }

    /** This report with {@code recovery} (a point-in-time drill's target and the point reached). */
    public DrillReport withRecovery(Recovery recovery) {
        return new DrillReport(
                kind, outcome, startedAt, host, backupKey, backupAt, store, scratch, phases, total, rtoTarget, checks,
                findings, recovery);
    }

    /** The verdict of a drill. */
    public enum Outcome {
        /** Restored, every check passed, within the RTO target. */
        PASSED,
        /** The backup did not restore, or a check failed. */
        FAILED,
        /** Restored and every check passed, but it took longer than the RTO target. */
        OVER_TARGET;

        /**
         * The command line's exit code for a drill that ran with this outcome: 0 passed, 12 failed, 13 over the RTO
         * target (docs/drills.md). The Spring Boot starter counts a drill that did not pass as a failure with the
         * code {@code EXIT_12} or {@code EXIT_13}, as the launcher's own metrics do.
         */
        public int exitCode() {
            return switch (this) {
                case PASSED -> 0;
                case FAILED -> 12;
                case OVER_TARGET -> 13;
            };
        }

        /** {@code passed}, {@code failed}, {@code over-target}: as JSON and the drill log write it. */
        public String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        static Outcome ofLabel(String label) {
            return valueOf(label.toUpperCase(Locale.ROOT).replace('-', '_'));
        }
    }

    /** A check's verdict. */
    public enum Status {
        /** It ran and found nothing wrong. */
        PASSED,
        /** It ran and found something wrong (its detail says what). */
        FAILED,
        /** It could not run here (its detail says why); not a failure. */
        SKIPPED;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * One phase of a drill.
     *
     * @param name     {@code locate}, {@code restore} (download, decrypt and restore), {@code checks}, {@code cleanup}
     * @param duration how long it took
     */
    public record Phase(String name, Duration duration) {
        /** Checks the fields. */
        public Phase {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(duration, "duration");
        }
    }

    /**
     * One check of a drill.
     *
     * @param name   e.g. {@code row-counts}, {@code full-read}, {@code amcheck}, {@code smoke-queries}
     * @param status its verdict
     * @param detail one line: what it covered, what failed, or why it was skipped
     */
    public record Check(String name, Status status, String detail) {
        /** Checks the fields. */
        public Check {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(status, "status");
            detail = detail == null ? "" : detail;
        }
    }

    /**
     * The report of a drill that ran, its outcome judged: FAILED when a check failed (each failed check other than
     * {@code locate} and {@code restore}, whose failure is already a finding, is added to the findings), else
     * OVER_TARGET when {@code total} exceeds {@code rtoTarget} (with a finding saying by how much), else PASSED.
     *
     * @param findings the drill's findings so far; the judgement's are appended to a copy
     */
    public static DrillReport judge(
            String kind,
            Instant startedAt,
            String host,
            String backupKey,
            Instant backupAt,
            String store,
            String scratch,
            List<Phase> phases,
            Duration total,
            Duration rtoTarget,
            List<Check> checks,
            List<String> findings) {
        List<String> all = new ArrayList<>(findings);
        for (Check c : checks) {
            if (c.status() == Status.FAILED
                    && !c.name().equals("restore")
                    && !c.name().equals("locate")) {
                all.add(c.name() + " failed: " + c.detail());
            }
        }
        Outcome outcome;
        if (checks.stream().anyMatch(c -> c.status() == Status.FAILED)) {
            outcome = Outcome.FAILED;
        } else if (total.compareTo(rtoTarget) > 0) {
            outcome = Outcome.OVER_TARGET;
            all.add("the drill took " + human(total) + ", over the RTO target of " + human(rtoTarget) + " by "
                    + human(total.minus(rtoTarget)));
        } else {
            outcome = Outcome.PASSED;
        }
        return new DrillReport(
                kind, outcome, startedAt, host, backupKey, backupAt, store, scratch, phases, total, rtoTarget, checks,
                all);
    }

    /**
     * Whether a failure is the drill's finding (the backup would not restore: damaged, missing, the key does not open
     * it, the restore refused it) rather than a reason it could not run (the store or server unreachable, a setting).
     */
    public static boolean failsTheDrill(BackupException e) {
        return switch (e.code()) {
            case INTEGRITY, DECRYPTION, RESTORE, NOT_FOUND -> true;
            default -> false;
        };
    }

    /**
     * Records a restore that served: a passed {@code restore} check naming the backup, the store that served it,
     * {@code size} and the time; a finding for each store that could not serve it; and a failed {@code copies} check
     * when one of them holds a damaged copy.
     *
     * @param size what was restored, e.g. {@code "1024 bytes stored"}
     */
    public static void restored(DrillSource.Restored r, String size, List<Check> checks, List<String> findings) {
        BackupManifest manifest = r.result().manifest();
        checks.add(new Check(
                "restore",
                Status.PASSED,
                "restored " + manifest.objectKey() + " from " + r.store() + " (" + size + ") in "
                        + human(r.result().elapsed())));
        boolean damagedCopy = false;
        for (DrillSource.StoreFailure f : r.storeFailures()) {
            findings.add("the store " + f.store() + " could not serve the backup (" + f.code() + ": " + f.message()
                    + "); restored from " + r.store() + " instead");
            damagedCopy |= f.code() == ErrorCode.INTEGRITY;
        }
        if (damagedCopy) {
            checks.add(new Check(
                    "copies",
                    Status.FAILED,
                    "a store holds a damaged copy of " + manifest.objectKey() + " (see the findings)"));
        }
    }

    /**
     * Records a failure that {@link #failsTheDrill} the drill: of finding a backup ({@code key} null: a failed
     * {@code locate} check) or of restoring {@code key} (a failed {@code restore} check), with a finding.
     */
    public static void notRestored(String key, BackupException e, List<Check> checks, List<String> findings) {
        checks.add(new Check(key == null ? "locate" : "restore", Status.FAILED, e.code() + ": " + e.getMessage()));
        findings.add(
                (key == null ? "no backup could be located to drill: " : "the backup " + key + " did not restore: ")
                        + e.getMessage());
    }

    /** True when the drill passed: restored, every check passed, within the target. */
    public boolean passed() {
        return outcome == Outcome.PASSED;
    }

    /** The duration of the phase {@code name}, if it ran. */
    public java.util.Optional<Duration> phase(String name) {
        return phases.stream()
                .filter(p -> p.name().equals(name))
                .map(Phase::duration)
                .findFirst();
    }

    /** The report as JSON (what {@link #storeIn} stores and {@link #readFrom} reads back). */
    public byte[] toJson() {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(toTree());
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise the drill report", e);
        }
    }

    /** The report as a JSON tree, for a launcher's summary. */
    public ObjectNode toTree() {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("formatVersion", 1);
        n.put("kind", kind);
        n.put("outcome", outcome.label());
        n.put("startedAt", startedAt.toString());
        n.put("host", host);
        n.put("backupKey", backupKey);
        n.put("backupAt", backupAt == null ? null : backupAt.toString());
        n.put("store", store);
        n.put("scratch", scratch);
        ArrayNode ph = n.putArray("phases");
        for (Phase p : phases) {
            ph.addObject().put("name", p.name()).put("millis", p.duration().toMillis());
        }
        n.put("totalMillis", total.toMillis());
        n.put("rtoTargetMillis", rtoTarget.toMillis());
        ArrayNode cs = n.putArray("checks");
        for (Check c : checks) {
            cs.addObject()
                    .put("name", c.name())
                    .put("status", c.status().label())
                    .put("detail", c.detail());
        }
        ArrayNode fs = n.putArray("findings");
        findings.forEach(fs::add);
        if (recovery != null) {
            ObjectNode r = n.putObject("recovery");
            r.put("target", recovery.target());
            r.put(
                    "targetTime",
                    recovery.targetTime() == null ? null : recovery.targetTime().toString());
            r.put(
                    "lastTransaction",
                    recovery.lastTransaction() == null
                            ? null
                            : recovery.lastTransaction().toString());
            r.put("lastReplayedLsn", recovery.lastReplayedLsn());
            if (recovery.rpo().isPresent()) {
                r.put("rpoMillis", recovery.rpo().get().toMillis());
            } else {
                r.putNull("rpoMillis");
            }
        }
        return n;
    }

    /**
     * Parses a report.
     *
     * @throws IntegrityException when it is not a drill report
     */
    public static DrillReport fromJson(byte[] json, String key) {
        try {
            JsonNode n = MAPPER.readTree(json);
            if (n == null || n.path("formatVersion").asInt() != 1 || !n.hasNonNull("outcome")) {
                throw new IOException("not a version 1 drill report");
            }
            List<Phase> phases = new ArrayList<>();
            for (JsonNode p : n.path("phases")) {
                phases.add(new Phase(
                        p.path("name").asText(),
                        Duration.ofMillis(p.path("millis").asLong())));
            }
            List<Check> checks = new ArrayList<>();
            for (JsonNode c : n.path("checks")) {
                checks.add(new Check(
                        c.path("name").asText(),
                        Status.valueOf(c.path("status").asText().toUpperCase(Locale.ROOT)),
                        c.path("detail").asText("")));
            }
            List<String> findings = new ArrayList<>();
            n.path("findings").forEach(f -> findings.add(f.asText()));
            JsonNode r = n.path("recovery");
            Recovery recovery = r.isObject()
                    ? new Recovery(
                            r.path("target").asText(),
                            r.hasNonNull("targetTime")
                                    ? Instant.parse(r.path("targetTime").asText())
                                    : null,
                            r.hasNonNull("lastTransaction")
                                    ? Instant.parse(r.path("lastTransaction").asText())
                                    : null,
                            r.path("lastReplayedLsn").asText(null))
                    : null;
            return new DrillReport(
                    n.path("kind").asText(),
                    Outcome.ofLabel(n.path("outcome").asText()),
                    Instant.parse(n.path("startedAt").asText()),
                    n.path("host").asText(null),
                    n.path("backupKey").asText(null),
                    n.hasNonNull("backupAt") ? Instant.parse(n.path("backupAt").asText()) : null,
                    n.path("store").asText(null),
                    n.path("scratch").asText(null),
                    phases,
                    Duration.ofMillis(n.path("totalMillis").asLong()),
                    Duration.ofMillis(n.path("rtoTargetMillis").asLong()),
                    checks,
                    findings,
                    recovery);
        } catch (IOException | RuntimeException e) {
            throw new IntegrityException(
                    "The drill report " + key + " cannot be read (" + e.getMessage() + "); it was not written by"
                            + " jiffoo-backup or was changed by hand.",
                    key,
                    null,
                    e);
        }
    }

    /**
     * Stores this report in {@code sink} under a new key {@link StoreLayout#newDrillReportKey}, signed as manifests
     * are (the signature {@code KEY.sig} first, then the report) when {@code trust}'s authenticator can sign here;
     * unsigned, with a warning, when it cannot (a reader that requires authentication then refuses it).
     *
     * @return the report's key
     * @throws StorageException when it cannot be written
     */
    public String storeIn(Sink sink, BackupTrust trust) {
        String key = StoreLayout.newDrillReportKey(startedAt);
        byte[] json = toJson();
        java.util.Optional<Authenticator> auth = trust.authenticator().filter(Authenticator::canSign);
        try {
            if (auth.isPresent()) {
                write(sink, key + StoreLayout.SIGNATURE_SUFFIX, auth.get().sign(json));
            } else if (trust.checks()) {
                log.warn(
                        "the drill report {} is not signed (no signing key here): readers that check authenticity"
                                + " refuse it. Give the drill host the key the backups are signed with"
                                + " (ENCRYPTION_KEY_FILE, or ENCRYPTION_SIGNING_KEY_FILE in public-key mode)",
                        key);
            }
            write(sink, key, json);
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot store the drill report in " + sink.location() + ": " + e.getMessage()
                            + ". The drill itself " + outcome.label() + "; give the drill host write access to "
                            + StoreLayout.DRILL_REPORT_PREFIX + "* in the store.",
                    key,
                    sink.location(),
                    e);
        }
        return key;
    }

    private static void write(Sink sink, String key, byte[] bytes) throws IOException {
        try (SinkOutput out = sink.create(key)) {
            out.write(bytes);
            out.commit();
        }
    }

    /**
     * Reads the drill report stored under {@code key} and checks its signature as a manifest's is checked: with a key
     * configured, a report whose signature does not match is refused, and an unsigned one too unless
     * {@code trust} allows unauthenticated objects.
     *
     * @throws IntegrityException when the report is not authentic or not a drill report
     * @throws NotFoundException  when there is no such report
     * @throws StorageException   when the store cannot be read
     */
    public static DrillReport readFrom(Sink sink, String key, BackupTrust trust) {
        byte[] json = StoredBackups.readSmall(sink, key, MAX_REPORT_BYTES);
        if (trust.checks()) {
            byte[] signature;
            try {
                signature = StoredBackups.readSmall(sink, key + StoreLayout.SIGNATURE_SUFFIX, MAX_SIGNATURE_BYTES);
            } catch (NotFoundException e) {
                signature = null;
            }
            if (signature == null || trust.authenticator().isEmpty()) {
                if (trust.requiresAuthentication()) {
                    throw new IntegrityException(
                            "The drill report " + key + " in " + sink.location() + " is not signed, so it may have"
                                    + " been planted by someone who can write to the store; it is not trusted.",
                            key,
                            sink.location(),
                            null);
                }
            } else {
                trust.authenticator().get().verify(json, signature, key);
            }
        }
        return fromJson(json, key);
    }

    /** The keys of the drill reports in {@code sink}, oldest first (signatures left out). */
    public static List<String> keysIn(Sink sink) throws IOException {
        List<String> keys = new ArrayList<>();
        for (StoredObject o : sink.list(StoreLayout.DRILL_REPORT_PREFIX)) {
            if (o.key().endsWith(".json")) {
                keys.add(o.key());
            }
        }
        keys.sort(null);
        return keys;
    }

    /**
     * The alert for a drill that did not pass ({@link com.jiffoo.backup.monitor.SlackNotifier}): CRITICAL, titled with
     * the verdict and the store, one line per failed check and finding, and the RTO against its target.
     */
    public com.jiffoo.backup.monitor.Alert toAlert() {
        List<String> lines = new ArrayList<>();
        lines.add("backup: " + (backupKey == null ? "none located" : backupKey) + " from " + store);
        for (Check c : checks) {
            if (c.status() == Status.FAILED) {
                lines.add(c.name() + " failed: " + c.detail());
            }
        }
        lines.add("RTO " + human(total) + " against a target of " + human(rtoTarget)
                + (total.compareTo(rtoTarget) > 0 ? ": over by " + human(total.minus(rtoTarget)) : ""));
        findings.forEach(lines::add);
        return new com.jiffoo.backup.monitor.Alert(
                com.jiffoo.backup.monitor.HealthStatus.CRITICAL,
                false,
                "jiffoo-backup " + kind + " restore drill " + outcome.label().toUpperCase(Locale.ROOT) + ": " + store,
                lines,
                null);
    }

    private static final DateTimeFormatter DAY =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC);

    /**
     * The report as one entry of a drill log ({@code disaster-recovery-drill.md}): a heading with the date and the
     * verdict, then the backup, the store, the phases with their times, the RTO against its target, the checks and
     * the findings.
     */
    public String toMarkdown() {
        StringBuilder b = new StringBuilder();
        b.append("## ")
                .append(DAY.format(startedAt))
                .append(" — ")
                .append(kind)
                .append(" drill: ")
                .append(outcome.label().toUpperCase(Locale.ROOT))
                .append("\n\n");
        b.append("- **Backup**: ")
                .append(backupKey == null ? "none located" : "`" + backupKey + "`")
                .append(backupAt == null ? "" : " (completed " + backupAt + ")")
                .append('\n');
        b.append("- **Store**: ").append(store == null ? "?" : store).append('\n');
        b.append("- **Restored into**: ")
                .append(scratch == null ? "?" : scratch)
                .append(" (dropped afterwards)\n");
        b.append("- **Host**: ").append(host == null ? "?" : host).append('\n');
        b.append("- **RTO**: ")
                .append(human(total))
                .append(" measured, target ")
                .append(human(rtoTarget))
                .append(
                        total.compareTo(rtoTarget) > 0
                                ? " — **over target by " + human(total.minus(rtoTarget)) + "**"
                                : "")
                .append(recovery == null ? "\n\n" : "\n");
        if (recovery != null) {
            b.append("- **RPO**: ")
                    .append(recovery.rpo()
                            .map(d -> d.isNegative() ? "-" + human(d.negated()) + " (after the target)" : human(d))
                            .orElse("not measured"))
                    .append(" (")
                    .append(recovery.describe())
                    .append(")\n\n");
        }
        b.append("| Phase | Time |\n|---|---|\n");
        for (Phase p : phases) {
            b.append("| ")
                    .append(p.name())
                    .append(" | ")
                    .append(human(p.duration()))
                    .append(" |\n");
        }
        b.append("| **total** | **").append(human(total)).append("** |\n\n");
        b.append("| Check | Result | Detail |\n|---|---|---|\n");
        for (Check c : checks) {
            b.append("| ")
                    .append(c.name())
                    .append(" | ")
                    .append(c.status().label())
                    .append(" | ")
                    .append(c.detail().replace("|", "\\|").replace("\n", " "))
                    .append(" |\n");
        }
        b.append("\n**Findings**:");
        if (findings.isEmpty()) {
            b.append(" none.\n");
        } else {
            b.append('\n');
            findings.forEach(f -> b.append("- ").append(f.replace("\n", " ")).append('\n'));
        }
        return b.append('\n').toString();
    }

    /** A duration for people: {@code 1h 02m 03s}, {@code 2m 05s}, {@code 4.2 s}. */
    public static String human(Duration d) {
        long s = d.toSeconds();
        if (s < 60) {
            return String.format(Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm %02ds", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%dh %02dm %02ds", s / 3600, (s % 3600) / 60, s % 60);
    }
}
