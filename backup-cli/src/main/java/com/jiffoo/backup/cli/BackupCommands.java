package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.PartialBackupException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.Source;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.files.Compression;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.files.FileChain;
import com.jiffoo.backup.internal.StoreOverlap;
import com.jiffoo.backup.postgres.BaseBackupSource;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PostgresSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code backup database} and {@code backup files}. */
@Command(
        name = "backup",
        description = "Makes a new backup: `backup database`, `backup files` or `backup base`.",
        mixinStandardHelpOptions = true,
        subcommands = {BackupCommands.Database.class, BackupCommands.Files.class, BackupCommands.Base.class})
final class BackupCommands {

    private BackupCommands() {}

    /**
     * Runs one backup of {@code source} into the configured store and its copies, and reports it: with copies,
     * {@code summary} gets a {@code stores} array (location, status {@code committed} or {@code failed}, the error),
     * and a copy that failed ends the run with exit 11 after the others committed.
     */
    static void backup(CliCommand cmd, Source source, Map<String, Object> summary) {
        backup(cmd, stores -> source, summary);
    }

    /**
     * A backup whose source depends on what the stores hold (the store first, then its copies): an increment of the
     * store's newest backup.
     */
    static void backup(
            CliCommand cmd, java.util.function.Function<List<Sink>, Source> sourceFor, Map<String, Object> summary) {
        OpenPgpTransform pgp = Encryption.forBackup(cmd.settings);
        List<Sink> stores = Stores.openAll(cmd.settings);
        try {
            Source source = sourceFor.apply(stores);
            BackupPipeline.Builder b = BackupPipeline.builder()
                    .source(source)
                    .encryption(pgp)
                    .sink(stores.get(0))
                    .listener(cmd.progress());
            stores.stream().skip(1).forEach(b::copy);
            BackupManifest m;
            PartialBackupException partial = null;
            try {
                m = b.build().run();
            } catch (PartialBackupException e) {
                partial = e;
                m = e.manifest();
            }
            PartialBackupException p = partial;
            Sink store = stores.stream()
                    .filter(x -> p == null || p.committed().contains(x.location()))
                    .findFirst()
                    .orElseThrow();
            summary.putAll(CliCommand.describe(m, store));
            summary.put("durationMs", m.duration().toMillis());
            if (stores.size() > 1) {
                List<Map<String, Object>> where = new ArrayList<>();
                for (Sink x : stores) {
                    Map<String, Object> d = new LinkedHashMap<>();
                    d.put("location", x.location());
                    BackupException failed = p == null ? null : p.failures().get(x.location());
                    d.put("status", failed == null ? "committed" : "failed");
                    if (failed != null) {
                        d.put("error", failed.code().name());
                        d.put("message", CliCommand.forOperators(failed.getMessage()));
                    }
                    where.add(d);
                }
                summary.put("stores", where);
            }
            cmd.say("backed up " + source.describe() + " to " + CliCommand.where(store, m.objectKey()));
            cmd.say(String.format(
                    Locale.ROOT,
                    "  %s stored (%s plaintext) in %.1f s, sha256 %s",
                    Terminal.bytes(m.objectSize()),
                    Terminal.bytes(m.plaintextSize()),
                    m.duration().toMillis() / 1000.0,
                    m.objectSha256()));
            for (Sink x : stores.subList(1, stores.size())) {
                if (p == null || p.committed().contains(x.location())) {
                    cmd.say("  copy committed in " + x.location());
                }
            }
            if (p != null) {
                throw p; // exit 11: the message names each failed store
            }
        } finally {
            CliCommand.close(stores);
        }
    }

