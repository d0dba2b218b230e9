package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoreFallback;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.files.DirectoryRestoreTarget;
import com.jiffoo.backup.internal.StoreOverlap;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PostgresRestoreTarget;
import com.jiffoo.backup.postgres.RowCountCheck;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code restore database}, {@code restore files} and {@code restore pitr}. */
@Command(
        name = "restore",
        description = "Restores a backup: `restore database`, `restore files` or `restore pitr` (a cluster to a point"
                + " in time).",
        mixinStandardHelpOptions = true,
        subcommands = {RestoreCommands.Database.class, RestoreCommands.Files.class, PitrCommand.class})
final class RestoreCommands {
    private static final String BACKUP_HELP = "The backup: its s3:// URI (s3://bucket/prefix/database/db_backup_…"
            + ".sql.gpg), its key in the store (database/db_backup_….sql.gpg), or a local file with its .sha256 and"
            + " .manifest.json next to it.";

    private RestoreCommands() {}

    /** The options naming which backup to restore. */
    static final class Which {
        @Parameters(arity = "0..1", paramLabel = "BACKUP", description = BACKUP_HELP)
        String backup;

        @Option(names = "--latest", description = "The newest committed backup of this kind in the store.")
        boolean latest;

        @Option(
                names = "--as-of",
                paramLabel = "TIME",
                description = "The newest committed backup of this kind completed at or before TIME (ISO-8601,"
                        + " e.g. 2026-03-01T12:00:00Z). An increment brings its whole chain.")
        String asOf;

        /** Refuses none or more than one of BACKUP, --latest and --as-of. */
        void requireOne(String kind) {
            if ((backup != null ? 1 : 0) + (latest ? 1 : 0) + (asOf != null ? 1 : 0) != 1) {
                throw new ConfigurationException("name the backup to restore (its s3:// URI, key or file), or pass"
                        + " --latest for the newest " + kind + " backup, or --as-of TIME; only one of them.");
            }
        }

        /** The time of --as-of, or null. */
        java.time.Instant asOfTime() {
            if (asOf == null) {
                return null;
            }
            try {
                return java.time.Instant.parse(asOf);
            } catch (java.time.format.DateTimeParseException e) {
                throw new ConfigurationException(
                        "--as-of is '" + asOf + "', which is not a time; give it as 2026-03-01T12:00:00Z (UTC).");
            }
        }
    }

    /** Restores the backup {@code which} names into {@code target} and reports it. */
    static RestoreResult restore(
            CliCommand cmd, Which which, String kind, RestoreTarget target, Map<String, Object> summary) {
        return restore(cmd, which, kind, target, summary, null);
    }

