package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.VerificationRecord;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.scheduling.concurrent.ThreadPoolTaskScheduler;
import org.springframework.scheduling.support.CronExpression;
import org.springframework.scheduling.support.CronTrigger;

/**
 * The scheduled backup jobs ({@code jiffoo.backup.schedule.*}): each configured job runs on its cron expression on a
 * scheduler of its own (Spring's {@link ThreadPoolTaskScheduler}, one thread per job, stopped with the context),
 * whether or not the application uses {@code @EnableScheduling}. Nothing is scheduled without a cron expression.
 *
 * <p><b>Replicas.</b> Before a run, the job takes a PostgreSQL session-level advisory lock
 * ({@code pg_try_advisory_lock}) on a connection of its own to the application's database, keyed by the store and the
 * job's name ({@link AdvisoryLock#key}); it keeps that connection for the whole run and releases the lock in a
 * {@code finally}. A replica that does not get the lock skips the run and logs at INFO that another replica runs it;
 * the {@link BackupOperationListener}s are told ({@code jiffoo_backup_scheduled_runs_total{outcome="skipped"}}).
 * While the job runs, the lock's connection is checked every {@code lock.check-interval}; once it is found dead the
 * server has released the lock, and the run no longer counts as holding it (a warning says another replica may start
 * the job). The {@code prune} job asks before each kind and each deletion, and stops at the first loss: the run
 * fails and deletes nothing more, since another replica may be pruning.
 *
 * <p>{@link #run(String)} runs a job now, under the same lock; {@link #runExclusively(String, Runnable)} runs the
 * application's own work under a lock of that name. Thread-safe.
 */
public final class BackupJobs implements SmartLifecycle {
    private static final Logger log = LoggerFactory.getLogger(BackupJobs.class);

    /** How a run ended. */
    public enum Outcome {
        /** The job ran and succeeded. */
        RAN,
        /** Another replica (or another run here) held the lock: not run. */
        SKIPPED,
        /** The job ran and failed. */
        FAILED,
        /** The lock could not be asked for (the database is unreachable): not run. */
        LOCK_FAILED;

        /** The label of the meters: {@code ran}, {@code skipped}, {@code failed}, {@code lock_failed}. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Where the lock's connections come from: the application's database.
     */
    @FunctionalInterface
    public interface LockConnections {
        /** A new connection (or one from a pool) that the lock then owns until it closes it. */
        Connection open() throws SQLException;
    }

    /**
     * One run.
     *
     * @param job       the job's name
     * @param outcome   how it ended
     * @param elapsed   how long it ran (zero when skipped)
     * @param error     why it failed, or null
     * @param lockLost  true when the lock's connection was found dead during the run
     */
    public record Run(String job, Outcome outcome, Duration elapsed, RuntimeException error, boolean lockLost) {}

    private final JiffooBackup backups;
    private final Map<String, String> crons;
    private final ZoneId zone;
    private final boolean verifyDeep;
    private final List<String> kinds;
    private final LockConnections connections;
    private final String lockNamespace;
    private final Duration checkInterval;
    private volatile Duration minHold = Duration.ZERO;
    private final java.util.concurrent.CountDownLatch stopping = new java.util.concurrent.CountDownLatch(1);
    private final List<BackupOperationListener> listeners;
    private ThreadPoolTaskScheduler scheduler; // guarded by this
    private ScheduledExecutorService watchdog; // guarded by this
    private final List<ScheduledFuture<?>> scheduled = new ArrayList<>(); // guarded by this

