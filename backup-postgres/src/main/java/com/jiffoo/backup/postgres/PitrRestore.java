package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupListener;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.Transform;
import com.jiffoo.backup.files.DirectoryRestoreTarget;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
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
     */
    public record Result(Plan plan, Path dataDirectory, Map<String, String> settings, RestoreResult restore) {}

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
        throw new NotFoundException(
                "No base backup in " + store.location() + " ends before the target " + target + ": the oldest, "
                        + oldest.objectKey() + ", ended at " + stopTime(oldest) + " (WAL " + fact(oldest, "stopLsn")
                        + "). A point-in-time restore can only reach points after the end of a base backup it starts"
                        + " from.",
                null,
                store.location(),
                null);
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
        RecoveryFiles files = new RecoveryFiles(dataDirectory, owner, settings, plan.manifest());
        RestoreTarget directory = new DataDirectoryTarget(
                DirectoryRestoreTarget.builder(dataDirectory)
                        .replaceExisting(overwrite)
                        .build(),
                files);
        RestoreResult r = RestorePipeline.builder()
                .sink(store)
                .decryption(decryption)
                .trust(trust)
                .target(directory)
                .listener(listener)
                .build()
                .restore(plan.manifest().objectKey());
        return new Result(plan, dataDirectory, settings, r);
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
        });
        s.put("recovery_target_timeline", timeline);
        if (!keepArchiving) {
            s.put("archive_mode", "off");
        }
        return s;
    }

    /** The data directory as a restore target: the directory's restore, then the recovery files on commit. */
    private record DataDirectoryTarget(DirectoryRestoreTarget directory, RecoveryFiles files) implements RestoreTarget {
        @Override
        public String describe() {
            return "PostgreSQL data directory " + directory.target();
        }

        @Override
        public Optional<Path> localPath() {
            return directory.localPath();
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
                    staged.commit();
                    files.write();
                }

                @Override
                public void close() {
                    staged.close();
                }
            };
        }
    }

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
            owner = RecoveryFiles.checkOwner(owner);
            return new PitrRestore(this);
        }
    }
}