    /** {@link #restore(CliCommand, Which, String, RestoreTarget, Map)} with the decryption set up already. */
    static RestoreResult restore(
            CliCommand cmd,
            Which which,
            String kind,
            RestoreTarget target,
            Map<String, Object> summary,
            OpenPgpTransform decryption) {
        which.requireOne(kind);
        java.time.Instant asOf = which.asOfTime();
        Stores.Candidates at = Stores.candidates(cmd.settings, which.backup);
        try {
            OpenPgpTransform pgp = decryption != null ? decryption : Encryption.forRestore(cmd.settings);
            com.jiffoo.backup.BackupTrust trust = Encryption.trust(cmd.settings, pgp);
            // --latest with copies: the newest backup in any store (one may have missed the last backup), else each
            // store's own newest, so that a store's refusal is reported as it is without copies
            String key = at.key() == null && at.stores().size() > 1 && asOf == null
                    ? StoreFallback.newest(at.stores(), kind, trust).orElse(null)
                    : at.key();
            StoreFallback.Served<RestoreResult> served = StoreFallback.first(at.stores(), "restore", store -> {
                RestorePipeline p = RestorePipeline.builder()
                        .sink(store)
                        .protect(at.stores())
                        .decryption(pgp)
                        .trust(trust)
                        .target(target)
                        .listener(cmd.progress())
                        .build();
                return key != null ? p.restore(key) : asOf != null ? p.restoreAsOf(kind, asOf) : p.restoreLatest(kind);
            });
            RestoreResult r = served.value();
            Sink store = served.store();
            summary.put("backup", CliCommand.describe(r.manifest(), store));
            summary.put("target", target.describe());
            summary.put("durationMs", r.elapsed().toMillis());
            summary.put("store", store.location());
            if (!served.failures().isEmpty()) {
                summary.put("storeFailures", CliCommand.storeFailures(served.failures()));
            }
            cmd.say("restored " + CliCommand.where(store, r.manifest().objectKey()) + " into " + target.describe()
                    + String.format(Locale.ROOT, " in %.1f s", r.elapsed().toMillis() / 1000.0));
            if (r.facts().get("chain") instanceof java.util.List<?> chain) {
                summary.put("chain", chain);
                cmd.say("  an increment: applied its chain of " + chain.size() + " backups in order, " + chain.get(0)
                        + " (full) first");
            }
            if ("files".equals(kind) && r.facts().get("files") != null) {
                for (String f : java.util.List.of(
                        "links", "files", "directories", "symlinks", "bytes", "deleted", "treeCheck")) {
                    if (r.facts().get(f) != null) {
                        summary.put(f, r.facts().get(f));
                    }
                }
                cmd.say("  the restored tree: " + r.facts().get("files") + " files, "
                        + r.facts().get("directories")
                        + " directories, " + r.facts().get("symlinks") + " symlinks, "
                        + r.facts().get("bytes")
                        + " bytes"
                        + (r.facts().get("links") != null
                                ? "; " + r.facts().get("links") + " links applied, "
                                        + r.facts().get("deleted") + " entries deleted by the increments; checked: "
                                        + r.facts().get("treeCheck")
                                : ""));
            }
            for (StoreFallback.Failure f : served.failures()) {
                cmd.say("  from the copy in " + store.location() + ": the store "
                        + f.store().location()
                        + " could not serve it (" + f.error().code() + ": "
                        + CliCommand.forOperators(f.error().getMessage()) + ")");
            }
            return r;
        } finally {
            CliCommand.close(at.stores());
        }
    }