    /**
     * The jobs; the auto-configuration builds them.
     *
     * @param backups       the facade the jobs call
     * @param crons         cron expression by job name ({@code database}, {@code files}, {@code verify},
     *                      {@code prune}, {@code drill}, {@code monitor}); empty: nothing scheduled
     * @param zone          the cron expressions' zone, or null for the system's
     * @param verifyDeep    whether the {@code verify} job verifies deep
     * @param kinds         the kinds the {@code verify}, {@code prune} and {@code drill} jobs go through
     * @param connections   the lock's connections, or null to run without a lock (a single instance)
     * @param lockNamespace what the lock keys are derived from besides the job's name: the opened store's
     *                      {@link com.jiffoo.backup.Sink#location()}, the same however the store is spelled
     * @param checkInterval how often a running job checks its lock's connection
     * @param listeners     told skipped and finished runs
     * @throws ConfigurationException naming the property when a cron expression or the zone is wrong
     */
    public BackupJobs(
            JiffooBackup backups,
            Map<String, String> crons,
            ZoneId zone,
            boolean verifyDeep,
            List<String> kinds,
            LockConnections connections,
            String lockNamespace,
            Duration checkInterval,
            List<BackupOperationListener> listeners) {
        this.backups = Objects.requireNonNull(backups, "backups");
        this.crons = new LinkedHashMap<>(crons);
        this.zone = zone;
        this.verifyDeep = verifyDeep;
        this.kinds = List.copyOf(kinds);
        this.connections = connections;
        this.lockNamespace = Objects.requireNonNull(lockNamespace, "lockNamespace");
        this.checkInterval = Objects.requireNonNull(checkInterval, "checkInterval");
        this.listeners = List.copyOf(listeners);
        for (Map.Entry<String, String> e : this.crons.entrySet()) {
            if (!JOBS.contains(e.getKey())) {
                throw new ConfigurationException("jiffoo.backup.schedule." + e.getKey() + " is not a job; the jobs are "
                        + String.join(", ", JOBS) + ".");
            }
            if (!CronExpression.isValidExpression(e.getValue())) {
                throw new ConfigurationException("jiffoo.backup.schedule." + e.getKey() + " is '" + e.getValue()
                        + "', which is not a cron expression: give Spring's six fields, second minute hour"
                        + " day-of-month month day-of-week, e.g. 0 0 2 * * * for 02:00 every day.");
            }
        }
    }

    /** The jobs there are. */
    public static final List<String> JOBS = List.of("database", "files", "verify", "prune", "drill", "monitor");

    /** The scheduled jobs and their cron expressions. */
    public Map<String, String> schedule() {
        return java.util.Collections.unmodifiableMap(crons);
    }

    /** The advisory lock key of a job (as {@code pg_locks} shows it: classid is its high, objid its low 32 bits). */
    public long lockKey(String job) {
        return AdvisoryLock.key(lockNamespace + "#" + job);
    }

    /**
     * Runs a job now, under its lock: the same as its scheduled run.
     *
     * @param job {@code database}, {@code files}, {@code verify}, {@code prune}, {@code drill} or {@code monitor}
     */
    public Run run(String job) {
        return run(job, Duration.ZERO);
    }

    private Run run(String job, Duration hold) {
        if (!JOBS.contains(job)) {
            throw new IllegalArgumentException("no backup job " + job + "; the jobs are " + String.join(", ", JOBS));
        }
        return runExclusively(job, stillHeld -> work(job, stillHeld), hold);
    }

    /**
     * How long a scheduled run holds its lock at least, from its start: a run that ends sooner keeps the lock for the
     * rest of it, so that a replica whose clock is a little behind, and whose run of the same cron time starts only
     * after this one ended, finds the lock held and skips, instead of running the job a second time. Zero: released
     * at once. Only scheduled runs hold it ({@link #run(String)} and {@link #runExclusively} release at once);
     * stopping the context ends the hold.
     */
    public void minHold(Duration minHold) {
        this.minHold = Objects.requireNonNull(minHold, "minHold");
    }

    /**
     * Runs {@code work} when the lock of {@code name} can be taken, else skips it (told to the listeners and logged
     * at INFO). A failure of {@code work} is logged and returned, not thrown.
     */
    public Run runExclusively(String name, Runnable work) {
        return runExclusively(name, stillHeld -> work.run(), Duration.ZERO);
    }

