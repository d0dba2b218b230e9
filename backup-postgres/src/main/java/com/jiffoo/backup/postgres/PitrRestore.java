package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupListener;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.Transform;
import com.jiffoo.backup.files.DirectoryRestoreTarget;
import com.jiffoo.backup.internal.LocalPaths;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.wal.WalArchive;
import com.jiffoo.backup.wal.WalContinuity;
import com.jiffoo.backup.wal.WalInventory;
import com.jiffoo.backup.wal.WalPrefetch;
import com.jiffoo.backup.wal.WalReadAhead;
import com.jiffoo.backup.wal.WalSegment;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A point-in-time restore: chooses a base backup ({@link BaseBackupSource}) that ends before the target, restores it
 * into an empty data directory, and writes the settings with which PostgreSQL, once started, fetches the archived WAL
 * and replays it up to the target ({@link RecoveryServer} starts it and waits).
 *
 * <p><b>Choice.</b> The newest committed, trusted base backup (as {@link StoredBackups} accepts it) that ended
 * before the target: for a time, whose {@code stopTime} (the server's clock when the backup ended) is not after it;
 * for an LSN, whose {@code stopLsn} is not after it; for a restore point name or {@link RecoveryTarget#LATEST}, the
 * newest (a name has no time this tool can know: {@link Plan#note()} says so). Or the one named with
 * {@link Builder#backup(String)}.
 *
 * <p><b>Before anything is downloaded.</b> The owner must be a user of the system. <b>Beside the extraction</b>,
 * before it is swapped in (a failure stops it at its next read from the store; nothing of it is kept): with
 * {@link Builder#checkArchive(boolean)} (the restore_command fetches from this store), the archive's continuity is
 * checked ({@link WalContinuity}, from the base backup's start segment along the timelines recovery follows): a gap
 * before the base backup's end, a missing history file, a gap before the target (an LSN at or after it; a time not
 * before the archiving of the last segment before it), or for {@link RecoveryTarget#LATEST} any gap or a lost tail
 * by the archive's signed head ({@link com.jiffoo.backup.wal.WalHead}; unless {@link Builder#upToGap(boolean)}) is
 * an {@link IntegrityException}. Then ({@link Builder#preflight(boolean)}) the
 * restore_command is run once as the server will run it, to fetch the start segment, beside the extraction; a
 * failure is a {@link ConfigurationException}, and the extracted copy is not swapped in. {@link Result#reach()} keeps where the archive ends, for
 * {@link Reach#requireReached} once recovery ended.
 *
 * <p><b>Extraction.</b> Through the {@link RestorePipeline} (manifest signature, SHA-256 and OpenPGP checked while it
 * streams, zstd's checksum too) into a {@link DirectoryRestoreTarget}: the tar's safety rules of {@code TarExtraction}
 * (nothing outside the directory, no devices), staged beside the directory and swapped in only when every check
 * passed. A non-empty directory is refused unless {@link Builder#overwrite(boolean)}; even then only its content is
 * replaced.
 *
 * <p><b>Settings</b> (appended to {@code postgresql.auto.conf} as {@code pg_basebackup -R} does, after the swap):
 * {@code restore_command} (as given: self-contained, no secrets — the command line builds it from its launcher,
 * store URI and key file), the target setting, {@code recovery_target_action} ({@code promote} or {@code pause}, when
 * there is a target), {@code recovery_target_timeline}, and {@code archive_mode = 'off'} unless
 * {@link Builder#keepArchiving(boolean)}: a restored copy must not archive its new timeline into the archive of the
 * cluster it came from. The data directory gets mode 0700; when running as root, every file is given to
 * {@link Builder#owner(String)} (default {@code postgres}). {@code recovery.signal} is written last: a restore that
 * failed before it leaves no directory PostgreSQL would recover from (without WAL in {@code pg_wal} and without the
 * signal, the server refuses to start: "could not locate required checkpoint record").
 *
 * <pre>{@code
 * PitrRestore.Result r = PitrRestore.builder(sink, pgp, Path.of("/var/lib/postgresql/15/restored"))
 *         .target(RecoveryTarget.time("2026-12-01 21:05:07+00", true))
 *         .restoreCommand("/opt/jiffoo/jiffoo-backup wal-fetch --store s3://b/p --key-file /etc/jiffoo/k %f %p")
 *         .build()
 *         .run();
 * }</pre>
 *
 * <p>Immutable; one {@link #run()} at a time per data directory.
 */
public final class PitrRestore {
    private static final Logger LOG = LoggerFactory.getLogger(PitrRestore.class);

    /** What the server does when it reaches the target. */
    public enum Action {
        /** End recovery and accept writes (a new timeline). */
        PROMOTE,
        /** Stay in recovery, paused, for inspection ({@code SELECT pg_wal_replay_resume()} promotes). */
        PAUSE;

        /** The setting's value: {@code promote}, {@code pause}. */
        public String setting() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Sink store;
    private final Transform decryption;
    private final BackupTrust trust;
    private final Path dataDirectory;
    private final RecoveryTarget target;
    private final Action action;
    private final String timeline;
    /**
     * In a {@linkplain Builder#restoreCommand restore_command}, stands for the chosen base backup's system identifier
     * (e.g. {@code wal-fetch --system-id @SYSTEM_ID@ %f %p}, so that WAL of another cluster is refused).
     */
    public static final String SYSTEM_ID_TOKEN = "@SYSTEM_ID@";

    private final String restoreCommand;
    private final String recoveryEndCommand;
    private final String backup;
    private final boolean overwrite;
    private final String owner;
    private final boolean keepArchiving;
    private final boolean checkArchive;
    private final boolean upToGap;
    private final boolean ignoreHead;
    private final boolean preflight;
    private final boolean trialReadsAhead;
    private final boolean refuseUnreachable;
    private final String readAheadSpool;
    private final BackupListener listener;

    private PitrRestore(Builder b) {
        this.store = b.store;
        this.decryption = b.decryption;
        this.trust = b.trust != null ? b.trust : BackupTrust.of(List.of(b.decryption));
        this.dataDirectory = b.dataDirectory;
        this.target = b.target;
        this.action = b.action;
        this.timeline = b.timeline;
        this.restoreCommand = b.restoreCommand;
        this.recoveryEndCommand = b.recoveryEndCommand;
        this.backup = b.backup;
        this.overwrite = b.overwrite;
        this.owner = b.owner;
        this.keepArchiving = b.keepArchiving;
        this.checkArchive = b.checkArchive;
        this.upToGap = b.upToGap;
        this.ignoreHead = b.ignoreHead;
        this.preflight = b.preflight;
        this.trialReadsAhead = b.trialReadsAhead;
        this.refuseUnreachable = b.refuseUnreachable;
        this.readAheadSpool = b.readAheadSpool;
        this.listener = b.listener;
    }

    /**
     * A builder restoring from {@code store}, decrypting with {@code decryption}, into {@code dataDirectory}.
     *
     * @throws NullPointerException when an argument is null
     */
    public static Builder builder(Sink store, Transform decryption, Path dataDirectory) {
        return new Builder(store, decryption, dataDirectory);
    }

    /**
     * The base backup chosen and why.
     *
     * @param manifest the base backup's manifest
     * @param note     a remark for the operator (e.g. that a restore point's time is unknown), or empty
     */
    public record Plan(BackupManifest manifest, String note) {}

    /**
     * What {@link #run()} did.
     *
     * @param plan          the base backup restored
     * @param dataDirectory the data directory, absolute
     * @param settings      the settings appended to {@code postgresql.auto.conf}, in order
     * @param restore       the restore's result (files, bytes, elapsed)
     * @param reach         what the archive lets recovery reach, as checked beside the extraction (before the swap)
     */
    public record Result(
            Plan plan, Path dataDirectory, Map<String, String> settings, RestoreResult restore, Reach reach) {}

    /**
     * What the WAL archive lets recovery from the chosen base backup reach, checked beside the extraction, before it was swapped in
     * ({@link Builder#checkArchive}).
     *
     * @param checked   whether the archive was checked (false: the restore_command fetches from elsewhere)
     * @param start     the base backup's start segment, or null when not checked
     * @param end       the last segment recovery can replay on the followed timelines: the newest archived one, or
     *                  with {@link Builder#upToGap} the last one before the first gap; null when not checked
     * @param endLsn    where {@code end} begins ({@code 0/7000000}): recovery to the latest must replay at least this
     *                  far; null when not checked
     * @param timelines the timelines recovery follows, oldest first
     * @param gap       the first missing stretch after the base backup's end that the restore accepted (a target
     *                  before it, or {@link Builder#upToGap}), or null
     */
    public record Reach(
            boolean checked, String start, String end, String endLsn, List<Long> timelines, WalContinuity.Gap gap) {
        /** Copies the list. */
        public Reach {
            timelines = List.copyOf(timelines);
        }

        static Reach unchecked() {
            return new Reach(false, null, null, null, List.of(), null);
        }

        /**
         * For a restore to the latest, once recovery ended: refuses a replay that stopped before {@link #endLsn()} —
         * the server promoted at a point before WAL the archive holds (a segment that could not be read, or one that
         * does not continue the one before it), so the newest archived changes are missing. Does nothing when the
         * archive was not checked.
         *
         * @param lastReplayedLsn {@code pg_last_wal_replay_lsn()} of the recovered server
         * @param dataDirectory   the data directory, for the message
         * @throws RestoreException when the replay stopped before {@code endLsn}
         */
        public void requireReached(String lastReplayedLsn, Path dataDirectory) {
            if (!checked || endLsn == null) {
                return;
            }
            long reached = lastReplayedLsn == null ? 0 : WalSegment.parseLsn(lastReplayedLsn);
            if (Long.compareUnsigned(reached, WalSegment.parseLsn(endLsn)) < 0) {
                throw new RestoreException(
                        "Recovery in " + dataDirectory + " ended at " + lastReplayedLsn + ", before the newest archived"
                                + " WAL it should have replayed (" + end + ", from " + endLsn + "): the server"
                                + " promoted without the archive's last changes (a segment it could not fetch or that"
                                + " does not continue the previous one; see " + RecoveryServer.LOG_FILE + "). It is"
                                + " running promoted on what it replayed; do not use it as the latest state: stop it"
                                + " (pg_ctl -D " + dataDirectory + " stop), check the archive (wal-verify) and"
                                + " restore again.",
                        null,
                        dataDirectory.toString(),
                        null);
            }
        }
    }

    /**
     * Chooses the base backup, without restoring anything.
     *
     * @throws NotFoundException when the store holds no base backup that ends before the target
     * @throws BackupException when the store cannot be read or the named backup is not a trusted base backup
     */
    public Plan plan() {
        StoredBackups backups = StoredBackups.of(store, trust);
        if (backup != null) {
            BackupManifest m = backups.manifest(backup);
            if (!StoreLayout.BASE_BACKUP_KIND.equals(m.kind())) {
                throw new ConfigurationException(backup + " is a " + m.kind() + " backup, not a base backup (base/…);"
                        + " a point-in-time restore starts from a base backup (`backup base`).");
            }
            return new Plan(m, "");
        }
        StoredBackups.Scan scan = backups.scan(StoreLayout.BASE_BACKUP_KIND);
        scan.refusedNewest()
                .forEach(r -> LOG.warn(
                        "not considered: base backup manifest {} cannot be trusted: {}",
                        r.key(),
                        r.reason().getMessage()));
        List<BackupManifest> all = scan.committed(); // newest first
        if (all.isEmpty()) {
            throw new NotFoundException(
                    "No committed base backup in " + store.location() + ". Take one with `backup base` (WAL"
                            + " archiving must be on from then on).",
                    null,
                    store.location(),
                    null);
        }
        for (BackupManifest m : all) {
            if (endsBefore(m)) {
                String note = target.type() == RecoveryTarget.Type.NAME
                        ? "the newest base backup was chosen: a restore point's time is not known before replay."
                                + " If '" + target.text() + "' was created before " + m.objectKey() + " ended, pass an"
                                + " older base backup with --backup."
                        : "";
                return new Plan(m, note);
            }
        }
        BackupManifest oldest = all.get(all.size() - 1);
        String why = "No base backup in " + store.location() + " ends before the target " + target + ": the oldest, "
                + oldest.objectKey() + ", ended at " + stopTime(oldest) + " (WAL " + fact(oldest, "stopLsn")
                + "). A point-in-time restore can only reach points after the end of a base backup it starts from.";
        if (refuseUnreachable) {
            throw new ConfigurationException(why + " Choose a later target.", null, store.location(), null);
        }
        throw new NotFoundException(why, null, store.location(), null);
    }

    private boolean endsBefore(BackupManifest m) {
        return switch (target.type()) {
            case TIME -> target.instant().map(t -> !stopTime(m).isAfter(t)).orElse(true);
            case LSN -> {
                String stop = fact(m, "stopLsn");
                yield stop != null
                        && WalPosition.parse(stop).compareTo(target.position().orElseThrow()) <= 0;
            }
            case NAME, LATEST -> true;
        };
    }

    private static Instant stopTime(BackupManifest m) {
        String t = fact(m, "stopTime");
        return t != null ? Instant.parse(t) : m.completedAt();
    }

    private static String fact(BackupManifest m, String name) {
        Object v = m.sourceFacts().get(name);
        return v == null ? null : v.toString();
    }

    /**
     * Chooses the base backup, restores it into the data directory and writes the recovery settings. The server is
     * not started ({@link RecoveryServer}).
     *
     * @throws NotFoundException when no base backup fits
     * @throws BackupException when the backup is damaged, cannot be decrypted, the directory is not empty (without
     *         {@link Builder#overwrite}) or cannot be written; the directory keeps its previous content then, or, when
     *         the settings could not be written after the swap, holds no {@code recovery.signal}
     */
    public Result run() {
        Plan plan = plan();
        LOG.info(
                "point-in-time restore to {} from {} into {}",
                target,
                plan.manifest().objectKey(),
                dataDirectory);
        Map<String, String> settings = settings(plan.manifest());
        // Beside the extraction, each on a thread of its own: the check of the archive (listing every WAL object and
        // reading their manifests) and the restore_command's trial (it downloads WAL while the base backup streams).
        // A failure of either stops the extraction; the restored directory is swapped in only once both passed.
        FutureTask<ArchiveCheck> archive = new FutureTask<>(() -> {
            Instant listed = Instant.now();
            WalInventory inventory = checkArchive ? WalInventory.read(store) : null;
            Reach reach = checkArchive ? checkArchive(plan.manifest(), inventory) : Reach.unchecked();
            return new ArchiveCheck(inventory, listed, reach);
        });
        start(archive, "pitr-archive-check");
        FutureTask<Path> trial =
                preflight ? new FutureTask<>(() -> preflight(plan.manifest(), settings.get("restore_command"))) : null;
        if (trial != null) {
            start(trial, "pitr-restore-command-trial");
        }
        List<FutureTask<?>> beside = trial == null ? List.of(archive) : List.of(archive, trial);
        Path standIn = null;
        try {
            RecoveryFiles files = new RecoveryFiles(dataDirectory, owner, settings, plan.manifest());
            RestoreTarget directory = new DataDirectoryTarget(
                    DirectoryRestoreTarget.builder(dataDirectory)
                            .replaceExisting(overwrite)
                            .durable(true) // on disk while it extracts: the server's start fsyncs every file
                            .build(),
                    files,
                    () -> {
                        result(archive);
                        trialResult(trial);
                    });
            RestoreResult r;
            try {
                r = RestorePipeline.builder()
                        .sink(new TrialGuard(store, beside))
                        .decryption(decryption)
                        .trust(trust)
                        .target(directory)
                        .listener(listener)
                        .build()
                        .restore(plan.manifest().objectKey());
            } catch (RuntimeException e) {
                // a failed check of the archive, then a failed trial, is the cause to report (the pipeline wraps it
                // as a failure to put the copy in place); a gap in the archive comes first, as before the extraction
                // ran beside it
                try {
                    result(archive);
                    standIn = trialResult(trial);
                } catch (RuntimeException besideFailed) {
                    besideFailed.addSuppressed(e);
                    throw besideFailed;
                }
                throw e;
            }
            ArchiveCheck checked = result(archive);
            standIn = trialResult(trial);
            if (standIn != null) {
                carryOver(standIn.resolve("pg_wal"), dataDirectory.resolve("pg_wal"));
            }
            if (checked.inventory() != null && readAheadSpool != null) {
                newestTimelineHint(checked.inventory(), checked.listed(), plan.manifest());
            }
            return new Result(plan, dataDirectory, settings, r, checked.reach());
        } finally {
            if (standIn == null && trial != null) {
                // the extraction failed: wait for the trial (a child process) and clean up after it
                try {
                    standIn = trialResult(trial);
                } catch (RuntimeException ignored) {
                    // the extraction's failure is the one reported
                }
            }
            if (standIn != null) {
                deleteTree(standIn);
            }
        }
    }

    /**
     * Reads the WAL that recovery from {@code r} needs ahead into the data directory's read-ahead spool, from this
     * process, while the server recovers ({@link WalReadAhead}): the segments after the base backup's start segment,
     * up to the last one the target needs (for a time, the first segment archived at or after it, by its signed
     * manifest; for an LSN, the segment holding it; else the archive's newest, {@link Reach#end()}), at most
     * {@link WalPrefetch#DEFAULT_COUNT} waiting at a time, each given to the {@link Builder#owner}. The caller closes it
     * once recovery ended.
     *
     * @return empty when there is nothing to read ahead for: no {@link Builder#readAheadSpool}, the archive not
     *         checked (a restore_command of another archive), recovery following a timeline switch, a base backup
     *         that records no cluster or start segment, or no spool in the data directory
     */
    public Optional<WalReadAhead> readAhead(Result r) {
        BackupManifest m = r.plan().manifest();
        Reach reach = r.reach();
        Object cluster = m.sourceFacts().get(WalArchive.SYSTEM_IDENTIFIER);
        String startName = fact(m, "startWalSegment");
        Path spool = readAheadSpool == null ? null : dataDirectory.resolve(readAheadSpool);
        if (spool == null
                || !reach.checked()
                || reach.end() == null
                || reach.timelines().size() != 1
                || cluster == null
                || startName == null
                || !Files.isDirectory(spool)) {
            return Optional.empty();
        }
        Object size = m.sourceFacts().get("walSegmentSize");
        long segmentSize = size instanceof Number n ? n.longValue() : WalSegment.DEFAULT_SIZE;
        WalSegment start = WalSegment.parse(startName, segmentSize);
        WalSegment end = WalSegment.parse(reach.end(), segmentSize);
        if (start.timeline() != end.timeline()) {
            return Optional.empty();
        }
        String id = String.valueOf(cluster);
        java.util.function.Predicate<String> last = switch (target.type()) {
            case TIME -> {
                Instant t = target.instant().orElse(null);
                yield name -> {
                    BackupManifest wal = t == null ? null : WalArchive.manifest(store, trust, name, id);
                    return wal == null || !wal.completedAt().isBefore(t);
                };
            }
            case LSN -> {
                String holding = WalSegment.containing(
                                start.timeline(),
                                target.position().orElseThrow().value(),
                                segmentSize)
                        .name();
                yield name -> name.compareTo(holding) >= 0;
            }
            case NAME, LATEST -> name -> false;
        };
        String endName = end.name();
        return Optional.of(WalReadAhead.builder()
                .archive(WalArchive.builder()
                        .sink(store)
                        .encryption(decryption)
                        .trust(trust)
                        .systemIdentifier(id)
                        .hashPlaintext(false) // as wal-fetch: the stored object's authenticated SHA-256 is checked
                        .build())
                .spool(spool)
                .first(start.next())
                .last(name -> name.compareTo(endName) >= 0 || last.test(name))
                .prepare(f -> {
                    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
                    if (owner != null) {
                        RecoveryFiles.giveTo(f, owner);
                    }
                })
                .start());
    }

    /**
     * The store as the extraction reads it while the check of the archive and the restore_command's trial run beside
     * it: every read first looks whether one of them has failed, and then fails too, so that a gap in the archive or a
     * bad restore_command stops the extraction of a large base backup at once rather than after it (the decoding side
     * fails: nothing more is read, the staging is removed). Their failure is what {@link #run} reports.
     */
    private static final class TrialGuard implements Sink {
        private final Sink store;
        private final List<FutureTask<?>> watched;

        TrialGuard(Sink store, List<FutureTask<?>> watched) {
            this.store = store;
            this.watched = watched;
        }

        private void check() throws IOException {
            for (FutureTask<?> task : watched) {
                if (!task.isDone()) {
                    continue;
                }
                try {
                    result(task);
                } catch (RuntimeException failed) {
                    throw new IOException(
                            "stopped: the check of the archive or the restore_command's trial failed ("
                                    + failed.getMessage() + ")",
                            failed);
                }
            }
        }

        private InputStream guarded(InputStream in) {
            return new java.io.FilterInputStream(in) {
                @Override
                public int read() throws IOException {
                    check();
                    return super.read();
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    check();
                    return super.read(b, off, len);
                }
            };
        }

        @Override
        public String location() {
            return store.location();
        }

        @Override
        public com.jiffoo.backup.SinkOutput create(String key) throws IOException {
            return store.create(key);
        }

        @Override
        public InputStream open(String key) throws IOException {
            check();
            return guarded(store.open(key));
        }

        @Override
        public InputStream open(String key, long offset, long length) throws IOException {
            check();
            return guarded(store.open(key, offset, length));
        }

        @Override
        public String mismatchAdvice() {
            return store.mismatchAdvice();
        }

        @Override
        public List<com.jiffoo.backup.StoredObject> list(String prefix) throws IOException {
            return store.list(prefix);
        }

        @Override
        public Optional<Path> localRoot() {
            return store.localRoot();
        }

        @Override
        public void delete(String key) throws IOException {
            store.delete(key);
        }

        @Override
        public void close() {
            // the caller's store: closed by the caller
        }
    }

    /** What the check of the archive beside the extraction found: the listing, when it was made, what it allows. */
    private record ArchiveCheck(WalInventory inventory, Instant listed, Reach reach) {}

    private static void start(FutureTask<?> task, String name) {
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
    }

    /** Waits for the restore_command's trial: its stand-in directory, or its failure; null without a trial. */
    private static Path trialResult(FutureTask<Path> trial) {
        return trial == null ? null : result(trial);
    }

    /** Waits for a task run beside the extraction: its result, or its failure as it threw it. */
    private static <T> T result(FutureTask<T> task) {
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConfigurationException("Interrupted while checking the archive and the restore_command.", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new ConfigurationException(
                    "Could not check the archive or try the restore_command: " + e.getCause(), e.getCause());
        }
    }

    /**
     * Leaves the newest timeline that has a history file in the listed store (any object of one, committed or not;
     * 1 when none) in the read-ahead spool, dated to the listing ({@link Builder#readAheadSpool}). Only a help: a
     * failure is logged, and the launcher then asks Java as before.
     */
    private void newestTimelineHint(WalInventory inventory, Instant listed, BackupManifest m) {
        long newest = 1;
        for (WalInventory.WalFile f : inventory.files()) {
            if (f.type() == WalInventory.Type.TIMELINE_HISTORY) {
                newest = Math.max(newest, f.timeline());
            }
        }
        Object cluster = m.sourceFacts().get("systemIdentifier");
        if (cluster == null) {
            return; // the launcher answers only for a spool filled for the restore_command's --system-id
        }
        try {
            WalPrefetch.writeNewestTimeline(dataDirectory.resolve(readAheadSpool), cluster.toString(), newest, listed);
            if (owner != null) {
                Path spool = dataDirectory.resolve(readAheadSpool);
                RecoveryFiles.giveTo(spool, owner);
                for (String f : List.of(WalPrefetch.SYSTEM_ID_FILE, WalPrefetch.NEWEST_TIMELINE_FILE)) {
                    RecoveryFiles.giveTo(spool.resolve(f), owner);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not leave the archive's newest timeline in the read-ahead spool: {}", e.toString());
        }
    }

    /**
     * What the pre-flight's restore_command left in its stand-in data directory's {@code pg_wal} (segments read ahead
     * by {@code wal-fetch --spool pg_wal/…}) is what the server's first call would have left there: moved into the
     * restored directory's {@code pg_wal}. Only a help: a failure is logged.
     */
    private void carryOver(Path from, Path to) {
        if (!Files.isDirectory(from)) {
            return;
        }
        try (java.util.stream.Stream<Path> all = Files.walk(from)) {
            for (Path f : (Iterable<Path>) all::iterator) {
                Path dest = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(dest);
                    Files.setPosixFilePermissions(dest, PosixFilePermissions.fromString("rwx------"));
                } else {
                    Files.move(f, dest, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    Files.setPosixFilePermissions(dest, PosixFilePermissions.fromString("rw-------"));
                }
                if (owner != null) {
                    RecoveryFiles.giveTo(dest, owner);
                }
            }
            LOG.info("moved what the restore_command's trial left in pg_wal (read ahead) into {}", to);
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not move the trial's pg_wal files into {}: {}", to, e.toString());
        }
    }

    private static void deleteTree(Path dir) {
        try {
            LocalPaths.deleteTree(dir);
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not delete {}: {}", dir, e.toString());
        }
    }

    /**
     * Checks, before anything is extracted, that the archive holds the WAL recovery will need from the base backup's
     * start segment on ({@link WalContinuity} from that segment, on the timelines {@code recovery_target_timeline}
     * follows): refuses a gap before the base backup's end, and a gap before the target (for the latest: any gap,
     * unless {@link Builder#upToGap}).
     */
    Reach checkArchive(BackupManifest m) {
        return checkArchive(m, WalInventory.read(store));
    }

    private Reach checkArchive(BackupManifest m, WalInventory inv) {
        String startName = fact(m, "startWalSegment");
        String stopName = fact(m, "stopWalSegment");
        if (startName == null || !WalSegment.isName(startName) || stopName == null || !WalSegment.isName(stopName)) {
            throw new IntegrityException(
                    "The base backup " + m.objectKey() + " records no start and stop WAL segment (startWalSegment,"
                            + " stopWalSegment): the archive cannot be checked for the WAL it needs. Restore another"
                            + " base backup (--backup), or check the archive yourself and give your own"
                            + " --restore-command.",
                    m.objectKey(),
                    store.location(),
                    null);
        }
        Object cluster = m.sourceFacts().get(WalArchive.SYSTEM_IDENTIFIER);
        WalContinuity.Builder check = WalContinuity.builder()
                .sink(store)
                .trust(trust)
                .since(startName)
                // the chosen base backup's cluster: the newest base backup may be another cluster's in this store
                .systemIdentifier(cluster == null ? null : String.valueOf(cluster))
                .historyReader(WalContinuity.HistoryReader.of(WalArchive.builder()
                        .sink(store)
                        .encryption(decryption)
                        .trust(trust)
                        .build()));
        Object size = m.sourceFacts().get("walSegmentSize");
        long segmentSize = size instanceof Number n ? n.longValue() : WalSegment.DEFAULT_SIZE;
        check.segmentSize(segmentSize);
        WalSegment start = WalSegment.parse(startName, segmentSize);
        WalSegment stop = WalSegment.parse(stopName, segmentSize);
        if (!"latest".equals(timeline)) {
            check.timeline(
                    "current".equals(timeline)
                            ? start.timeline()
                            : timeline.startsWith("0x")
                                    ? Long.parseLong(timeline.substring(2), 16)
                                    : Long.parseLong(timeline));
        }
        WalContinuity.Report r;
        try {
            r = check.build().check(inv);
        } catch (NotFoundException e) {
            throw new IntegrityException(
                    "Recovery to timeline " + timeline + " from " + m.objectKey() + " is impossible: " + e.getMessage(),
                    m.objectKey(),
                    store.location(),
                    e);
        }
        String base = "the base backup " + m.objectKey() + " (WAL from " + startName + ")";
        if (r.noWal()) {
            throw new IntegrityException(
                    "The store " + store.location() + " holds no archived WAL, so " + base + " cannot even become"
                            + " consistent: its WAL " + startName + ".." + stopName + " is needed. Nothing was"
                            + " extracted. Is archive_command set to wal-push into this store? If the WAL is archived"
                            + " elsewhere, name your own --restore-command.",
                    m.objectKey(),
                    store.location(),
                    null);
        }
        if (!r.timelines().contains(start.timeline())) {
            throw new IntegrityException(
                    base + " is on timeline " + start.timeline() + ", which does not lead to timeline "
                            + r.timelines().get(r.timelines().size() - 1) + " (" + String.join("; ", r.notes())
                            + "). Nothing was extracted. Choose the timeline with --target-timeline, or another base"
                            + " backup with --backup.",
                    m.objectKey(),
                    store.location(),
                    null);
        }
        if (!r.missingHistories().isEmpty()) {
            throw new IntegrityException(
                    "The archive in " + store.location() + " lacks the timeline history file(s) "
                            + String.join(", ", r.missingHistories()) + ": recovery cannot follow the timeline"
                            + " switch(es) " + r.timelines() + " without them. Nothing was extracted. Push the file"
                            + " from the promoted server's pg_wal (wal-push pg_wal/NAME), or restore on timeline "
                            + start.timeline() + " with --target-timeline " + start.timeline() + ".",
                    m.objectKey(),
                    store.location(),
                    null);
        }
        String newest = r.newestSegment();
        WalSegment archiveEnd = newest == null ? null : WalSegment.parse(newest, segmentSize);
        if (archiveEnd == null
                || archiveEnd.timeline() < stop.timeline()
                || (archiveEnd.timeline() == stop.timeline() && archiveEnd.number() < stop.number())) {
            // the archive's tail is missing (deleted, or archiving lags): no gap inside it, but the base backup
            // cannot become consistent
            throw new IntegrityException(
                    "The WAL archive in " + store.location() + " ends at " + newest + ", before " + stopName + ", the"
                            + " end of " + base + ": recovery could not even make it consistent. Nothing was"
                            + " extracted. If archiving lags, wait for it (the server's pg_wal/archive_status/*.ready,"
                            + " `monitor --wal`) and restore again; else restore an older base backup (--backup).",
                    m.objectKey(),
                    store.location(),
                    null);
        }
        refuseLostTail(r, m, base);
        if (r.gaps().isEmpty()) {
            refuseAfterTheArchive(inv, newest, cluster, m);
            return new Reach(true, startName, newest, lsnOf(newest, segmentSize), r.timelines(), null);
        }
        WalContinuity.Gap gap = r.gaps().get(0);
        WalSegment first = WalSegment.parse(gap.first(), segmentSize);
        String gapStart = WalSegment.formatLsn(first.startLsn());
        WalInventory.WalFile before = segmentBefore(inv, first, r.timelines());
        // when it was archived by its signed manifest, not by the store's date of an object (anyone who can touch the
        // store can set that, and a later date would let a target the archive cannot reach through)
        Instant beforeArchived = before == null ? null : archivedAt(before, cluster, m);
        String reachable = before == null
                ? "nothing after it"
                : "the end of " + before.segment() + " (archived " + beforeArchived + ")";
        String missing = "The WAL archive in " + store.location() + " is missing " + gap.describe() + " on timeline "
                + gap.timeline();
        if (first.timeline() == stop.timeline() && first.number() <= stop.number()) {
            throw new IntegrityException(
                    missing + ", which " + base + " needs to become consistent (up to " + stopName + "). Nothing"
                            + " was extracted. Restore another base backup (--backup; `wal-verify` names the ones"
                            + " whose WAL is complete).",
                    m.objectKey(),
                    store.location(),
                    null);
        }
        String advice = " Nothing was extracted. The last point recovery can reach is " + reachable + ", just before "
                + gapStart + ": restore up to it with --to-gap (replays everything archived before the gap, then"
                + " promotes), or to an earlier --target-time/--target-lsn. `wal-verify` lists every gap; a segment"
                + " still in the server's pg_wal can be pushed again (wal-push pg_wal/NAME).";
        switch (target.type()) {
            case LATEST -> {
                if (!upToGap) {
                    throw new IntegrityException(
                            missing + ", after the start of " + base + ": recovery would stop at " + gapStart
                                    + " and promote, silently losing everything archived after it (up to " + newest
                                    + ")." + advice,
                            m.objectKey(),
                            store.location(),
                            null);
                }
                String end = before == null ? null : before.segment();
                LOG.warn(
                        "{}: restoring up to the gap, to the end of {} (--to-gap); WAL archived after it is not"
                                + " replayed",
                        missing,
                        end);
                return new Reach(
                        true, startName, end, end == null ? null : lsnOf(end, segmentSize), r.timelines(), gap);
            }
            case LSN -> {
                long lsn = target.position().orElseThrow().value();
                if (Long.compareUnsigned(lsn, first.startLsn()) >= 0) {
                    throw new IntegrityException(
                            missing + ", before the target " + target.text() + ": recovery cannot get there." + advice,
                            m.objectKey(),
                            store.location(),
                            null);
                }
            }
            case TIME -> {
                Optional<Instant> t = target.instant();
                // every record before the gap was written before `before` was archived: a target at or after that
                // time needs records from the gap to know where to stop
                if (t.isPresent() && before != null && !t.get().isBefore(beforeArchived)) {
                    throw new IntegrityException(
                            missing + ", and the target " + target.text() + " is not before "
                                    + beforeArchived + ", when the last segment before the gap ("
                                    + before.segment() + ") was archived: recovery would need the missing WAL to"
                                    + " reach it." + advice,
                            m.objectKey(),
                            store.location(),
                            null);
                }
                LOG.warn(
                        "{}, after the start of {}; the target {} is before the last segment before the gap was"
                                + " archived, so recovery may stop before it; if not, the server stops with"
                                + " 'recovery ended before configured recovery target was reached'",
                        missing,
                        m.objectKey(),
                        target.text());
            }
            case NAME ->
                LOG.warn(
                        "{}, after the start of {}: if the restore point '{}' lies after {}, the server stops with"
                                + " 'recovery ended before configured recovery target was reached'",
                        missing,
                        m.objectKey(),
                        target.text(),
                        gapStart);
        }
        return new Reach(true, startName, newest, lsnOf(newest, segmentSize), r.timelines(), gap);
    }

    /**
     * With {@link Builder#refuseUnreachable}: a time target not before the archiving of the archive's newest segment
     * is refused. Every record recovery could replay was written before that segment was archived; to stop at a time
     * PostgreSQL must replay a commit after it, so it would reach the end of the archive and stop with "recovery ended
     * before configured recovery target was reached".
     */
    private void refuseAfterTheArchive(WalInventory inv, String newest, Object cluster, BackupManifest m) {
        Optional<Instant> t = target.instant();
        if (!refuseUnreachable || target.type() != RecoveryTarget.Type.TIME || t.isEmpty()) {
            return;
        }
        for (WalInventory.WalFile f : inv.committed(WalInventory.Type.SEGMENT)) {
            if (newest.equals(f.segment())) {
                Instant archived = archivedAt(f, cluster, m);
                if (!t.get().isBefore(archived)) {
                    throw new ConfigurationException(
                            "The target " + target.text() + " is not before the end of the WAL archive in "
                                    + store.location() + ": its newest segment, " + newest + ", was archived at "
                                    + archived + ", and recovery cannot reach a point after the last archived"
                                    + " change. Nothing was extracted. Choose an earlier target (or wait until the"
                                    + " server archived its WAL past it: archive_timeout).",
                            m.objectKey(),
                            store.location(),
                            null);
                }
                return;
            }
        }
    }

    /**
     * For {@link RecoveryTarget#LATEST}: refuses an archive whose signed head says its tail was deleted, or cannot be
     * trusted ({@link WalContinuity.Report#headProblem()}) — the newest archived WAL is not the latest state. With
     * {@link Builder#upToGap}, warns and restores what is there; with {@link Builder#ignoreHead} the head is not
     * consulted at all (gaps are still refused). A head on a timeline this restore does not follow
     * (an explicit {@code --target-timeline}) says nothing about it.
     */
    private void refuseLostTail(WalContinuity.Report r, BackupManifest m, String base) {
        String problem = r.headProblem();
        if (problem == null || target.type() != RecoveryTarget.Type.LATEST) {
            return;
        }
        if (ignoreHead) {
            LOG.warn("{}: ignored (--ignore-head), restoring up to {}", problem, r.newestSegment());
            return;
        }
        if (r.tailMissing() != null
                && !"latest".equals(timeline)
                && !r.timelines()
                        .contains(WalSegment.parse(r.tailMissing().headSegment(), WalSegment.DEFAULT_SIZE)
                                .timeline())) {
            return;
        }
        if (upToGap) {
            LOG.warn("{}: restoring what the archive holds, up to {} (--to-gap)", problem, r.newestSegment());
            return;
        }
        throw new IntegrityException(
                "Not restored to the latest: " + problem + ". Recovery from " + base + " would end at "
                        + r.newestSegment() + " and report success. Nothing was extracted. Push any segment still in"
                        + " the server's pg_wal again (wal-push pg_wal/NAME) and check with `wal-verify`; or restore"
                        + " what the archive holds on purpose with --ignore-head (when you know the head is wrong;"
                        + " gaps are still refused) or --to-gap, or to an earlier --target-time/--target-lsn."
                        + " See docs/pitr.md (The archive's head).",
                m.objectKey(),
                store.location(),
                null);
    }

    private static String lsnOf(String segment, long segmentSize) {
        return WalSegment.formatLsn(WalSegment.parse(segment, segmentSize).startLsn());
    }

    /**
     * When {@code f} was archived, as its authenticated manifest records it ({@code completedAt}: the push had read the
     * whole segment, so every record in it was written before).
     *
     * @throws IntegrityException when its manifest is gone or fails the check a fetch makes
     */
    private Instant archivedAt(WalInventory.WalFile f, Object cluster, BackupManifest base) {
        BackupManifest wal =
                WalArchive.manifest(store, trust, f.name(), cluster == null ? null : String.valueOf(cluster));
        if (wal == null) {
            throw new IntegrityException(
                    "The archived WAL file " + f.name() + " in " + store.location() + " lost its manifest while the"
                            + " archive was checked (a prune?). Nothing was extracted; restore again.",
                    base.objectKey(),
                    store.location(),
                    null);
        }
        return wal.completedAt();
    }

    /** The committed segment just before {@code first} on the followed timelines (the newest timeline first), or null. */
    private static WalInventory.WalFile segmentBefore(WalInventory inv, WalSegment first, List<Long> timelines) {
        if (first.number() == 0) {
            return null;
        }
        List<Long> newestFirst = new ArrayList<>(timelines);
        java.util.Collections.reverse(newestFirst);
        for (long tl : newestFirst) {
            String name = new WalSegment(tl, first.number() - 1, first.segmentSize()).name();
            for (WalInventory.WalFile f : inv.committed(WalInventory.Type.SEGMENT)) {
                if (name.equals(f.segment())) {
                    return f;
                }
            }
        }
        return null;
    }

    /**
     * Runs the restore_command the server will run, the way it will run it ({@code /bin/sh -c}, through
     * {@link PgChild} with the environment the started server gets, as the owner when root), to fetch the base
     * backup's first WAL segment into a temporary file; refuses, before the extraction is swapped in, when it fails. The
     * segment is kept in the {@linkplain Builder#readAheadSpool read-ahead spool} (when the restore_command filled
     * one) for the server's first request.
     */
    Path preflight(BackupManifest m, String command) {
        String first = fact(m, "startWalSegment");
        if (first == null || !WalSegment.isName(first)) {
            LOG.warn(
                    "{} records no start WAL segment: the restore_command is not tried before the extraction",
                    m.objectKey());
            return null;
        }
        Object size = m.sourceFacts().get("walSegmentSize");
        long segmentSize = size instanceof Number n ? n.longValue() : WalSegment.DEFAULT_SIZE;
        Path dir = null;
        try {
            // beside DIR (as the extraction's staging is), not in a small /tmp: what it reads ahead is moved into
            // DIR's pg_wal afterwards, a rename on the same file system
            Path parent = dataDirectory.toAbsolutePath().normalize().getParent();
            java.nio.file.attribute.FileAttribute<?> mode =
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
            dir = parent != null && Files.isDirectory(parent) && Files.isWritable(parent)
                    ? Files.createTempDirectory(parent, ".jiffoo-pitr-trial-", mode)
                    : Files.createTempDirectory("jiffoo-pitr-trial-", mode);
            if (owner != null) {
                RecoveryFiles.giveTo(dir, owner);
            }
            Path p = dir.resolve("RECOVERYXLOG");
            // in a stand-in of the data directory, where PostgreSQL runs it (relative paths resolve there)
            String line = (trialReadsAhead ? "" : "export " + TRIAL_READ_AHEAD_VARIABLE + "=0; ") + "cd "
                    + shellQuote(dir.toString()) + " && " + substitute(command, first, p.toString(), first);
            List<String> argv = new ArrayList<>();
            if (owner != null) {
                argv.addAll(RecoveryFiles.asUser(owner));
            }
            argv.addAll(List.of("/bin/sh", "-c", line));
            LOG.info("trying the restore_command on {} beside the extraction", first);
            PgChild child = PgChild.start(argv, null, ProcessBuilder.Redirect.PIPE, false);
            child.stdin().close();
            int exit = child.waitFor();
            long got = Files.isRegularFile(p) ? Files.size(p) : -1;
            if (exit != 0 || got != segmentSize) {
                String as = owner != null ? owner : System.getProperty("user.name");
                throw new ConfigurationException(
                        "The restore_command failed when run as the server will run it (/bin/sh -c, as " + as
                                + ", with only PATH, HOME, LANG, LC_*, TZ, TMPDIR and LD_LIBRARY_PATH of this"
                                + " environment) to fetch the base backup's first WAL segment " + first + ": "
                                + (exit != 0
                                        ? PgChild.exitText(exit) + (exit == 1 ? " (\"not found\")" : "")
                                        : "it exited 0 but wrote "
                                                + (got < 0 ? "no file" : got + " bytes, not " + segmentSize))
                                + (child.lastLines().isEmpty() ? "" : ": " + child.lastLines())
                                + ". The server would fail the same way. Nothing was restored: the data directory was left as it was. Check that "
                                + as
                                + " can run the launcher and read the key file and the --config file, that the"
                                + " store's credentials come from the --config file or an instance role (not from"
                                + " your shell's environment), and that a '%' in a path is written '%%'.",
                        first,
                        store.location(),
                        null);
            }
            Path spooled = readAheadSpool == null ? null : dir.resolve(readAheadSpool);
            if (spooled != null && Files.isRegularFile(spooled.resolve(WalPrefetch.SYSTEM_ID_FILE))) {
                // the server's first request: answered from the read-ahead spool like the segments after it
                Files.move(p, spooled.resolve(first), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.deleteIfExists(p);
            }
            Path kept = dir;
            dir = null;
            return kept; // the caller moves what it left in pg_wal, then deletes it
        } catch (IOException e) {
            throw new ConfigurationException(
                    "Could not try the restore_command before the extraction: " + e.getMessage(), e);
        } finally {
            if (dir != null) {
                deleteTree(dir);
            }
        }
    }

    private static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /**
     * The command PostgreSQL runs for {@code restore_command}: {@code %f}, {@code %p}, {@code %r} replaced, {@code %%}
     * made {@code %}.
     *
     * @throws ConfigurationException on another {@code %} placeholder or a {@code %} at the end, which PostgreSQL 16
     *         and later refuse (and 15 passes on as a bare {@code %}): a {@code %} meant literally is written {@code %%}
     */
    static String substitute(String command, String f, String p, String r) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < command.length(); i++) {
            char c = command.charAt(i);
            if (c != '%') {
                out.append(c);
                continue;
            }
            char next = i + 1 < command.length() ? command.charAt(i + 1) : 0;
            switch (next) {
                case 'f' -> out.append(f);
                case 'p' -> out.append(p);
                case 'r' -> out.append(r);
                case '%' -> out.append('%');
                default ->
                    throw new ConfigurationException("The restore_command holds '%"
                            + (next == 0 ? "" : String.valueOf(next)) + "' at position " + (i + 1) + ": PostgreSQL"
                            + " replaces only %f, %p, %r and %%; write a '%' meant literally (in a path or a store URI)"
                            + " as '%%'.");
            }
            i++;
        }
        return out.toString();
    }

    /** The settings for postgresql.auto.conf, in order. */
    Map<String, String> settings(BackupManifest m) {
        Map<String, String> s = new LinkedHashMap<>();
        Object cluster = m.sourceFacts().get("systemIdentifier");
        if (restoreCommand.contains(SYSTEM_ID_TOKEN) && cluster == null) {
            throw new ConfigurationException("The base backup " + m.objectKey() + " records no systemIdentifier for"
                    + " the restore_command's " + SYSTEM_ID_TOKEN + "; give a restore_command without it.");
        }
        s.put("restore_command", restoreCommand.replace(SYSTEM_ID_TOKEN, String.valueOf(cluster)));
        // always written: the base backup may carry another restore's in its postgresql.auto.conf
        s.put("recovery_end_command", recoveryEndCommand);
        // every target setting written, the unused ones empty and BEFORE the one used: the base backup may carry
        // another restore's target in its postgresql.auto.conf (a restored cluster backed up again); two targets make
        // PostgreSQL refuse, and it refuses as well when an empty one is assigned after the one in use
        for (String name : List.of(
                "recovery_target",
                "recovery_target_time",
                "recovery_target_lsn",
                "recovery_target_name",
                "recovery_target_xid")) {
            if (!target.setting().map(name::equals).orElse(false)) {
                s.put(name, "");
            }
        }
        s.put("recovery_target_inclusive", "on");
        s.put("recovery_min_apply_delay", "0");
        target.setting().ifPresent(name -> {
            s.put(name, target.text());
            s.put("recovery_target_action", action.setting());
            if (action == Action.PAUSE) {
                // without hot standby, PostgreSQL shuts down at the target instead of pausing there
                s.put("hot_standby", "on");
            }
        });
        s.put("recovery_target_timeline", timeline);
        if (!keepArchiving) {
            s.put("archive_mode", "off");
        }
        return s;
    }

    /** The data directory as a restore target: the directory's restore, then the recovery files on commit. */
    private record DataDirectoryTarget(DirectoryRestoreTarget directory, RecoveryFiles files, Runnable beforeSwap)
            implements RestoreTarget {
        @Override
        public String describe() {
            return "PostgreSQL data directory " + directory.target();
        }

        @Override
        public Optional<Path> localPath() {
            return directory.localPath();
        }

        @Override
        public void checkReady(BackupManifest manifest) {
            directory.checkReady(manifest); // refused before a byte of the base backup is read
        }

        @Override
        public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
            StagedRestore staged = directory.stage(plaintext, manifest);
            return new StagedRestore() {
                @Override
                public Map<String, Object> facts() {
                    return staged.facts();
                }

                @Override
                public void commit() throws IOException {
                    beforeSwap.run(); // the restore_command's trial must have passed: else DIR stays as it was
                    staged.commit();
                    // swapped in: from here on, DIR holds the base backup and its old content is gone
                    try {
                        files.write();
                    } catch (IOException | RuntimeException e) {
                        throw afterSwap(directory.target(), manifest, e);
                    }
                }

                @Override
                public void close() {
                    staged.close();
                }
            };
        }
    }

    /** The failure of a step after the swap: DIR holds the base backup now, not what it held before. */
    static RestoreException afterSwap(Path dir, BackupManifest m, Exception e) {
        boolean signal = Files.exists(dir.resolve("recovery.signal"));
        return new RestoreException(
                "The base backup " + m.objectKey() + " was extracted into " + dir + " (swapped in: any previous content"
                        + " is gone), but its recovery settings could not be written: " + e.getMessage() + ". " + dir
                        + (signal
                                ? " holds recovery.signal, but its postgresql.auto.conf may lack settings: do not"
                                        + " start it."
                                : " holds no recovery.signal, so PostgreSQL will not recover from it (it refuses to"
                                        + " start: no checkpoint record).")
                        + " Fix the cause and run restore pitr again with --replace.",
                m.objectKey(),
                dir.toString(),
                e);
    }

    /**
     * The environment variable with which the restore_command's trial asks {@code wal-fetch --spool} for a read-ahead
     * of N segments instead of its default ({@link Builder#trialReadsAhead}); an explicit {@code --read-ahead} wins.
     */
    public static final String TRIAL_READ_AHEAD_VARIABLE = "JIFFOO_WAL_READ_AHEAD";

    /** Builds a {@link PitrRestore}. Not thread-safe. */
    public static final class Builder {
        private final Sink store;
        private final Transform decryption;
        private final Path dataDirectory;
        private BackupTrust trust;
        private RecoveryTarget target = RecoveryTarget.LATEST;
        private Action action = Action.PROMOTE;
        private String timeline = "latest";
        private String restoreCommand;
        private String recoveryEndCommand = "";
        private String backup;
        private boolean overwrite;
        private String owner;
        private boolean keepArchiving;
        private boolean checkArchive;
        private boolean upToGap;
        private boolean ignoreHead;
        private boolean preflight = true;
        private boolean trialReadsAhead = true;
        private boolean refuseUnreachable;
        private String readAheadSpool;
        private BackupListener listener = BackupListener.NONE;

        private Builder(Sink store, Transform decryption, Path dataDirectory) {
            this.store = Objects.requireNonNull(store, "store");
            this.decryption = Objects.requireNonNull(decryption, "decryption");
            this.dataDirectory = Objects.requireNonNull(dataDirectory, "dataDirectory")
                    .toAbsolutePath()
                    .normalize();
        }

        /** Which manifests are trusted (default: {@code BackupTrust.of(decryption)}, as a restore checks them). */
        public Builder trust(BackupTrust trust) {
            this.trust = Objects.requireNonNull(trust, "trust");
            return this;
        }

        /** Where recovery stops (default {@link RecoveryTarget#LATEST}). */
        public Builder target(RecoveryTarget target) {
            this.target = Objects.requireNonNull(target, "target");
            return this;
        }

        /** What the server does at the target (default {@link Action#PROMOTE}). */
        public Builder action(Action action) {
            this.action = Objects.requireNonNull(action, "action");
            return this;
        }

        /** {@code recovery_target_timeline}: {@code latest} (default), {@code current}, or a number. */
        public Builder timeline(String timeline) {
            if (timeline == null || !timeline.matches("latest|current|[1-9][0-9]{0,9}|0x[0-9A-Fa-f]{1,8}")) {
                throw new ConfigurationException(
                        "The target timeline is 'latest', 'current' or a timeline number; got '" + timeline + "'.");
            }
            this.timeline = timeline;
            return this;
        }

        /**
         * The {@code restore_command} PostgreSQL runs for each WAL file ({@code %f}: its name, {@code %p}: where to
         * put it). It is written into the data directory as it is: it must name everything it needs (no secrets —
         * the directory is not a place for them), and run as the server's user.
         */
        public Builder restoreCommand(String command) {
            if (command == null || !command.contains("%f") || !command.contains("%p") || command.contains("\n")) {
                throw new ConfigurationException("The restore_command must be one line with %f (the WAL file's name)"
                        + " and %p (where to put it), e.g. 'cp /archive/%f %p'.");
            }
            this.restoreCommand = command;
            return this;
        }

        /**
         * The {@code recovery_end_command} PostgreSQL runs once when recovery ends (e.g. removing a read-ahead spool:
         * {@code rm -rf pg_wal/jiffoo-prefetch}; it runs in the data directory). Default: none (written empty).
         */
        public Builder recoveryEndCommand(String command) {
            if (command == null || command.contains("\n")) {
                throw new ConfigurationException("The recovery_end_command must be one line.");
            }
            this.recoveryEndCommand = command;
            return this;
        }

        /** Restores this base backup (its key, data or manifest) instead of choosing one. */
        public Builder backup(String key) {
            this.backup = Objects.requireNonNull(key, "key");
            return this;
        }

        /** Replaces the content of a non-empty data directory (default false: refused). */
        public Builder overwrite(boolean overwrite) {
            this.overwrite = overwrite;
            return this;
        }

        /**
         * The OS user who owns the restored files (the server's user). Only root can give files away: when running as
         * root the default is {@code postgres}; otherwise the files belong to the user running the restore, and
         * another owner is refused.
         */
        public Builder owner(String user) {
            this.owner = Objects.requireNonNull(user, "user");
            return this;
        }

        /** Keeps the restored configuration's {@code archive_mode} (default false: {@code archive_mode = 'off'}). */
        public Builder keepArchiving(boolean keep) {
            this.keepArchiving = keep;
            return this;
        }

        /**
         * The restore_command fetches from this store's WAL archive ({@code wal-fetch}): before anything is
         * extracted, its continuity is checked from the base backup's start segment on, along the timelines
         * recovery will follow ({@link WalContinuity}), and a gap recovery would stop at is refused — one before the
         * base backup's end, one before the target, and for {@link RecoveryTarget#LATEST} any (unless
         * {@link #upToGap}). Default false: a restore_command of your own fetches from elsewhere.
         */
        public Builder checkArchive(boolean check) {
            this.checkArchive = check;
            return this;
        }

        /**
         * With {@link RecoveryTarget#LATEST} and {@link #checkArchive}: accept a gap after the base backup's end and
         * replay up to it (PostgreSQL ends recovery at the first missing segment and promotes), and accept an archive
         * whose signed head says its newest segments are missing, or cannot be trusted
         * ({@link WalContinuity.Report#headProblem()}), replaying what it holds. Default false: both are refused.
         */
        public Builder upToGap(boolean upToGap) {
            this.upToGap = upToGap;
            return this;
        }

        /**
         * With {@link RecoveryTarget#LATEST} and {@link #checkArchive}: do not consult the archive's signed head
         * ({@link WalContinuity.Report#headProblem()}: a lost tail, an invalid or a deleted head) — for a head known
         * to be wrong, e.g. garbage written by someone with write access, or one naming a segment of a timeline
         * pruned since. Unlike {@link #upToGap}, a gap is still refused. Default false.
         */
        public Builder ignoreHead(boolean ignoreHead) {
            this.ignoreHead = ignoreHead;
            return this;
        }

        /**
         * Before anything is extracted, run the restore_command as the server will (default true) to fetch the base
         * backup's first WAL segment, and refuse when it fails.
         */
        public Builder preflight(boolean preflight) {
            this.preflight = preflight;
            return this;
        }

        /**
         * Whether the restore_command's trial may read ahead (default true: {@code wal-fetch --spool} fetches the
         * next segments too, which the server's first requests then find). False runs the trial with
         * {@value #TRIAL_READ_AHEAD_VARIABLE}{@code =0} in its environment, so that it fetches the first segment only:
         * for a restore that reads ahead itself while the server replays ({@link #readAhead}), which then has the
         * extraction's CPU to itself instead of sharing it with a second JVM decrypting 16 segments.
         */
        public Builder trialReadsAhead(boolean readAhead) {
            this.trialReadsAhead = readAhead;
            return this;
        }

        /**
         * Refuse, as a {@link ConfigurationException} before anything is extracted, a target outside what the store
         * can recover (default false): a target before the end of every base backup (without it: a
         * {@link NotFoundException}), and with {@link #checkArchive} a time not before the archiving of the newest
         * archived segment (without it: left to the server, which stops with "recovery ended before configured
         * recovery target was reached"). For a restore drill, where such a target is a mistake of its settings.
         */
        public Builder refuseUnreachable(boolean refuse) {
            this.refuseUnreachable = refuse;
            return this;
        }

        /**
         * The restore_command's read-ahead spool ({@code wal-fetch --spool}), relative to the data directory, e.g.
         * {@code pg_wal/jiffoo-prefetch} (default none). With {@link #checkArchive}, the restore leaves there, in
         * {@value WalPrefetch#NEWEST_TIMELINE_FILE}, the newest timeline that had a history file in the store when it
         * was listed, dated to the listing: the launcher answers "not found" to PostgreSQL's probes for later
         * timelines' history files (at the start of recovery and when it picks its new timeline) without starting
         * Java, for {@value WalPrefetch#NEWEST_TIMELINE_SECONDS} s after the listing.
         */
        public Builder readAheadSpool(String relativePath) {
            Path p = Path.of(Objects.requireNonNull(relativePath, "relativePath"));
            if (p.isAbsolute() || p.normalize().startsWith("..")) {
                throw new ConfigurationException(
                        "The read-ahead spool must be a path inside the data directory, not " + relativePath + ".");
            }
            this.readAheadSpool = relativePath;
            return this;
        }

        /** Progress of the restore (default none). */
        public Builder listener(BackupListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * Builds the restore.
         *
         * @throws ConfigurationException when no restore_command was given, or an owner other than the running user
         *         was given without root
         */
        public PitrRestore build() {
            if (restoreCommand == null) {
                throw new ConfigurationException("A point-in-time restore needs a restore_command (restoreCommand).");
            }
            if (upToGap && target.type() != RecoveryTarget.Type.LATEST) {
                throw new ConfigurationException("Restoring up to a gap replays everything before it: it takes no"
                        + " other target (" + target + ").");
            }
            substitute(restoreCommand, "F", "P", "R"); // PostgreSQL 16+ refuses a stray %
            owner = RecoveryFiles.checkOwner(owner);
            return new PitrRestore(this);
        }
    }
}