    /**
     * {@code restore database}: into DB_NAME, created when it does not exist and refused when it does, unless
     * --existing (restore over it) or --into NAME (a new database NAME) says otherwise.
     */
    @Command(
            name = "database",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Restores a database backup with pg_restore into DB_NAME (or --db-name), or into a new"
                        + " database --into NAME. A database that does not exist is created first and dropped again if"
                        + " anything fails; the backup is checked (manifest, checksum, decryption) while it streams, then"
                        + " every table's row count is compared with the backup's manifest.",
                "A DB_NAME that exists is refused (exit 2, untouched) unless --existing is given: then the backup"
                        + " is restored into a fresh database next to DB_NAME (same owner, encoding, locale,"
                        + " privileges, settings), which replaces DB_NAME by a rename only when every check"
                        + " passed: a failure leaves the old content. The old database is dropped, or kept (and"
                        + " named) when it holds tables the backup lacks. Works for partitioned schemas. Stop the"
                        + " application first: no session may be connected."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:restored and row counts match",
                " 2:bad or missing setting; the database exists (without --existing) or does not (with"
                        + " --existing)",
                " 4:the store failed",
                " 5:the backup is damaged, or the restored" + " row counts differ",
                " 6:the key does not open it",
                " 7:pg_restore failed (target unchanged)",
                " 8:no such backup",
                " 1:internal error"
            })
    static final class Database extends CliCommand {
        @picocli.CommandLine.Mixin
        Which which;

        @Option(
                names = "--into",
                paramLabel = "NAME",
                description = "Restore into a new database NAME instead of"
                        + " DB_NAME (it must not exist; it is created, and dropped again on failure).")
        String into;

        @Option(
                names = "--existing",
                description = "DB_NAME exists: replace it by the restored backup (restored"
                        + " next to it, swapped in by name when every check passed).")
        boolean existing;

        @Option(
                names = "--jobs",
                paramLabel = "N",
                description = "pg_restore -j N (spools the decrypted dump to a" + " 0600 temporary file first).",
                defaultValue = "1")
        int jobs = 1;

        @Option(
                names = "--no-owner",
                description = "pg_restore --no-owner --no-privileges (when the dump's roles do"
                        + " not exist on this server).")
        boolean noOwner;

        @picocli.CommandLine.Mixin
        DbOptions db;

        /** A run of {@code restore database} read by {@link #parse}: the command and the global options' values. */
        record Parsed(Database command, GlobalOptions.Values values) {}

        /**
         * Runs {@code restore database} without building picocli's model when its command line is of a plain form
         * ({@link #parse}): the start of a restore is on the critical path of an emergency, and picocli's model
         * costs ~0.1 s of it. The run is the same {@link CliCommand#call(GlobalOptions.Values, String)}.
         *
         * @return the exit code, or null when picocli must read {@code args}
         */
        static Integer fastPath(String[] args) {
            Parsed p = parse(args);
            if (p == null) {
                return null;
            }
            WarmUp.start(RestoreCommands.class, args);
            return p.command().call(p.values(), "restore database");
        }

        /**
         * {@code args} as picocli would read them, when they are {@code restore database} with global options before
         * or after the two words, then the backup (its name, {@code --latest} or {@code --as-of}), {@code --into},
         * {@code --existing}, {@code --jobs}, {@code --no-owner}, {@code --db-host}, {@code --db-port},
         * {@code --db-name}, {@code --db-user}, {@code --json} and {@code --metrics-file}, each at most once, values
         * after a space or {@code =}; null for anything else ({@link FastArgs}).
         */
        static Parsed parse(String[] args) {
            if (!java.util.Arrays.asList(args).contains("database")) {
                return null; // another command: nothing of this one is loaded for it
            }
            FastArgs f = new FastArgs(args, 0);
            Database d = new Database();
            d.which = new Which();
            d.db = new DbOptions();
            GlobalOptions.Values v = f.values();
            int words = 0; // 1 after "restore", 2 after "database"
            int copyToAt = -1; // where --copy-to was given: picocli keeps only the last side's
            try {
                while (f.hasNext()) {
                    if (!FastArgs.isOption(f.peek())) {
                        String a = f.positional();
                        if (words < 2 && a.equals(words == 0 ? "restore" : "database")) {
                            words++;
                        } else if (words == 2 && d.which.backup == null) {
                            d.which.backup = a;
                        } else {
                            return null;
                        }
                        continue;
                    }
                    if (words == 1) {
                        return null; // an option of `restore` itself: picocli
                    }
                    String o = f.take();
                    if (f.global(o)) {
                        if (o.equals("--copy-to")) {
                            if (copyToAt >= 0 && copyToAt != words) {
                                return null; // before and after the command: picocli's second list replaces the first
                            }
                            copyToAt = words;
                        }
                    } else if (o.equals("--json")) {
                        f.flag(o);
                        v.json = true;
                    } else if (o.equals("--metrics-file")) {
                        v.metricsFile = Path.of(f.value(o));
                    } else if (words != 2 || !d.option(f, o)) {
                        return null;
                    }
                    if (words == 0 && f.lastValue() != null && isCommandName(f.lastValue())) {
                        return null; // picocli takes a command's name before the command for that command
                    }
                }
            } catch (FastArgs.GiveUp e) {
                return null;
            }
            return words == 2 ? new Parsed(d, f.values()) : null;
        }

        /** Whether {@code word} names a command of the top level (picocli would start that command there). */
        private static boolean isCommandName(String word) {
            return word.equals("help") || Main.NAMES.contains(word);
        }

        /** Takes the option {@code o} of this command from {@code f}; false when it is not one. */
        private boolean option(FastArgs f, String o) {
            switch (o) {
                case "--latest" -> {
                    f.flag(o);
                    which.latest = true;
                }
                case "--existing" -> {
                    f.flag(o);
                    existing = true;
                }
                case "--no-owner" -> {
                    f.flag(o);
                    noOwner = true;
                }
                case "--as-of" -> which.asOf = f.value(o);
                case "--into" -> into = f.value(o);
                case "--db-host" -> db.host = f.value(o);
                case "--db-port" -> db.port = f.value(o);
                case "--db-name" -> db.name = f.value(o);
                case "--db-user" -> db.user = f.value(o);
                case "--jobs" -> {
                    String n = f.value(o);
                    if (!n.matches("[1-9][0-9]{0,5}")) {
                        throw new FastArgs.GiveUp(); // picocli says what is wrong with it
                    }
                    jobs = Integer.parseInt(n);
                }
                default -> {
                    return false;
                }
            }
            return true;
        }

        @Override
        void flags(Settings s) {
            db.apply(s);
        }

        @Override
        void run(Map<String, Object> summary) {
            which.requireOne("database");
            if (existing && into != null) {
                throw new ConfigurationException(
                        "--existing restores over DB_NAME and --into names a new database;" + " pass one of them.");
            }
            PostgresRestoreTarget.Builder b;
            String database;
            if (existing) {
                PgConnection connection = Databases.connection(settings);
                database = connection.database();
                b = PostgresRestoreTarget.existingDatabaseBuilder(connection);
            } else {
                database = into != null ? into : Databases.connection(settings).database();
                b = PostgresRestoreTarget.newDatabaseBuilder(Databases.server(settings), database);
            }
            b.noOwner(noOwner).noPrivileges(noOwner);
            if (jobs != 1) {
                b.jobs(jobs);
            }
            PostgresRestoreTarget target = b.build();
            RestoreResult r;
            // The key is read before the database server is contacted: a key file that is missing or unreadable fails
            // at once and changes nothing (a run never waits on the server, nor creates and drops a database, only to
            // report the key).
            OpenPgpTransform pgp = Encryption.forRestore(settings);
            // On the target's own thread, from here on: whether DB_NAME exists (refused unless asked), then CREATE
            // DATABASE (or a swap's fresh copy), what pg_restore waits for (CREATE DATABASE alone takes 0.1-0.4 s),
            // while the store is listed and the manifest checked. The pipeline waits for the existence check before
            // reading a byte of the backup, so a refusal still reads nothing; it sets up its decoders while the server
            // creates the database (a failed CREATE DATABASE stops it after at most one chunk, and is reported as the
            // target's error). The manifests' HMAC key (for a passphrase a person chose:
            // a PBKDF2, ~0.1-0.2 s of one core) derives on its own thread beside it, ready when the manifest is
            // checked.
            try (PostgresRestoreTarget.Prepared prepared = target.prepare(() -> refuseUnlessAsked(target))) {
                pgp.authenticator().ifPresent(com.jiffoo.backup.Authenticator::prepare);
                r = restore(this, which, "database", prepared, summary, pgp);
            }
            summary.put("database", database);
            Object previous = r.facts().get("previousDatabase");
            if (previous != null && !"dropped".equals(previous)) {
                // the database replaced held tables the backup lacks (made after it, or left out of it)
                summary.put("previousDatabaseKept", previous);
                summary.put("relationsOnlyInPrevious", r.facts().get("relationsOnlyInPrevious"));
                say("  kept the previous content of " + database + " as database " + previous + ": it holds "
                        + r.facts().get("relationsOnlyInPrevious") + ", which the backup lacks; copy what you need,"
                        + " then DROP DATABASE \"" + previous + "\"");
            }
            // the target counted (mostly while pg_restore ran); a swap (--existing) before it replaced DB_NAME
            RowCountCheck.Report counts = PostgresRestoreTarget.rowCountCheck(r.facts())
                    .orElseGet(() -> RowCountCheck.compare(
                            Databases.server(settings).toBuilder()
                                    .database(database)
                                    .build(),
                            r.manifest()));
            summary.put("rowCountsMatch", counts.passed());
            say("  " + counts.summary());
            counts.orThrow();
        }

        /**
         * Before any backup is read: a database that exists is restored over only with --existing, and --existing
         * needs one that exists.
         */
        private void refuseUnlessAsked(PostgresRestoreTarget target) {
            String name = target.connection().database();
            String server =
                    target.connection().host() + ":" + target.connection().port();
            boolean exists = target.databaseExists();
            if (existing && !exists) {
                throw new ConfigurationException("The database " + name + " (DB_NAME) does not exist on " + server
                        + ", so --existing has nothing to restore over: drop --existing, and restore creates " + name
                        + " (and drops it again if the restore fails).");
            }
            if (!existing && exists && into != null) {
                throw new ConfigurationException("The database " + name + " (--into) already exists on " + server
                        + "; --into restores into a new database and never touches an existing one. Choose a name"
                        + " that does not exist, or drop " + name + " first; to restore over it, set DB_NAME=" + name
                        + " and pass --existing (stop the application first).");
            }
            if (!existing && exists) {
                throw new ConfigurationException("The database " + name + " (DB_NAME) already exists on " + server
                        + "; restore does not overwrite a database unless told to, and nothing was changed. Pass"
                        + " --existing to restore over it (stop the application first; the whole backup is verified"
                        + " before it is touched), or --into NAME to restore into a new database NAME.");
            }
        }
    }

    /** {@code restore files}: into a directory, replacing it only with --replace. */
    @Command(
            name = "files",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Restores a files backup into --target DIR (or the bucket --to). It is extracted into a new sibling directory"
                        + " and swapped in only when every check passed; on any failure DIR is untouched.",
                "A non-empty DIR is refused unless --replace is given (to restore in place:"
                        + " --target \"$SOURCE_DIR\" --replace).",
                "A restore into a mount point (in place) that was killed during its swap is finished first, from"
                        + " the journal DIR/.jiffoo-journal, and the line says so."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:restored",
                " 2:bad or missing setting",
                " 4:the store failed",
                " 5:the backup is damaged",
                " 6:the key does not open it",
                " 7:the target refused (unsafe entry, non-empty); unchanged",
                " 8:no such backup",
                " 1:internal error"
            })
    static final class Files extends CliCommand {
        @picocli.CommandLine.Mixin
        Which which;

        @Option(names = "--target", paramLabel = "DIR", description = "Where to restore.")
        Path target;

        @Option(
                names = "--to",
                paramLabel = "BUCKET",
                description = "Restore into a bucket instead: s3://bucket/prefix or minio://host:port/bucket/prefix"
                        + " (settings as backup files --from). Objects are staged under"
                        + " .jiffoo-restore-…/ in it and copied into place only after every check passed.")
        String to;

        @Option(
                names = "--replace",
                description = "Replace DIR's current content (with --to: the prefix ends up holding exactly the"
                        + " backup; objects it does not have are deleted).")
        boolean replace;

        @Option(
                names = "--allow-symlinks-outside-target",
                description = "Restore symbolic links that point outside" + " DIR (refused by default).")
        boolean allowSymlinks;

        @Override
        void run(Map<String, Object> summary) throws java.io.IOException {
            if ((target == null) == (to == null)) {
                throw new ConfigurationException(
                        "say where to restore: --target DIR or --to s3://bucket/prefix (one).");
            }
            if (to != null) {
                try (com.jiffoo.backup.store.ObjectBucket bucket = Buckets.open(settings, to, "--to")) {
                    Buckets.refuseOverlap(settings, bucket, "--to", StoreOverlap.Use.RESTORE);
                    restore(
                            this,
                            which,
                            "files",
                            com.jiffoo.backup.files.BucketRestoreTarget.builder(bucket)
                                    .replaceExisting(replace)
                                    .build(),
                            summary);
                }
                return;
            }
            // an in-place restore into this target interrupted during its swap: finished (or rolled back) first
            java.util.Optional<DirectoryRestoreTarget.Recovery> recovered = DirectoryRestoreTarget.recover(target);
            if (recovered.isPresent()) {
                summary.put("recovered", recovered.get().name().toLowerCase(Locale.ROOT));
                say(recovered.get().describe(target.toAbsolutePath().normalize()));
            }
            restore(
                    this,
                    which,
                    "files",
                    DirectoryRestoreTarget.builder(target)
                            .replaceExisting(replace)
                            .allowSymlinksOutsideTarget(allowSymlinks)
                            .build(),
                    summary);
        }
    }
}