    /**
     * As {@link #runExclusively(String, Runnable)}; {@code work} is given a check that asks the server whether the
     * lock's session is still alive and throws {@link LockLost} when it is not (a no-op without a lock).
     */
    private Run runExclusively(String name, java.util.function.Consumer<Runnable> work, Duration hold) {
        AdvisoryLock lock = null;
        if (connections != null) {
            try {
                Optional<AdvisoryLock> taken =
                        AdvisoryLock.tryTake(connections.open(), lockNamespace + "#" + name, name);
                if (taken.isEmpty()) {
                    log.info(
                            "backup job {}: skipped, another replica runs it (it holds the advisory lock {})",
                            name,
                            lockKey(name));
                    return finished(new Run(name, Outcome.SKIPPED, Duration.ZERO, null, false));
                }
                lock = taken.get();
            } catch (SQLException | RuntimeException e) {
                log.error(
                        "backup job {}: not run, the advisory lock could not be asked for on the application's"
                                + " database: {}",
                        name,
                        e.getMessage());
                return finished(new Run(
                        name,
                        Outcome.LOCK_FAILED,
                        Duration.ZERO,
                        e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e),
                        false));
            }
        }
        long started = System.nanoTime();
        ScheduledFuture<?> watching = lock == null ? null : watch(lock);
        RuntimeException error = null;
        long ended = started;
        boolean lost = false;
        try {
            log.info("backup job {}: started", name);
            AdvisoryLock held = lock;
            Runnable stillHeld = held == null
                    ? () -> {}
                    : () -> {
                        if (!held.check(5)) {
                            throw new LockLost(name, held.key());
                        }
                    };
            try {
                work.accept(stillHeld);
            } catch (RuntimeException e) {
                error = e;
            }
            ended = System.nanoTime();
            holdRest(lock, started, hold);
        } finally {
            if (watching != null) {
                watching.cancel(false);
            }
            if (lock != null) { // released whatever happened, an Error too
                lost = !lock.check(5);
                lock.close();
            }
        }
        Duration elapsed = Duration.ofNanos(ended - started);
        if (error == null) {
            log.info("backup job {}: done in {} ms", name, elapsed.toMillis());
        } else {
            log.error(
                    "backup job {}: FAILED after {} ms: {}",
                    name,
                    elapsed.toMillis(),
                    error instanceof BackupException b ? b.code() + ": " + b.getMessage() : error.toString());
        }
        return finished(new Run(name, error == null ? Outcome.RAN : Outcome.FAILED, elapsed, error, lost));
    }

    /** Keeps the lock until {@code hold} has passed since {@code started} (or the context stops). */
    private void holdRest(AdvisoryLock lock, long started, Duration hold) {
        long rest = hold.toNanos() - (System.nanoTime() - started);
        if (lock == null || rest <= 0) {
            return;
        }
        try {
            stopping.await(rest, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private synchronized ScheduledFuture<?> watch(AdvisoryLock lock) {
        if (watchdog == null) {
            watchdog = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "jiffoo-backup-lock-watch");
                t.setDaemon(true);
                return t;
            });
        }
        long ms = Math.max(100, checkInterval.toMillis());
        return watchdog.scheduleWithFixedDelay(() -> lock.check(5), ms, ms, TimeUnit.MILLISECONDS);
    }

    private Run finished(Run run) {
        for (BackupOperationListener l : listeners) {
            try {
                l.scheduled(run.job(), run.outcome());
            } catch (RuntimeException e) {
                log.warn("a backup operation listener failed: {}", e.toString());
            }
        }
        return run;
    }

