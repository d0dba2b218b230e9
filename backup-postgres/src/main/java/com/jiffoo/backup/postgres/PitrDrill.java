package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillReport.Check;
import com.jiffoo.backup.DrillReport.Phase;
import com.jiffoo.backup.DrillReport.Status;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.Transform;
import com.jiffoo.backup.internal.DrillRun;
import com.jiffoo.backup.internal.LocalPaths;
import com.jiffoo.backup.internal.Processes;
import com.jiffoo.backup.internal.ScratchDirectories;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A restore drill through point-in-time recovery: restores a base backup and replays the archived WAL up to a time
 * ({@link Builder#asOf}) or to the end of the archive, in a <b>scratch cluster</b> — a new data directory in a scratch
 * directory, started on a free port of 127.0.0.1 — then checks what came back, measures the recovery time and the
 * achieved recovery point, and stops the server and removes the scratch directory whatever happened.
 *
 * <h2>What it does</h2>
 * <ol>
 *   <li><b>Sweep</b>: removes scratch directories ({@code jiffoo_drill_pitr_*} in the scratch parent) of earlier drills
 *       whose process is gone (this host) or that are older than a day, stopping a server still running on them.</li>
 *   <li><b>locate</b> and <b>restore</b>: {@link PitrRestore} through the {@link Source} — the base backup that ended
 *       before the target (or the one named), the archive's continuity checked before anything is extracted, the
 *       restore_command tried, the base backup downloaded, decrypted and extracted into {@code <scratch>/data} (given
 *       to the server's OS user when root). A target before the end of every base backup, or not before the archiving
 *       of the newest archived segment, is refused as a {@link ConfigurationException}
 *       ({@link PitrRestore.Builder#refuseUnreachable}).</li>
 *   <li><b>recovery</b>: {@link RecoveryServer} starts the server ({@code listen_addresses=127.0.0.1}, no Unix
 *       socket, {@code archive_mode=off}: it never archives into the cluster's archive) and waits until it paused at
 *       the target and was promoted, or replayed to the end of the archive.</li>
 *   <li><b>checks</b>: {@code recovery-point} (the commit time of the last replayed transaction,
 *       {@code pg_last_xact_replay_timestamp()}, must not be after the target; the RPO is the time between them);
 *       {@code row-counts} not applicable (a base backup records none; said so); {@code full-read} and
 *       {@code amcheck} in every database that takes connections; the smoke queries in {@link Builder#smokeDatabase}.</li>
 *   <li><b>cleanup</b>: {@code pg_ctl stop -m immediate}, the scratch directory deleted, both checked; also from a
 *       JVM shutdown hook when the process is stopped (SIGTERM, Ctrl-C).</li>
 * </ol>
 *
 * <pre>{@code
 * DrillReport r = PitrDrill.builder()
 *         .source(PitrDrill.Source.of(store, pgp, trust, "/opt/jiffoo/jiffoo-backup wal-fetch --store … %f %p"))
 *         .asOf("2026-12-02 03:00:00+00")
 *         .smokeQueries(List.of("SELECT 1 FROM orders WHERE created_at > '2026-12-01'"))
 *         .build()
 *         .run();
 * }</pre>
 *
 * <p>Immutable; {@link #run()} may be called again (each run makes a new scratch directory).
 */
public final class PitrDrill {
    private static final Logger log = LoggerFactory.getLogger(PitrDrill.class);

    /** The prefix of every scratch directory's name. */
    public static final String SCRATCH_PREFIX = "jiffoo_drill_pitr_";
    /** Scratch directories of earlier drills older than this are removed by the next drill's sweep. */
    public static final Duration LEFTOVER_AGE = Duration.ofDays(1);
    /** In the scratch directory: the pid, start and host of the drill's process. */
    static final String OWNER_FILE = "jiffoo-drill.owner";

    /**
     * Where the base backup and the WAL come from: restores a base backup into a data directory with its recovery
     * settings, by a {@link PitrRestore} made for the store that serves it.
     */
    public interface Source {
        /**
         * Restores into {@code dataDirectory}: a {@link PitrRestore.Builder} for the store (its decryption, trust and
         * restore_command set), {@code drill} applied to it (target, action, backup, refusals), built and run.
         *
         * @throws BackupException as {@link PitrRestore#run()} does
         */
        Restored restore(Path dataDirectory, UnaryOperator<PitrRestore.Builder> drill);

        /** The store (or stores) read, for the report; never a secret. */
        String describe();

        /**
         * A source reading one store, whose archive the {@code restoreCommand} fetches from when {@code checkArchive}
         * (then the archive's continuity and reach are checked before the extraction).
         */
        static Source of(
                Sink store, Transform decryption, BackupTrust trust, String restoreCommand, boolean checkArchive) {
            Objects.requireNonNull(store, "store");
            Objects.requireNonNull(decryption, "decryption");
            Objects.requireNonNull(trust, "trust");
            Objects.requireNonNull(restoreCommand, "restoreCommand");
            return new Source() {
                @Override
                public Restored restore(Path dataDirectory, UnaryOperator<PitrRestore.Builder> drill) {
                    PitrRestore.Builder b = PitrRestore.builder(store, decryption, dataDirectory)
                            .trust(trust)
                            .restoreCommand(restoreCommand)
                            .checkArchive(checkArchive);
                    return new Restored(drill.apply(b).build().run(), store.location(), List.of());
                }

                @Override
                public String describe() {
                    return store.location();
                }
            };
        }
    }

    /**
     * A point-in-time restore a drill made.
     *
     * @param result        what the restore did (the base backup, the settings, the archive's reach)
     * @param store         the location of the store that served it
     * @param storeFailures the stores tried before it that could not serve, and why
     */
    public record Restored(PitrRestore.Result result, String store, List<DrillSource.StoreFailure> storeFailures) {
        /** Copies the list. */
        public Restored {
            Objects.requireNonNull(result, "result");
            storeFailures = List.copyOf(storeFailures);
        }
    }

    private final Source source;
    private final RecoveryTarget target;
    private final String backup;
    private final Path scratchParent;
    private final int port;
    private final Path binDirectory;
    private final PgConnection connection;
    private final List<String> smokeQueries;
    private final String smokeDatabase;
    private final Duration rtoTarget;
    private final Duration recoveryTimeout;
    private final Clock clock;

    private PitrDrill(Builder b) {
        this.source = Objects.requireNonNull(b.source, "source(...) is required");
        this.target = b.target;
        this.backup = b.backup;
        this.scratchParent = b.scratchParent;
        this.port = b.port;
        this.binDirectory = b.binDirectory;
        this.connection = b.connection;
        this.smokeQueries = List.copyOf(b.smokeQueries);
        this.smokeDatabase = b.smokeDatabase;
        this.rtoTarget = b.rtoTarget;
        this.recoveryTimeout = b.recoveryTimeout;
        this.clock = b.clock;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Runs the drill.
     *
     * @return the report, with {@link DrillReport#recovery()}: {@link DrillReport.Outcome#FAILED} when the base backup
     *         did not restore (damaged, none, the key does not open it, the archive misses WAL), recovery failed, or a
     *         check failed
     * @throws BackupException when the drill could not run: a target outside what the store can recover, the scratch
     *                         directory cannot be made, the store cannot be read, no pg_ctl of the data's version. The
     *                         server is stopped and the scratch directory removed in every case.
     */
    public DrillReport run() {
        DrillRun run = DrillRun.start(clock);
        List<Check> checks = run.checks();
        List<String> findings = run.findings();
        String owner = RecoveryFiles.checkOwner(null);
        sweep(run.startedAt(), findings);
        Path scratch = createScratch(run.startedAt());
        Path data = scratch.resolve("data");
        int p = port != 0 ? port : freePort();
        boolean toTime = target.type() != RecoveryTarget.Type.LATEST;
        RecoveryServer.Builder sb = RecoveryServer.builder(data, p)
                // at a target: promoted there by pg_promote(), asked for during replay (no pause, no end-of-recovery
                // checkpoint waited for)
                .action(toTime ? PitrRestore.Action.PAUSE : PitrRestore.Action.PROMOTE)
                .promoteAtPause(toTime)
                .timeout(recoveryTimeout)
                .setting("listen_addresses=127.0.0.1")
                .setting("unix_socket_directories=")
                .setting("archive_mode=off");
        if (connection != null) {
            sb.connection(connection);
        }
        if (binDirectory != null) {
            sb.binDirectory(binDirectory);
        }
        RecoveryServer server = sb.build();
        Cleanup cleanup = new Cleanup(server, scratch);
        run.onStop(() -> {
            log.warn("the drill was stopped: stopping its scratch cluster and removing {}", scratch);
            cleanup.run();
        });
        String where = "cluster " + data + " on 127.0.0.1:" + p;
        String store = source.describe();
        BackupManifest manifest = null;
        DrillReport.Recovery recovery = null;
        try {
            Restored r = null;
            try {
                log.info("drill: point-in-time restore to {} from {} into {}", target, store, where);
                r = source.restore(data, b -> {
                    b.target(target)
                            .action(toTime ? PitrRestore.Action.PAUSE : PitrRestore.Action.PROMOTE)
                            .refuseUnreachable(true);
                    if (backup != null) {
                        b.backup(backup);
                    }
                    if (owner != null) {
                        b.owner(owner);
                    }
                    return b;
                });
                Duration all = run.sinceMark();
                Duration extract = r.result().restore().elapsed();
                // locate: the choice of the base backup and the archive's check; restore: download, decrypt, extract
                run.phases()
                        .add(new Phase("locate", all.minus(extract).isNegative() ? Duration.ZERO : all.minus(extract)));
                run.phases().add(new Phase("restore", extract));
                manifest = r.result().plan().manifest();
                store = r.store();
                DrillReport.restored(
                        new DrillSource.Restored(r.result().restore(), r.store(), r.storeFailures()),
                        manifest.objectSize() + " bytes stored",
                        checks,
                        findings);
                if (!r.result().plan().note().isEmpty()) {
                    findings.add(r.result().plan().note());
                }
            } catch (ConfigurationException e) {
                throw e;
            } catch (BackupException e) {
                if (!DrillReport.failsTheDrill(e)) {
                    throw e;
                }
                run.endPhase("restore");
                DrillReport.notRestored(backup != null ? backup : e.key().orElse(null), e, checks, findings);
            }
            RecoveryServer.Outcome o = null;
            if (r != null) {
                run.mark();
                try {
                    o = server.startAndWait();
                    if (!toTime) {
                        r.result().reach().requireReached(o.lastReplayedLsn(), data);
                    }
                    run.endPhase("recovery");
                    checks.add(new Check(
                            "recovery",
                            Status.PASSED,
                            (o.state() == RecoveryServer.State.PROMOTED ? "recovered and promoted" : "paused")
                                    + " in " + DrillReport.human(o.elapsed()) + ", WAL replayed to "
                                    + o.lastReplayedLsn()));
                } catch (ConfigurationException e) {
                    throw e;
                } catch (BackupException | IOException e) {
                    run.endPhase("recovery");
                    checks.add(new Check("recovery", Status.FAILED, e.getMessage()));
                    findings.add("point-in-time recovery of " + manifest.objectKey() + " failed: " + e.getMessage());
                    o = null;
                }
            }
            if (o != null) {
                recovery = new DrillReport.Recovery(
                        target.toString(),
                        target.instant().orElse(null),
                        o.lastTransactionTime() == null
                                ? null
                                : RecoveryTarget.time(o.lastTransactionTime(), true)
                                        .instant()
                                        .orElse(null),
                        o.lastReplayedLsn());
                run.mark();
                runChecks(p, recovery, checks);
                run.endPhase("checks");
            }
        } finally {
            run.cleanUp(() -> {
                boolean stopped = cleanup.run();
                if (stopped && !Files.exists(scratch, LinkOption.NOFOLLOW_LINKS)) {
                    return null;
                }
                String left = stopped
                        ? "the scratch directory " + scratch + " could not be removed: remove it by hand (rm -rf)"
                        : "the scratch cluster on " + data + " could not be stopped: stop it by hand (pg_ctl -D " + data
                                + " -m immediate stop, as its owner), then rm -rf " + scratch;
                return new DrillRun.Left(left + ", or the next drill does", left);
            });
        }
        DrillReport report = run.judge(
                        "database",
                        manifest != null ? manifest.objectKey() : backup,
                        manifest != null ? manifest.completedAt() : null,
                        store,
                        where,
                        rtoTarget)
                .withRecovery(recovery);
        log.info(
                "drill of {} to {}: {} in {}{}",
                report.backupKey(),
                target,
                report.outcome().label(),
                DrillReport.human(report.total()),
                recovery == null ? "" : " (" + recovery.describe() + ")");
        return report;
    }

    /** The checks on the recovered cluster. */
    private void runChecks(int p, DrillReport.Recovery recovery, List<Check> checks) {
        checks.add(recoveryPoint(recovery));
        checks.add(new Check(
                "row-counts",
                Status.SKIPPED,
                "not applicable: a base backup is a copy of the cluster's files and records no row counts (every"
                        + " table is read instead)"));
        PgConnection base = (connection != null
                        ? connection.toBuilder()
                        : PgConnection.builder()
                                .user(RecoveryFiles.runningAsRoot() ? "postgres" : System.getProperty("user.name")))
                .host("127.0.0.1")
                .port(p)
                .database("postgres")
                .build();
        List<String> databases = new ArrayList<>();
        try (Connection c = base.openJdbc();
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT datname FROM pg_catalog.pg_database"
                        + " WHERE datallowconn AND NOT datistemplate ORDER BY datname")) {
            while (r.next()) {
                databases.add(r.getString(1));
            }
        } catch (SQLException e) {
            checks.add(new Check("connect", Status.FAILED, "cannot list the recovered databases: " + e.getMessage()));
            return;
        }
        List<Check> reads = new ArrayList<>();
        List<Check> indexes = new ArrayList<>();
        Check smoke = smokeQueries.isEmpty()
                ? null
                : new Check(
                        "smoke-queries",
                        Status.FAILED,
                        "the recovered cluster has no database " + smokeDatabase + " to run the smoke queries in (it"
                                + " has " + databases + ")");
        for (String db : databases) {
            try (Connection c = base.withDatabase(db).openJdbc()) {
                reads.add(prefixed(db, DatabaseDrill.fullRead(c)));
                indexes.add(prefixed(db, DatabaseDrill.amcheck(c)));
                if (smoke != null && db.equals(smokeDatabase)) {
                    smoke = DatabaseDrill.smoke(c, smokeQueries);
                }
            } catch (SQLException e) {
                reads.add(new Check("full-read", Status.FAILED, db + ": cannot connect: " + e.getMessage()));
            }
        }
        checks.add(merge("full-read", reads));
        checks.add(merge("amcheck", indexes));
        if (smoke != null) {
            checks.add(smoke);
        }
    }

    /** The last recovered transaction against the target: never after it; the RPO is the time between. */
    private static Check recoveryPoint(DrillReport.Recovery r) {
        if (r.targetTime() == null) {
            return new Check("recovery-point", Status.PASSED, "replayed to the end of the archive: " + r.describe());
        }
        if (r.lastTransaction() != null && r.lastTransaction().isAfter(r.targetTime())) {
            return new Check(
                    "recovery-point",
                    Status.FAILED,
                    "a transaction committed after the target was recovered: " + r.describe());
        }
        return new Check("recovery-point", Status.PASSED, r.describe());
    }

    private static Check prefixed(String db, Check c) {
        return new Check(c.name(), c.status(), db + ": " + c.detail());
    }

    /** One check of a name from one per database: failed when one failed, skipped when all were. */
    private static Check merge(String name, List<Check> each) {
        Status status = each.stream().anyMatch(c -> c.status() == Status.FAILED)
                ? Status.FAILED
                : !each.isEmpty() && each.stream().allMatch(c -> c.status() == Status.SKIPPED)
                        ? Status.SKIPPED
                        : Status.PASSED;
        List<String> details = new ArrayList<>();
        each.forEach(c -> details.add(c.detail()));
        return new Check(name, status, each.isEmpty() ? "no database takes connections" : String.join("; ", details));
    }

    /** A new scratch directory, 0711, whose name no other directory has. */
    private Path createScratch(Instant at) {
        return ScratchDirectories.create(
                scratchParent,
                SCRATCH_PREFIX,
                at,
                "Give a directory with room for the restored cluster where this user may write, and that the server's"
                        + " user can reach (--scratch-dir).",
                dir -> {
                    // ours (the restore refuses a parent another user could swap), passable to the server's user: its
                    // data directory inside is 0700 and its own
                    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
                    Files.writeString(
                            dir.resolve(OWNER_FILE),
                            Processes.pid() + " "
                                    + Processes.started().map(Instant::toString).orElse("-") + " " + Processes.host()
                                    + "\n",
                            StandardCharsets.UTF_8);
                });
    }

    /**
     * Removes scratch directories of earlier drills, after stopping a server left running on them: those of this host
     * whose drill process is gone, and any older than {@link #LEFTOVER_AGE}.
     */
    private void sweep(Instant now, List<String> findings) {
        ScratchDirectories.sweep(
                scratchParent,
                SCRATCH_PREFIX,
                now,
                LEFTOVER_AGE,
                PitrDrill::abandoned,
                p -> {
                    Path data = p.resolve("data");
                    if (Files.exists(data.resolve("postmaster.pid"))) {
                        RecoveryServer.Builder b = RecoveryServer.builder(data, 1);
                        if (binDirectory != null) {
                            b.binDirectory(binDirectory);
                        }
                        b.build().stopImmediately();
                    }
                    return deleteQuietly(p);
                },
                "cluster",
                "clusters",
                log,
                findings);
    }

    /** Whether the drill that made {@code dir} ran on this host and its process is gone. */
    private static boolean abandoned(Path dir) {
        try {
            String[] f = Files.readString(dir.resolve(OWNER_FILE), StandardCharsets.UTF_8)
                    .strip()
                    .split(" ");
            if (f.length != 3 || !f[2].equals(Processes.host())) {
                return false;
            }
            Instant started = "-".equals(f[1]) ? null : Instant.parse(f[1]);
            return !Processes.running(Long.parseLong(f[0]), started);
        } catch (IOException | RuntimeException e) {
            return false; // not ours to judge: the age decides
        }
    }

    /**
     * Stops the scratch server and removes the scratch directory, once: the shutdown hook and the drill's
     * {@code finally} may both get here at the same time (a launcher that lets a stopped command finish).
     */
    private static final class Cleanup {
        private final RecoveryServer server;
        private final Path scratch;
        private Boolean stopped;

        Cleanup(RecoveryServer server, Path scratch) {
            this.server = server;
            this.scratch = scratch;
        }

        /** Whether the server is stopped (the directory's removal is checked by the caller). */
        synchronized boolean run() {
            if (stopped == null) {
                stopped = server.stopImmediately();
                deleteQuietly(scratch);
            }
            return stopped;
        }
    }

    private static boolean deleteQuietly(Path dir) {
        for (int attempt = 1; ; attempt++) {
            try {
                LocalPaths.deleteTree(dir);
                return true;
            } catch (IOException | RuntimeException e) {
                if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                    return true;
                }
                if (attempt == 3) {
                    log.warn("could not remove {}: {}", dir, e.toString());
                    return false;
                }
            }
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new ConfigurationException("No free port on 127.0.0.1 for the scratch cluster: " + e.getMessage());
        }
    }

    /** Builds a {@link PitrDrill}. Not thread-safe. */
    public static final class Builder {
        private Source source;
        private RecoveryTarget target = RecoveryTarget.LATEST;
        private String backup;
        private Path scratchParent = Path.of(System.getProperty("java.io.tmpdir"));
        private int port;
        private Path binDirectory;
        private PgConnection connection;
        private List<String> smokeQueries = List.of();
        private String smokeDatabase = "postgres";
        private Duration rtoTarget = DrillRun.DEFAULT_RTO_TARGET;
        private Duration recoveryTimeout = Duration.ofHours(2);
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /** Where the base backup and the WAL come from. Required. */
        public Builder source(Source source) {
            this.source = source;
            return this;
        }

        /**
         * Recover to this time, with a zone ({@code 2026-12-02 03:00:00+00}, {@code …Z}); default: the end of the
         * archive.
         */
        public Builder asOf(String time) {
            this.target = RecoveryTarget.time(time, true);
            return this;
        }

        /** Recover to this target ({@link RecoveryTarget#time} or {@link RecoveryTarget#LATEST}). */
        public Builder target(RecoveryTarget target) {
            RecoveryTarget t = Objects.requireNonNull(target, "target");
            if (t.type() != RecoveryTarget.Type.TIME && t.type() != RecoveryTarget.Type.LATEST) {
                throw new ConfigurationException("A drill recovers to a time or to the latest, not to " + t + ".");
            }
            this.target = t;
            return this;
        }

        /** Restore this base backup ({@code base/…}) instead of the newest that ended before the target. */
        public Builder backup(String key) {
            this.backup = Objects.requireNonNull(key, "key");
            return this;
        }

        /** Where the scratch directory is made (default: {@code java.io.tmpdir}); the server's user must reach it. */
        public Builder scratchParent(Path dir) {
            this.scratchParent =
                    Objects.requireNonNull(dir, "dir").toAbsolutePath().normalize();
            return this;
        }

        /** The scratch server's port (default: a free one). */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** pg_ctl's directory for the data's version (default: {@code /usr/lib/postgresql/N/bin}). */
        public Builder binDirectory(Path dir) {
            this.binDirectory = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /**
         * The user (and password) the checks connect to the scratch cluster as; host, port and database are the
         * drill's. Default: {@code postgres} when root, else the running user.
         */
        public Builder connection(PgConnection connection) {
            this.connection = Objects.requireNonNull(connection, "connection");
            return this;
        }

        /** Queries that must each return at least one row ({@link DatabaseDrill#parseSmokeSql}). */
        public Builder smokeQueries(List<String> queries) {
            this.smokeQueries = List.copyOf(queries);
            return this;
        }

        /** The recovered database the smoke queries run in (default {@code postgres}). */
        public Builder smokeDatabase(String database) {
            this.smokeDatabase = Objects.requireNonNull(database, "database");
            return this;
        }

        /** The recovery time objective; {@link DatabaseDrill#DEFAULT_RTO_TARGET} by default. */
        public Builder rtoTarget(Duration target) {
            this.rtoTarget = DrillRun.requireRtoTarget(target);
            return this;
        }

        /** How long the replay may take before the drill fails (default 2 hours). */
        public Builder recoveryTimeout(Duration timeout) {
            this.recoveryTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** The clock of the report's start and the scratch name; the system's UTC clock by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Builds the drill. */
        public PitrDrill build() {
            return new PitrDrill(this);
        }
    }
}
