package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.PartialBackupException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.Source;
import com.jiffoo.backup.StoreFallback;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.files.DirectoryRestoreTarget;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.files.FilesDrill;
import com.jiffoo.backup.monitor.Alert;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.Notifier;
import com.jiffoo.backup.postgres.DatabaseDrill;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PostgresRestoreTarget;
import com.jiffoo.backup.postgres.PostgresSource;
import com.jiffoo.backup.retention.Pruner;
import com.jiffoo.backup.retention.Retention;
import com.jiffoo.backup.spring.BackupOperationListener.Operation;
import com.jiffoo.backup.store.StoreLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an application does with its backups, wired from the {@code jiffoo.backup.*} properties: back up the database
 * or the files, restore, verify, drill, check, prune. Inject it:
 *
 * <pre>{@code
 * @Service
 * class Nightly {
 *     private final JiffooBackup backups;
 *     Nightly(JiffooBackup backups) { this.backups = backups; }
 *     void run() {
 *         backups.backUpDatabase();
 *         backups.verifyLatest("database", true);
 *     }
 * }
 * }</pre>
 *
 * <p>Each operation is the library's own ({@link BackupPipeline}, {@link RestorePipeline},
 * {@link BackupMonitor#verifyBackupIntegrity}, {@link BackupMonitor#runHealthChecks}, {@link Pruner}); failures are
 * {@link BackupException}s with their {@link com.jiffoo.backup.ErrorCode}. Every outcome goes to the
 * {@link BackupOperationListener}s (metrics) and refreshes the cached {@link BackupStatus}. Thread-safe: operations
 * may run concurrently; the stores are shared and stay open until the context closes.
 */
public class JiffooBackup {
    private static final Logger log = LoggerFactory.getLogger(JiffooBackup.class);

    private final BackupStores stores;
    private final OpenPgpTransform pgp;
    private final BackupTrust trust;
    private final BackupMonitor monitor;
    private final List<BackupMonitor> copyMonitors;
    private final PgConnection database;
    private final Path sourceDirectory;
    private final Retention retention;
    private final BackupStatus status;
    private final List<BackupOperationListener> listeners;
    private volatile Drills drills = new Drills(null, null, Notifier.NONE);

    /**
     * How {@link #drill(String)} runs.
     *
     * @param rtoTarget        the RTO target, or null for the kind's default (2 hours)
     * @param scratchDirectory where a files drill restores (a new directory inside it), or null for the system's
     *                         temporary directory
     * @param notifier         told a drill that did not pass or could not run (Slack when configured)
     */
    public record Drills(Duration rtoTarget, Path scratchDirectory, Notifier notifier) {
        /** Null notifier: none. */
        public Drills {
            notifier = notifier == null ? Notifier.NONE : notifier;
        }
    }

    /**
     * The facade over configured parts; the auto-configuration builds it.
     *
     * @param stores          the store and its copies
     * @param pgp             encrypts new backups, decrypts restores and deep verifications
     * @param trust           what a stored backup must be to be read (authenticated, encrypted)
     * @param monitor         the monitor that verifies and checks (with the configured notifiers)
     * @param copyMonitors    one monitor per copy ({@link BackupStores#copies()}, in order) that verifies there when
     *                        the store cannot serve
     * @param database        the database {@link #backUpDatabase()} dumps, or {@code null}
     * @param sourceDirectory the directory {@link #backUpFiles()} archives, or {@code null}
     * @param retention       what {@link #prune(String, boolean)} keeps, or {@code null}
     * @param status          the cached report, invalidated after each operation
     * @param listeners       told every outcome
     */
    public JiffooBackup(
            BackupStores stores,
            OpenPgpTransform pgp,
            BackupTrust trust,
            BackupMonitor monitor,
            List<BackupMonitor> copyMonitors,
            PgConnection database,
            Path sourceDirectory,
            Retention retention,
            BackupStatus status,
            List<BackupOperationListener> listeners) {
        this.stores = Objects.requireNonNull(stores, "stores");
        this.pgp = Objects.requireNonNull(pgp, "pgp");
        this.trust = Objects.requireNonNull(trust, "trust");
        this.monitor = Objects.requireNonNull(monitor, "monitor");
        this.copyMonitors = List.copyOf(copyMonitors);
        if (this.copyMonitors.size() != stores.copies().size()) {
            throw new IllegalArgumentException("one copy monitor per copy: " + this.copyMonitors.size() + " for "
                    + stores.copies().size() + " copies");
        }
        this.database = database;
        this.sourceDirectory = sourceDirectory;
        this.retention = retention;
        this.status = Objects.requireNonNull(status, "status");
        this.listeners = List.copyOf(listeners);
    }

    /**
     * Dumps the configured database ({@code jiffoo.backup.database.*}) with pg_dump, encrypted, into the store and
     * its copies.
     *
     * @throws ConfigurationException when no database is configured
     * @throws PartialBackupException when some copies committed and others failed
     * @throws BackupException        when the dump or every store failed
     */
    public BackupManifest backUpDatabase() {
        if (database == null) {
            throw fail(
                    Operation.BACKUP,
                    "database",
                    0,
                    new ConfigurationException("no database is configured: set jiffoo.backup.database.name (and"
                            + " host, port, user, password) to back up a database."));
        }
        return backUp("database", () -> PostgresSource.builder(database).build());
    }

    /**
     * Archives the configured directory ({@code jiffoo.backup.files.source-directory}) as a tar, compressed and
     * encrypted, into the store and its copies.
     *
     * @throws ConfigurationException when no directory is configured or it is not a directory
     * @throws PartialBackupException when some copies committed and others failed
     * @throws BackupException        when reading or every store failed
     */
    public BackupManifest backUpFiles() {
        return backUp("files", () -> {
            if (sourceDirectory == null) {
                throw new ConfigurationException("no source directory is configured: set"
                        + " jiffoo.backup.files.source-directory to the directory to back up.");
            }
            if (!Files.isDirectory(sourceDirectory)) {
                throw new ConfigurationException("jiffoo.backup.files.source-directory is "
                        + sourceDirectory.toAbsolutePath() + ", which is not a directory; set it to the directory"
                        + " to back up.");
            }
            return DirectorySource.builder(sourceDirectory).build();
        });
    }

    /**
     * Backs up any source, encrypted, into the store and its copies.
     *
     * @throws BackupException as {@link BackupPipeline#run()}
     */
    public BackupManifest backUp(Source source) {
        return backUp(source.kind(), () -> source);
    }

    private BackupManifest backUp(String kind, Supplier<Source> source) {
        long started = System.nanoTime();
        try {
            BackupPipeline.Builder b = BackupPipeline.builder()
                    .source(source.get())
                    .encryption(pgp)
                    .sink(stores.store());
            stores.copies().forEach(b::copy);
            BackupManifest m = b.build().run();
            succeeded(Operation.BACKUP, kind, m, started);
            log.info("backed up {} as {} ({} bytes)", kind, m.objectKey(), m.objectSize());
            return m;
        } catch (BackupException e) {
            throw fail(Operation.BACKUP, kind, started, e);
        } finally {
            status.invalidate();
        }
    }

    /**
     * Restores a backup into {@code target}: from the store, or, when the store cannot serve it (unreachable, the
     * backup missing or damaged there), from the first copy that can, as the command line does. The target keeps its
     * previous content when it fails.
     *
     * @param key    the backup's data, sidecar or manifest key, e.g. {@code files/files_backup_20260111_020000.tar.gz.gpg}
     * @param target where to restore (a {@link DirectoryRestoreTarget}, a {@link PostgresRestoreTarget}, ...)
     * @throws BackupException as {@link RestorePipeline#restore(String)}
     */
    public RestoreResult restore(String key, RestoreTarget target) {
        String kind = kindOf(key);
        return restore(
                kind,
                () -> StoreFallback.first(
                                stores.all(),
                                "restore",
                                store -> pipeline(store, target).restore(key))
                        .value());
    }

    /**
     * Restores the newest trusted backup of {@code kind} into {@code target}: with copies, the newest in any store
     * (one may have missed the last backup), read from the store or the first copy that can serve it.
     *
     * @throws NotFoundException when no store holds one
     * @throws BackupException   as {@link RestorePipeline#restoreLatest(String)}
     */
    public RestoreResult restoreLatest(String kind, RestoreTarget target) {
        return restore(kind, () -> {
            String key = stores.all().size() > 1
                    ? StoreFallback.newest(stores.all(), kind, trust).orElse(null)
                    : null;
            return StoreFallback.first(
                            stores.all(),
                            "restore",
                            store -> key != null
                                    ? pipeline(store, target).restore(key)
                                    : pipeline(store, target).restoreLatest(kind))
                    .value();
        });
    }

    /**
     * Restores a files backup into the directory {@code target} (created or, when it exists, replaced only after the
     * whole archive was verified).
     *
     * @param key    the backup's key, or {@code null} for the newest
     * @param target the directory
     */
    public RestoreResult restoreFiles(String key, Path target) {
        RestoreTarget t =
                DirectoryRestoreTarget.builder(target).replaceExisting(true).build();
        return key == null ? restoreLatest("files", t) : restore(key, t);
    }

    /**
     * Restores a database backup into a new database {@code name} on the configured server (never over the
     * application's own database).
     *
     * @param key  the backup's key, or {@code null} for the newest
     * @param name the new database's name
     * @throws ConfigurationException when no database is configured
     */
    public RestoreResult restoreDatabaseAs(String key, String name) {
        if (database == null) {
            throw fail(
                    Operation.RESTORE,
                    "database",
                    System.nanoTime(),
                    new ConfigurationException(
                            "no database server is configured: set jiffoo.backup.database.* to restore a database."));
        }
        RestoreTarget t = PostgresRestoreTarget.newDatabase(database, name);
        return key == null ? restoreLatest("database", t) : restore(key, t);
    }

    private RestorePipeline pipeline(Sink store, RestoreTarget target) {
        return RestorePipeline.builder()
                .sink(store)
                .protect(stores.all())
                .decryption(pgp)
                .trust(trust)
                .target(target)
                .build();
    }

    private RestoreResult restore(String kind, Supplier<RestoreResult> run) {
        long started = System.nanoTime();
        try {
            RestoreResult r = run.get();
            succeeded(Operation.RESTORE, kind, r.manifest(), started);
            return r;
        } catch (BackupException e) {
            throw fail(Operation.RESTORE, kind, started, e);
        }
    }

    /**
     * Verifies one backup of the store and records the outcome there: deep (decrypted and its inner format checked)
     * or quick (stored bytes against checksum and manifest). A verification that finds the backup bad is returned
     * (and alerted, and counted as a failure), not thrown. When the store cannot be read or does not hold the backup,
     * the first copy that does verifies it (and records the outcome in that copy), as the command line does.
     *
     * @throws BackupException when the verification could not run anywhere (no such backup, stores unreachable)
     */
    public VerificationRecord verify(String key, boolean deep) {
        String kind = kindOf(key);
        long started = System.nanoTime();
        try {
            StoreFallback.Served<VerificationRecord> served = StoreFallback.first(
                    stores.all(), "verify", store -> monitorOf(store).verifyBackupIntegrity(key, deep));
            VerificationRecord r = served.value();
            Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
            if (r.passed()) {
                BackupManifest m = StoredBackups.of(served.store(), trust).manifest(key);
                listeners.forEach(l -> call(() -> l.succeeded(Operation.VERIFY, kind, m, elapsed)));
            } else {
                listeners.forEach(l -> call(() -> l.failed(Operation.VERIFY, kind, r.errorCode(), elapsed)));
            }
            return r;
        } catch (BackupException e) {
            throw fail(Operation.VERIFY, kind, started, e);
        } finally {
            status.invalidate();
        }
    }

    /**
     * Verifies the newest trusted backup of {@code kind} (with copies: the newest in any store); see
     * {@link #verify(String, boolean)}.
     *
     * @throws NotFoundException when no store holds one
     */
    public VerificationRecord verifyLatest(String kind, boolean deep) {
        String newest;
        if (stores.all().size() > 1) {
            newest = StoreFallback.newest(stores.all(), kind, trust)
                    .orElseThrow(() -> new NotFoundException("No committed " + kind + " backup in "
                            + stores.store().location() + " or its copies to verify (or none could be listed)."));
        } else {
            newest = StoredBackups.of(stores.store(), trust)
                    .scan(kind)
                    .latestTrusted()
                    .orElseThrow(() -> new NotFoundException("No committed " + kind + " backup in "
                            + stores.store().location() + " to verify."))
                    .objectKey();
        }
        return verify(newest, deep);
    }

    private BackupMonitor monitorOf(Sink store) {
        int i = stores.copies().indexOf(store);
        return i < 0 ? monitor : copyMonitors.get(i);
    }

    /**
     * Runs the monitor's health checks now (alerting through Slack when configured, recording the report in the
     * store) and refreshes the cached status with a fresh report.
     */
    public HealthReport check() {
        try {
            return monitor.runHealthChecks();
        } finally {
            status.invalidate();
        }
    }

    /**
     * Deletes the backups of {@code kind} the retention rules ({@code jiffoo.backup.retention.*}) no longer keep, in
     * the store (copies keep their own retention: prune them where they are administered).
     *
     * @param dryRun only report what would be deleted
     * @throws ConfigurationException when no retention rule is configured
     */
    public Pruner.PruneReport prune(String kind, boolean dryRun) {
        return prune(kind, dryRun, () -> {});
    }

    /**
     * As {@link #prune(String, boolean)}, running {@code beforeDeleting} before each deletion
     * ({@link Pruner.Builder#beforeDeleting}): the prune job checks there that it still holds its lock.
     */
    Pruner.PruneReport prune(String kind, boolean dryRun, Runnable beforeDeleting) {
        if (retention == null) {
            throw new ConfigurationException("no retention rule is configured: set jiffoo.backup.retention.keep-daily"
                    + " (or keep-within, keep-last, keep-weekly, keep-monthly) to prune.");
        }
        try {
            return Pruner.builder()
                    .sink(stores.store())
                    .trust(trust)
                    .policy(retention)
                    .beforeDeleting(beforeDeleting)
                    .build()
                    .prune(kind, dryRun);
        } finally {
            status.invalidate();
        }
    }

    /** Sets how {@link #drill(String)} runs (the auto-configuration does, from {@code jiffoo.backup.drill.*}). */
    public void drills(Drills drills) {
        this.drills = Objects.requireNonNull(drills, "drills");
    }

    /**
     * A restore drill of the newest backup of {@code kind} ({@code files}: {@link FilesDrill} into a scratch
     * directory; {@code database}: {@link DatabaseDrill} into a scratch database on the configured server), read from
     * the store or, when it cannot serve, a copy, as {@link #restore} does. The report is stored in the first store
     * that takes it (the store, else a copy), where the monitor, the health and the meters find it; a drill that did
     * not pass is sent to the notifier and counted as a failure ({@code EXIT_12} failed, {@code EXIT_13} over the RTO
     * target, as the command line's exit codes).
     *
     * @return the report (its {@link DrillReport#outcome()} says whether it passed)
     * @throws ConfigurationException when the kind cannot be drilled (not database or files; no database configured)
     * @throws BackupException        when the drill could not run (no backup, stores or server unreachable) or its
     *                                report could not be stored anywhere
     */
    public DrillReport drill(String kind) {
        long started = System.nanoTime();
        Drills d = drills;
        try {
            DrillSource source = new FallbackDrillSource(kind);
            DrillReport report = switch (kind) {
                case "files" -> {
                    FilesDrill.Builder b = FilesDrill.builder().source(source);
                    if (d.rtoTarget() != null) {
                        b.rtoTarget(d.rtoTarget());
                    }
                    if (d.scratchDirectory() != null) {
                        b.scratchParent(d.scratchDirectory());
                    }
                    yield b.build().run();
                }
                case "database" -> {
                    if (database == null) {
                        throw new ConfigurationException("no database server is configured: set"
                                + " jiffoo.backup.database.* to drill database backups.");
                    }
                    DatabaseDrill.Builder b = DatabaseDrill.builder()
                            .server(database.withDatabase("postgres"))
                            .source(source);
                    if (d.rtoTarget() != null) {
                        b.rtoTarget(d.rtoTarget());
                    }
                    yield b.build().run();
                }
                default ->
                    throw new ConfigurationException(
                            "no drill for backups of kind " + kind + ": drills restore database or files backups.");
            };
            storeReport(report);
            Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
            if (report.passed()) {
                log.info(
                        "restore drill of {} passed: {} in {}",
                        kind,
                        report.backupKey(),
                        DrillReport.human(report.total()));
                BackupManifest m = StoredBackups.of(
                                stores.all().stream()
                                        .filter(s -> s.location().equals(report.store()))
                                        .findFirst()
                                        .orElse(stores.store()),
                                trust)
                        .manifest(report.backupKey());
                listeners.forEach(l -> call(() -> l.succeeded(Operation.DRILL, kind, m, elapsed)));
            } else {
                log.error("restore drill of {} {}: {}", kind, report.outcome().label(), report.findings());
                String code = "EXIT_" + report.outcome().exitCode();
                listeners.forEach(l -> call(() -> l.failed(Operation.DRILL, kind, code, elapsed)));
                alert(d.notifier(), report.toAlert());
            }
            return report;
        } catch (BackupException e) {
            if (e.code() != com.jiffoo.backup.ErrorCode.CONFIGURATION) {
                alert(
                        d.notifier(),
                        new Alert(
                                HealthStatus.CRITICAL,
                                false,
                                "jiffoo-backup " + kind + " restore drill COULD NOT RUN: "
                                        + stores.store().location(),
                                List.of(e.getMessage()),
                                null));
            }
            throw fail(Operation.DRILL, kind, started, e);
        } finally {
            status.invalidate();
        }
    }

    private static void alert(Notifier notifier, Alert alert) {
        try {
            notifier.send(alert);
        } catch (java.io.IOException | RuntimeException e) {
            log.error("the drill's alert could not be sent to {}: {}", notifier.describe(), e.getMessage());
        }
    }

    /** Stores the report in the first store that takes it: the store, else each copy. */
    private void storeReport(DrillReport report) {
        BackupException first = null;
        for (Sink store : stores.all()) {
            try {
                String key = report.storeIn(store, trust);
                log.info("drill report stored as {} in {}", key, store.location());
                return;
            } catch (BackupException e) {
                log.warn("could not store the drill report in {}: {}", store.location(), e.getMessage());
                if (first == null) {
                    first = e;
                }
            }
        }
        throw first;
    }

    /** The newest (or the named) backup, read from the store or a copy ({@link StoreFallback}). */
    private final class FallbackDrillSource implements DrillSource {
        private final String kind;

        FallbackDrillSource(String kind) {
            this.kind = kind;
        }

        @Override
        public String locate() {
            if (stores.all().size() > 1) {
                java.util.Optional<String> newest = StoreFallback.newest(stores.all(), kind, trust);
                if (newest.isPresent()) {
                    return newest.get();
                }
            }
            return StoreFallback.first(
                            stores.all(),
                            "drill",
                            store -> StoredBackups.of(store, trust)
                                    .scan(kind)
                                    .latestTrusted()
                                    .map(BackupManifest::objectKey)
                                    .orElseThrow(() -> new NotFoundException(
                                            "No committed " + kind + " backup in " + store.location() + " to drill.",
                                            null,
                                            store.location(),
                                            null)))
                    .value();
        }

        @Override
        public Restored restore(String key, RestoreTarget target) {
            StoreFallback.Served<RestoreResult> served = StoreFallback.first(
                    stores.all(), "drill", store -> pipeline(store, target).restore(key));
            List<StoreFailure> failures = served.failures().stream()
                    .map(f -> new StoreFailure(
                            f.store().location(), f.error().code(), f.error().getMessage()))
                    .toList();
            return new Restored(served.value(), served.store().location(), failures);
        }

        @Override
        public String describe() {
            return stores.store().location();
        }
    }

    /** The store and its copies. */
    public BackupStores stores() {
        return stores;
    }

    private static String kindOf(String key) {
        try {
            return StoreLayout.kindOf(StoreLayout.dataKeyOf(key));
        } catch (RuntimeException e) {
            return "unknown";
        }
    }

    private void succeeded(Operation op, String kind, BackupManifest m, long started) {
        Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
        listeners.forEach(l -> call(() -> l.succeeded(op, kind, m, elapsed)));
    }

    /** Tells the listeners that {@code e} failed the operation; returns it to be thrown. */
    private BackupException fail(Operation op, String kind, long started, BackupException e) {
        Duration elapsed = started == 0 ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - started);
        String code = BackupOperationListener.codeOf(e);
        listeners.forEach(l -> call(() -> l.failed(op, kind, code, elapsed)));
        return e;
    }

    private static void call(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            log.warn("a backup operation listener failed: {}", e.toString());
        }
    }
}