    /**
     * A running job found its advisory lock lost (the connection that held it died, so the server released it):
     * another replica may be running the same job now, so the job stops before it deletes anything more.
     */
    static final class LockLost extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        LockLost(String job, long key) {
            super("backup job " + job + " lost its advisory lock (key " + key + "): the database connection that held"
                    + " it died and the server released the lock, so another replica may be running " + job + " now;"
                    + " stopped before deleting anything more (what was deleted before stays deleted; the next run"
                    + " prunes the rest).");
        }
    }

    /**
     * What each job does; {@code stillHeld} throws {@link LockLost} once the job's lock is lost: the prune job asks it
     * before each kind and before each deletion, and stops at the first loss.
     */
    private void work(String job, Runnable stillHeld) {
        switch (job) {
            case "database" -> backups.backUpDatabase();
            case "files" -> backups.backUpFiles();
            case "monitor" -> backups.check();
            case "verify" ->
                eachKind(job, kind -> {
                    VerificationRecord r = backups.verifyLatest(kind, verifyDeep);
                    if (!r.passed()) {
                        throw BackupException.of(
                                com.jiffoo.backup.ErrorCode.INTEGRITY,
                                "the newest " + kind + " backup " + r.objectKey() + " failed its verification: "
                                        + r.message(),
                                r.objectKey(),
                                null,
                                null);
                    }
                });
            case "prune" ->
                eachKind(job, kind -> {
                    stillHeld.run();
                    backups.prune(kind, false, stillHeld);
                });
            case "drill" ->
                eachKind(job, kind -> {
                    if (!kind.equals("database") && !kind.equals("files")) {
                        return; // drills restore database and files backups
                    }
                    com.jiffoo.backup.DrillReport r = backups.drill(kind);
                    if (!r.passed()) {
                        throw BackupException.of(
                                com.jiffoo.backup.ErrorCode.INTEGRITY,
                                "the " + kind + " restore drill " + r.outcome().label() + ": " + r.findings(),
                                r.backupKey(),
                                null,
                                null);
                    }
                });
            default -> throw new IllegalArgumentException(job);
        }
    }

    /**
     * Runs {@code step} for every kind, all of them even when one fails; throws the first failure. A lost lock
     * ({@link LockLost}) ends it at once: the kinds after it are not run.
     */
    private void eachKind(String job, java.util.function.Consumer<String> step) {
        RuntimeException first = null;
        for (String kind : kinds) {
            try {
                step.accept(kind);
            } catch (LockLost e) {
                if (first != null) {
                    e.addSuppressed(first);
                }
                throw e;
            } catch (RuntimeException e) {
                log.warn("backup job {}: {} failed: {}", job, kind, e.getMessage());
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public synchronized void start() {
        if (scheduler != null || crons.isEmpty()) {
            return;
        }
        ThreadPoolTaskScheduler s = new ThreadPoolTaskScheduler();
        s.setPoolSize(crons.size());
        s.setThreadNamePrefix("jiffoo-backup-");
        s.setDaemon(true);
        // at shutdown a running job is left to finish (not interrupted), for at most 30 s; then the context goes on
        // closing (the stores), which fails what still runs, and its lock goes with its connection
        s.setWaitForTasksToCompleteOnShutdown(true);
        s.setAwaitTerminationSeconds(30);
        s.setErrorHandler(e -> log.error("backup job failed: {}", e.toString()));
        s.initialize();
        for (Map.Entry<String, String> e : crons.entrySet()) {
            String job = e.getKey();
            CronTrigger trigger = zone == null ? new CronTrigger(e.getValue()) : new CronTrigger(e.getValue(), zone);
            scheduled.add(s.schedule(() -> run(job, minHold), trigger));
            log.info("backup job {} scheduled: {}{}", job, e.getValue(), zone == null ? "" : " (" + zone + ")");
        }
        scheduler = s;
    }

    @Override
    public synchronized void stop() {
        stopping.countDown(); // scheduled runs holding their lock past their end release it now
        scheduled.forEach(f -> f.cancel(false));
        scheduled.clear();
        if (scheduler != null) {
            scheduler.shutdown();
            scheduler = null;
        }
        if (watchdog != null) {
            watchdog.shutdownNow();
            watchdog = null;
        }
    }

    @Override
    public synchronized boolean isRunning() {
        return scheduler != null;
    }
}
