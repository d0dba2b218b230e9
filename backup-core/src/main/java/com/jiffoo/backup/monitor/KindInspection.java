package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.VerificationRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One kind's health check in progress: what the {@link HealthCheck}s share (the store, the kind's manifests, the
 * clock) and what they find. {@link BackupMonitor} makes one per kind and run, and one per kind and copy (then
 * {@link #primary()} is the same kind's inspection of the store, which the copy is compared with); not thread-safe.
 */
final class KindInspection {
    private static final Logger log = LoggerFactory.getLogger(BackupMonitor.class);

    private final String kind;
    private final Sink sink;
    private final StoredBackups backups;
    private final ClockSkew skew;
    private final KindInspection primary;
    private final List<Finding> findings = new ArrayList<>();
    private String check = "store";
    private StoredBackups.Scan scan;
    private List<BackupManifest> all = List.of();
    private List<BackupManifest> committed = List.of();
    private VerificationRecord lastVerification;
    private VerificationRecord lastPassedVerification;
    private KindHealth.KeyCheck keyCheck = KindHealth.KeyCheck.NOT_CHECKED;
    private String keyCheckDetail;
    private boolean full;
    private java.util.Set<String> unrestorable = java.util.Set.of();
    private List<ChainHealth> chains = List.of();

    KindInspection(String kind, Sink sink, StoredBackups backups, ClockSkew skew) {
        this(kind, sink, backups, skew, null);
    }

    /** An inspection of a copy: {@code primary} is the same kind's inspection of the store, already run. */
    KindInspection(String kind, Sink sink, StoredBackups backups, ClockSkew skew, KindInspection primary) {
        this.kind = kind;
        this.sink = sink;
        this.backups = backups;
        this.skew = skew;
        this.primary = primary;
    }

    /**
     * Reads the kind's manifests; false, with a CRITICAL finding, when the store cannot be read. A backup dated in
     * the future is in {@link #all()} but never in {@link #committed()}: every check uses the real ones.
     */
    boolean read() {
        return run("store", () -> {
                    try {
                        scan = backups.scan(kind);
                        all = scan.committed();
                        committed = all.stream()
                                .filter(m -> !skew.isFuture(m.completedAt()))
                                .toList();
                    } catch (BackupException e) {
                        find(
                                HealthStatus.CRITICAL,
                                primary == null
                                        ? "cannot read the store: " + e.getMessage()
                                        : "cannot read the copy " + sink.location() + ": " + e.getMessage()
                                                + " Until it answers, restore and verify skip it, and backups"
                                                + " do not reach it.");
                    }
                })
                && scan != null;
    }

    /** Runs one check; an unchecked exception becomes its CRITICAL finding. False when it threw. */
    boolean run(HealthCheck c) {
        return run(c.name, () -> c.check(this));
    }

    private boolean run(String name, Runnable body) {
        check = name;
        try {
            body.run();
            return true;
        } catch (RuntimeException e) {
            log.warn("the {} check of {} in {} failed", name, kind, sink.location(), e);
            find(
                    HealthStatus.CRITICAL,
                    "the " + name + " check could not run: " + e.getClass().getSimpleName() + ": " + e.getMessage()
                            + ". Check the store and the monitor's log.");
            return false;
        }
    }

    /** Adds a finding of the running check. */
    void find(HealthStatus status, String message) {
        findings.add(new Finding(check, status, message));
    }

    String kind() {
        return kind;
    }

    Sink sink() {
        return sink;
    }

    /** The same kind's inspection of the store when this one is of a copy; null when this is of the store. */
    KindInspection primary() {
        return primary;
    }

    /** Whether the kind's manifests could be read ({@link #read()} succeeded). */
    boolean readable() {
        return scan != null;
    }

    /** What the checks found so far. */
    List<Finding> findings() {
        return List.copyOf(findings);
    }

    StoredBackups backups() {
        return backups;
    }

    ClockSkew skew() {
        return skew;
    }

    /** The scan of the kind's manifests (with those refused). */
    StoredBackups.Scan scan() {
        return scan;
    }

    /** Every committed backup of the kind, newest first, those dated in the future included. */
    List<BackupManifest> all() {
        return all;
    }

    /** The committed backups dated in the past, newest first. */
    List<BackupManifest> committed() {
        return committed;
    }

    /**
     * The newest committed backup dated in the past that can be restored, or null: an increment of a chain whose
     * link up to it is missing or damaged ({@link ChainCheck}) is skipped.
     */
    BackupManifest newest() {
        for (BackupManifest m : committed) {
            if (!unrestorable.contains(m.id())) {
                return m;
            }
        }
        return null;
    }

    /** Whether this is the full check (verification records are read) rather than the freshness-only one. */
    boolean full() {
        return full;
    }

    void full(boolean full) {
        this.full = full;
    }

    /** What the chain check found: the chains, and the ids of the backups their damage makes unrestorable. */
    void chains(List<ChainHealth> chains, java.util.Set<String> unrestorable) {
        this.chains = List.copyOf(chains);
        this.unrestorable = java.util.Set.copyOf(unrestorable);
    }

    /** What the verification history check found: the last recorded verification, and the last that counts. */
    void verifications(VerificationRecord last, VerificationRecord lastPassed) {
        this.lastVerification = last;
        this.lastPassedVerification = lastPassed;
    }

    /** What the key check found. */
    void keyCheck(KindHealth.KeyCheck result, String detail) {
        this.keyCheck = result;
        this.keyCheckDetail = detail;
    }

    /** The outcome; {@code notChecked} says why the key was not checked, when it was not. */
    KindHealth health(String notChecked) {
        BackupManifest newest = newest();
        return new KindHealth(
                kind,
                findings,
                all.size(),
                all.stream().mapToLong(BackupManifest::objectSize).sum(),
                newest,
                newest == null ? null : Duration.between(newest.completedAt(), skew.now()),
                lastVerification,
                lastPassedVerification,
                keyCheck,
                keyCheck == KindHealth.KeyCheck.NOT_CHECKED ? notChecked : keyCheckDetail,
                chains);
    }
}
