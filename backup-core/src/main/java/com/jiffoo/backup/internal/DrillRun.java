package com.jiffoo.backup.internal;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillReport.Check;
import com.jiffoo.backup.DrillReport.Phase;
import com.jiffoo.backup.DrillReport.Status;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.RestoreTarget;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;

/**
 * One run of a restore drill, the part every drill does the same way ({@code DatabaseDrill}, {@code FilesDrill},
 * {@code PitrDrill}): the start time and the RTO clock, the phases measured from a mark, the checks and findings, the
 * shutdown hook that cleans up when the process is stopped mid-drill, the cleanup phase, and the report judged against
 * the RTO target. What a drill restores into, and what it checks, stays the drill's.
 *
 * <p>Not thread-safe: one drill's thread uses it (the shutdown hook only runs the cleanup it was given).
 */
public final class DrillRun {
    /** The default recovery time objective of every drill: the runbook's 2 hours. */
    public static final Duration DEFAULT_RTO_TARGET = Duration.ofHours(2);
    /** The time in scratch names: {@code yyyyMMdd_HHmmss}, UTC. */
    public static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss");

    private final Instant startedAt;
    private final long t0;
    private final List<Phase> phases = new ArrayList<>();
    private final List<Check> checks = new ArrayList<>();
    private final List<String> findings = new ArrayList<>();
    private long mark;
    private Thread hook;

    private DrillRun(Clock clock) {
        this.startedAt = clock.instant();
        this.t0 = System.nanoTime();
        this.mark = t0; // the first phase counts from the start: the sweep of leftovers included
    }

    /** Starts the RTO clock; the report's start time is read from {@code clock}. */
    public static DrillRun start(Clock clock) {
        return new DrillRun(Objects.requireNonNull(clock, "clock"));
    }

    /** {@code at} as scratch names show it: {@code yyyyMMdd_HHmmss}, UTC. */
    public static String stamp(Instant at) {
        return STAMP.format(LocalDateTime.ofInstant(at, ZoneOffset.UTC));
    }

    /** Checks a recovery time objective given to a drill's builder: a positive duration. */
    public static Duration requireRtoTarget(Duration target) {
        if (target == null || target.isNegative() || target.isZero()) {
            throw new com.jiffoo.backup.ConfigurationException("The RTO target must be a positive duration, e.g. 2h.");
        }
        return target;
    }

    /** When the drill started, by the drill's clock. */
    public Instant startedAt() {
        return startedAt;
    }

    /** The phases so far, in order (a drill may add one it measured itself). */
    public List<Phase> phases() {
        return phases;
    }

    /** The checks so far, in order. */
    public List<Check> checks() {
        return checks;
    }

    /** The findings so far, in order. */
    public List<String> findings() {
        return findings;
    }

    /** Starts the next phase now. */
    public void mark() {
        mark = System.nanoTime();
    }

    /** The time since the phase started ({@link #mark()}; the start of the drill before the first mark). */
    public Duration sinceMark() {
        return Duration.ofNanos(System.nanoTime() - mark);
    }

    /** Ends the phase {@code name}: it took the time since {@link #mark()}. */
    public void endPhase(String name) {
        phases.add(new Phase(name, sinceMark()));
    }

    /**
     * Registers {@code cleanup} to run when the process is stopped (SIGTERM, Ctrl-C) while the drill runs; removed by
     * {@link #cleanUp}.
     */
    public void onStop(Runnable cleanup) {
        hook = new Thread(cleanup, "jiffoo-drill-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /**
     * What a drill's restore from a {@link DrillSource} gave.
     *
     * @param key      the backup located, or null when none was
     * @param restored the restore, or null when it failed the drill (a failed check says why)
     * @param store    the store that served it, else the source's description
     */
    public record Restore(String key, DrillSource.Restored restored, String store) {
        /** The manifest of the restored backup, or null. */
        public BackupManifest manifest() {
            return restored == null ? null : restored.result().manifest();
        }

        /** The backup's key for the report: the restored one's, else the one located. */
        public String backupKey() {
            return restored == null ? key : manifest().objectKey();
        }

        /** When the restored backup was made, or null. */
        public Instant backupAt() {
            return restored == null ? null : manifest().completedAt();
        }
    }

    /**
     * The phases {@code locate} and {@code restore}: locates the backup and restores it into {@code target}. A
     * restore that fails the drill ({@link DrillReport#failsTheDrill}) becomes a failed check and a finding; any other
     * failure is thrown.
     *
     * @param where      the scratch the restore goes into, for the log
     * @param onRestored what the drill records of a restore, before its {@code restore} check
     * @param size       what was restored, for the {@code restore} check ({@link DrillReport#restored})
     */
    public Restore restore(
            DrillSource source,
            Supplier<? extends RestoreTarget> target,
            Logger log,
            Object where,
            Consumer<DrillSource.Restored> onRestored,
            Function<BackupManifest, String> size) {
        String key = null;
        String store = source.describe();
        try {
            key = source.locate();
            endPhase("locate");
            log.info("drill: restoring {} from {} into {}", key, store, where);
            mark();
            DrillSource.Restored r = source.restore(key, target.get());
            endPhase("restore");
            onRestored.accept(r);
            DrillReport.restored(r, size.apply(r.result().manifest()), checks, findings);
            return new Restore(key, r, r.store());
        } catch (BackupException e) {
            if (!DrillReport.failsTheDrill(e)) {
                throw e;
            }
            endPhase(key == null ? "locate" : "restore");
            DrillReport.notRestored(key, e, checks, findings);
            return new Restore(key, null, store);
        }
    }

    /**
     * What a cleanup left behind.
     *
     * @param finding what the operator should do about it
     * @param detail  the failed {@code cleanup} check's detail
     */
    public record Left(String finding, String detail) {}

    /**
     * The phase {@code cleanup}: runs {@code cleanup} (null when nothing is left, else what is), then removes the
     * shutdown hook; what is left becomes a finding and a failed {@code cleanup} check.
     */
    public void cleanUp(Supplier<Left> cleanup) {
        mark();
        Left left = cleanup.get();
        endPhase("cleanup");
        if (hook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // shutting down: the hook runs (and finds the scratch cleaned up)
            }
        }
        if (left != null) {
            findings.add(left.finding());
            checks.add(new Check("cleanup", Status.FAILED, left.detail()));
        }
    }

    /**
     * The report: the total from the start to now (the end of the cleanup) is the measured RTO, judged against
     * {@code rtoTarget} with the checks ({@link DrillReport#judge}).
     */
    public DrillReport judge(
            String kind, String backupKey, Instant backupAt, String store, String scratch, Duration rtoTarget) {
        return DrillReport.judge(
                kind,
                startedAt,
                Processes.host(),
                backupKey,
                backupAt,
                store,
                scratch,
                phases,
                Duration.ofNanos(System.nanoTime() - t0),
                rtoTarget,
                checks,
                findings);
    }
}