    /** {@code backup database}: pg_dump -Fc of DB_NAME, encrypted, into the store. */
    @Command(
            name = "database",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Backs up the database DB_NAME on DB_HOST:DB_PORT as DB_USER with pg_dump (custom format),"
                        + " encrypted with ENCRYPTION_KEY_FILE, into the store as database/db_backup_YYYYMMDD_HHMMSS.sql.gpg"
                        + " (+ .sha256, + .manifest.json written last).",
                "The password (DB_PASSWORD) reaches pg_dump through its environment only."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:backed up",
                " 2:bad or missing setting",
                " 3:pg_dump failed",
                " 4:the store failed (with copies: every store failed)",
                "11:committed in some stores, failed in others (copies; the message names them)",
                " 1:internal error"
            })
    static final class Database extends CliCommand {
        @picocli.CommandLine.Mixin
        DbOptions db;

        @Option(
                names = "--compression-level",
                paramLabel = "0-9",
                description =
                        "pg_dump -Z (default 9, the" + " runbook's; 1 is much faster for a slightly larger file).")
        Integer compressionLevel;

        @Option(
                names = "--compression-threads",
                paramLabel = "N",
                description = "Threads that compress the dump beside pg_dump (default: one per processor). 0 lets"
                        + " pg_dump compress on its one core, as before; the archive is pg_dump's custom format either"
                        + " way.")
        Integer compressionThreads;

        @Option(
                names = "--exclude-table",
                paramLabel = "PATTERN",
                description = "pg_dump --exclude-table (repeatable).")
        List<String> excludeTables = new ArrayList<>();

        @Option(names = "--no-owner", description = "pg_dump --no-owner --no-privileges.")
        boolean noOwner;

        @Option(
                names = "--fingerprint-table",
                paramLabel = "TABLE",
                description = "Record a content fingerprint of this table (schema.table) in the manifest, computed by"
                        + " PostgreSQL in the dump's snapshot, for `drill database --check-table` (repeatable;"
                        + " reads the table once more).")
        List<String> fingerprintTables = new ArrayList<>();

        @Override
        void flags(Settings s) {
            db.apply(s);
        }

        @Override
        void run(Map<String, Object> summary) {
            PgConnection connection = Databases.connection(settings);
            PostgresSource.Builder b =
                    PostgresSource.builder(connection).noOwner(noOwner).noPrivileges(noOwner);
            if (compressionLevel != null) {
                b.compressionLevel(compressionLevel);
            }
            if (compressionThreads != null) {
                b.compressionThreads(compressionThreads);
            }
            excludeTables.forEach(b::excludeTable);
            fingerprintTables.forEach(b::fingerprintTable);
            backup(this, b.build(), summary);
        }
    }

    /** {@code backup files}: a tar of SOURCE_DIR, compressed and encrypted, into the store. */
    @Command(
            name = "files",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = "Backs up the directory SOURCE_DIR (or DIR), or the objects of the bucket --from"
                    + " (SOURCE_BUCKET), as a tar (gzip, or zstd), encrypted with ENCRYPTION_KEY_FILE, into the store"
                    + " as files/files_backup_YYYYMMDD_HHMMSS.tar.gz.gpg.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:backed up",
                " 2:bad or missing setting",
                " 3:the directory or bucket could not be read (or holds a key that is no safe path)",
                " 4:the store failed (with copies: every store failed)",
                "11:committed in some stores, failed in others (copies; the message names them)",
                " 1:internal error"
            })
    static final class Files extends CliCommand {
        @Parameters(arity = "0..1", paramLabel = "DIR", description = "The directory; default SOURCE_DIR.")
        String dir;

        @Option(
                names = "--from",
                paramLabel = "BUCKET",
                description = "Back up the objects of a bucket instead of a directory: s3://bucket/prefix or"
                        + " minio://host:port/bucket/prefix (SOURCE_BUCKET). Its endpoint and credentials: the"
                        + " UPLOADS_* settings when any is set, else the store's (docs/runbook-files.md).")
        String from;

        @Option(names = "--compression", paramLabel = "gzip|zstd", description = "Default gzip (.tar.gz).")
        Compression compression;

        @Option(
                names = "--incremental",
                description = "Store only what changed since the newest backup of this directory's chain (GNU tar"
                        + " listed-incremental records: restore applies the chain; by hand, gpg -d | tar -x -g"
                        + " /dev/null on each link in order, docs/incremental.md). Makes a full backup, and says so,"
                        + " when there is none to build on, after FILES_FULL_EVERY increments, when the chain's full"
                        + " backup is a day old, when the chain cannot be restored (a link missing or replaced), when"
                        + " a copy store lacks the parent or when the store cannot be listed (the copies still get"
                        + " one).")
        boolean incremental;

        @Option(
                names = "--full-every",
                paramLabel = "N",
                description = "With --incremental: a full backup after N increments (FILES_FULL_EVERY; default "
                        + FileChain.DEFAULT_FULL_EVERY + ", with hourly backups one full backup a day).")
        String fullEvery;

        @Override
        void flags(Settings s) {
            s.flag("SOURCE_DIR", dir);
            s.flag("SOURCE_BUCKET", from);
            s.flag("FILES_FULL_EVERY", fullEvery);
        }

        @Override
        void run(Map<String, Object> summary) throws java.io.IOException {
            if (settings.get("SOURCE_BUCKET").isPresent() && (dir == null || from != null)) {
                if (dir != null) {
                    throw new com.jiffoo.backup.ConfigurationException(
                            "give either a directory or --from BUCKET, not both.");
                }
                try (com.jiffoo.backup.store.ObjectBucket bucket = Buckets.open(
                        settings, settings.get("SOURCE_BUCKET").get(), from != null ? "--from" : "SOURCE_BUCKET")) {
                    backupBucket(bucket, summary);
                }
                return;
            }
            Path source = Path.of(settings.require(
                    "SOURCE_DIR",
                    "set SOURCE_DIR to the directory to back up, e.g."
                            + " SOURCE_DIR=/srv/jiffoo/uploads, or give it as an argument"));
            if (!java.nio.file.Files.isDirectory(source)) {
                throw new com.jiffoo.backup.ConfigurationException("SOURCE_DIR is " + source.toAbsolutePath()
                        + ", which is not a directory; set SOURCE_DIR to the directory to back up.");
            }
            DirectorySource.Builder b = DirectorySource.builder(source);
            if (compression != null) {
                b.compression(compression);
            }
            if (!incremental) {
                backup(this, b.build(), summary);
                return;
            }
            FileChain policy = FileChain.policy(
                    settings.integer("FILES_FULL_EVERY", FileChain.DEFAULT_FULL_EVERY, 1),
                    FileChain.DEFAULT_FULL_AFTER);
            backup(
                    this,
                    stores -> {
                        FileChain.Plan plan = policy.plan(
                                stores,
                                store -> StoredBackups.of(store, Encryption.trust(settings))
                                        .committed("files"),
                                source,
                                java.time.Instant.now());
                        say("incremental: " + plan.reason());
                        summary.put("incremental", plan.parent().isPresent());
                        plan.parent().ifPresent(p -> summary.put("parent", p.id()));
                        summary.put("chainPlan", plan.reason());
                        return b.chain(plan.parent().orElse(null)).build();
                    },
                    summary);
        }

        private void backupBucket(com.jiffoo.backup.store.ObjectBucket bucket, Map<String, Object> summary) {
            String where = from != null ? "--from" : "SOURCE_BUCKET";
            com.jiffoo.backup.files.BucketSource.Builder b = com.jiffoo.backup.files.BucketSource.builder(bucket);
            if (compression != null) {
                b.compression(compression);
            }
            if (!incremental) {
                backup(
                        this,
                        stores -> {
                            // the pipeline refuses it too; here first, naming the flag
                            Buckets.refuseOverlap(stores, bucket, where, StoreOverlap.Use.BACKUP);
                            return b.build();
                        },
                        summary);
                return;
            }
            FileChain policy = FileChain.policy(
                    settings.integer("FILES_FULL_EVERY", FileChain.DEFAULT_FULL_EVERY, 1),
                    FileChain.DEFAULT_FULL_AFTER);
            backup(
                    this,
                    stores -> {
                        Buckets.refuseOverlap(stores, bucket, where, StoreOverlap.Use.BACKUP);
                        FileChain.Plan plan = policy.planBucket(
                                stores,
                                store -> StoredBackups.of(store, Encryption.trust(settings))
                                        .committed("files"),
                                bucket.location(),
                                java.time.Instant.now());
                        say("incremental: " + plan.reason());
                        summary.put("incremental", plan.parent().isPresent());
                        plan.parent().ifPresent(p -> summary.put("parent", p.id()));
                        summary.put("chainPlan", plan.reason());
                        return b.chain(plan.parent().orElse(null)).build();
                    },
                    summary);
        }
    }

    /** {@code backup base}: a physical base backup of the whole cluster, for point-in-time restores. */
    @Command(
            name = "base",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Backs up the whole PostgreSQL cluster on DB_HOST:DB_PORT with pg_basebackup (tar, no WAL),"
                        + " compressed with zstd on all cores and encrypted with ENCRYPTION_KEY_FILE, into the store"
                        + " as base/base_backup_YYYYMMDD_HHMMSS.tar.zst.gpg: the starting point of `restore pitr`,"
                        + " with WAL archiving on (docs/pitr.md).",
                "DB_USER needs the REPLICATION attribute and the server a pg_hba.conf line of type replication for"
                        + " this host. The password (DB_PASSWORD) reaches pg_basebackup through its environment only."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:backed up",
                " 2:bad or missing setting; replication refused; tablespaces; pg_basebackup too old",
                " 3:pg_basebackup failed",
                " 4:the store failed (with copies: every store failed)",
                "11:committed in some stores, failed in others (copies; the message names them)",
                " 1:internal error"
            })
    static final class Base extends CliCommand {
        @picocli.CommandLine.Mixin
        DbOptions db;

        @Option(names = "--compression-level", paramLabel = "1-19", description = "zstd level (default 3).")
        Integer compressionLevel;

        @Option(
                names = "--allow-no-archive",
                description = "Take the base backup even though the server's archive_mode is off (refused by"
                        + " default: it holds no WAL and none is archived, so it restores only with WAL supplied by"
                        + " other means; WAL retention ignores it).")
        boolean allowNoArchive;

        @Override
        void flags(Settings s) {
            db.apply(s);
        }

        @Override
        void run(Map<String, Object> summary) {
            BaseBackupSource.Builder b =
                    BaseBackupSource.builder(Databases.cluster(settings)).allowNoArchive(allowNoArchive);
            if (compressionLevel != null) {
                b.compressionLevel(compressionLevel);
            }
            backup(this, b.build(), summary);
        }
    }
}
