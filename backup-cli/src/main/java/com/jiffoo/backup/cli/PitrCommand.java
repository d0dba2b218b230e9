package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoreFallback;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PitrRestore;
import com.jiffoo.backup.postgres.RecoveryServer;
import com.jiffoo.backup.postgres.RecoveryTarget;
import com.jiffoo.backup.wal.WalReadAhead;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code restore pitr}: a base backup and the archived WAL, to a point in time, into a new data directory. */
@Command(
        name = "pitr",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Restores the PostgreSQL cluster to a point in time into --pgdata DIR: the newest base backup (`backup"
                    + " base`) that ended before the target, checked while it streams and extracted safely, then"
                    + " restore_command, the recovery target and recovery.signal written into DIR, so that PostgreSQL"
                    + " fetches the archived WAL (`wal-fetch`) and replays it up to the target.",
            "With copies (BACKUP_COPIES, --copy-to) the first store that holds a usable base backup and archive is"
                    + " used, and said; restore_command names it, then the copies after it.",
            "restore_command names the launcher, the store and the key file, so a server started by hand (pg_ctl)"
                    + " recovers too; the key file must be readable by the server's user. archive_mode is set off"
                    + " (the copy must not archive into the original's archive) unless --keep-archiving.",
            "With --start --port P the server is started (pg_ctl of the data's version) and the command waits until"
                    + " recovery ends, then prints the last replayed transaction's time and WAL position."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:restored (and with --start: recovery ended at the target)",
            " 2:bad or missing setting; or the restore_command fails when run as the server will run it (tried"
                    + " before anything is extracted)",
            " 4:the store failed",
            " 5:the backup is damaged, or the WAL archive misses a segment the restore needs (checked before anything"
                    + " is extracted: a gap before the base backup's end or before the target; for --latest any gap,"
                    + " or an archive whose signed head (wal/HEAD) names a later segment than it holds or is invalid;"
                    + " --to-gap restores up to what is there; --ignore-head skips only the head's check)",
            " 6:the key does not open it",
            " 7:DIR not empty (without --replace) or unsafe; or with --start: recovery failed, e.g. the archive ends"
                    + " before the target ('recovery ended before configured recovery target was reached'), or with"
                    + " --latest the replay ended before the newest archived segment",
            " 8:no base backup ends before the target",
            " 1:internal error"
        })
final class PitrCommand extends CliCommand {
    /** Where the default restore_command reads ahead, relative to the data directory (where it runs). */
    static final String PREFETCH_SPOOL = "pg_wal/jiffoo-prefetch";

    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_./:=@%+,-]+");

    @Option(names = "--pgdata", paramLabel = "DIR", required = true, description = "The new data directory.")
    Path pgdata;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Target target;

    /** Exactly one target. */
    static final class Target {
        @Option(
                names = "--target-time",
                paramLabel = "TIME",
                description = "recovery_target_time, with a zone: '2026-12-01 21:05:07+00', '… UTC', ISO 8601.")
        String time;

        @Option(names = "--target-lsn", paramLabel = "LSN", description = "recovery_target_lsn, e.g. 0/3000060.")
        String lsn;

        @Option(
                names = "--target-name",
                paramLabel = "NAME",
                description = "recovery_target_name: a pg_create_restore_point('NAME').")
        String name;

        @Option(names = "--latest", description = "Replay all the archived WAL (refused when a segment is missing).")
        boolean latest;

        @Option(
                names = "--to-gap",
                description = "Replay the archived WAL up to its first missing segment after the base backup, then"
                        + " promote (the same as --latest when nothing is missing); also accepts an archive whose"
                        + " newest segments are missing by its signed head (wal/HEAD), replaying what it holds.")
        boolean toGap;
    }

    @Option(
            names = "--ignore-head",
            description = "With --latest: do not consult the archive's signed head (wal/HEAD) - for a head known to be"
                    + " wrong (garbage, or naming a segment pruned since); unlike --to-gap, a missing segment is"
                    + " still refused.")
    boolean ignoreHead;

    @Option(
            names = "--target-action",
            paramLabel = "promote|pause",
            defaultValue = "promote",
            description = "At the target: promote (default) or pause (read-only, for inspection).")
    String action;

    @Option(
            names = "--target-timeline",
            paramLabel = "latest|current|N",
            defaultValue = "latest",
            description = "recovery_target_timeline (default latest).")
    String timeline;

    @Option(
            names = "--backup",
            paramLabel = "BACKUP",
            description = "The base backup to start from (its key base/…); default: the newest that fits.")
    String backup;

    @Option(names = "--replace", description = "Replace the content of a non-empty DIR (never anything outside it).")
    boolean replace;

    @Option(
            names = "--owner",
            paramLabel = "USER",
            description = "When run as root: the OS user the files are given to and the server runs as (default"
                    + " postgres).")
    String owner;

    @Option(
            names = "--restore-command",
            paramLabel = "CMD",
            description = "Your own restore_command (e.g. 'cp /archive/%f %p' for an archive of your own); default:"
                    + " LAUNCHER wal-fetch --store STORE --key-file ENCRYPTION_KEY_FILE %f %p.")
    String restoreCommand;

    @Option(
            names = "--launcher",
            paramLabel = "PATH",
            description = "The jiffoo-backup launcher named in restore_command (default: the one next to this jar).")
    Path launcher;

    @Option(
            names = "--keep-archiving",
            description = "Keep the backed-up archive_mode (when this copy becomes the production server).")
    boolean keepArchiving;

    @Option(names = "--start", description = "Start the server and wait until recovery ends.")
    boolean start;

    @Option(names = "--port", paramLabel = "P", description = "The port of the started server (with --start).")
    Integer port;

    @Option(
            names = "--pg-bin",
            paramLabel = "DIR",
            description = "The bin directory of the data's PostgreSQL version (default /usr/lib/postgresql/N/bin).")
    Path pgBin;

    @Option(
            names = "--timeout",
            paramLabel = "SECONDS",
            defaultValue = "3600",
            description = "With --start: how long recovery may take (default 3600).")
    long timeoutSeconds;

    @picocli.CommandLine.Mixin
    DbOptions db;

    @Override
    void flags(Settings s) {
        db.apply(s);
    }

    @Override
    void run(Map<String, Object> summary) throws Exception {
        if (start && port == null) {
            throw new ConfigurationException("--start needs --port P: the port the restored server listens on (not"
                    + " the production server's).");
        }
        PitrRestore.Action act = switch (action.toLowerCase(Locale.ROOT)) {
            case "promote" -> PitrRestore.Action.PROMOTE;
            case "pause" -> PitrRestore.Action.PAUSE;
            default -> throw new ConfigurationException("--target-action is promote or pause, not '" + action + "'.");
        };
        RecoveryTarget t = target.latest || target.toGap
                ? RecoveryTarget.LATEST
                : target.lsn != null
                        ? RecoveryTarget.lsn(target.lsn)
                        : target.name != null
                                ? RecoveryTarget.name(target.name)
                                : RecoveryTarget.time(target.time, backup == null);
        if (t.type() == RecoveryTarget.Type.LATEST && act == PitrRestore.Action.PAUSE) {
            throw new ConfigurationException("--target-action pause needs a target (--target-time, --target-lsn or"
                    + " --target-name): with --latest the server replays all archived WAL and then promotes.");
        }
        if (target.toGap && restoreCommand != null) {
            throw new ConfigurationException("--to-gap finds the gap in this store's WAL archive, which a"
                    + " --restore-command of your own does not read; with it, --latest ends at the first segment it"
                    + " does not find.");
        }
        // --start with a target and promote: the server is asked to promote during replay and pauses at the target
        // no more; pg_promote() accepts writes without waiting for the end-of-recovery checkpoint
        // (RecoveryServer.Builder#promoteAtPause)
        boolean promoteAtPause = start && act == PitrRestore.Action.PROMOTE && t.type() != RecoveryTarget.Type.LATEST;
        OpenPgpTransform pgp = Encryption.forRestore(settings);
        // the manifests' HMAC key (for a passphrase a person chose: a PBKDF2, ~0.1-0.2 s of one core) derives on its
        // own thread while the stores open
        pgp.authenticator().ifPresent(com.jiffoo.backup.Authenticator::prepare);
        List<Sink> stores = Stores.openAll(settings);
        PitrRestore.Result r;
        PitrRestore[] restore = {null};
        try {
            // the first store that holds a usable base backup (and its archive) serves: the store, then each copy
            StoreFallback.Served<PitrRestore.Result> served = StoreFallback.first(
                    stores,
                    "restore pitr",
                    from -> restore(from, stores, pgp, t, promoteAtPause ? PitrRestore.Action.PAUSE : act, restore));
            r = served.value();
            Sink store = served.store();
            if (!served.failures().isEmpty()) {
                summary.put("storeFailures", CliCommand.storeFailures(served.failures()));
            }
            summary.put("store", store.location());
            summary.put("backup", CliCommand.describe(r.plan().manifest(), store));
            summary.put("pgdata", r.dataDirectory().toString());
            summary.put("target", t.toString());
            summary.put("settings", r.settings());
            say("restored " + CliCommand.where(store, r.plan().manifest().objectKey()) + " into " + r.dataDirectory()
                    + String.format(
                            Locale.ROOT, " in %.1f s", r.restore().elapsed().toMillis() / 1000.0));
            PitrRestore.Reach reach = r.reach();
            if (reach.checked()) {
                Map<String, Object> wal = new LinkedHashMap<>();
                wal.put("start", reach.start());
                wal.put("end", reach.end());
                wal.put("endLsn", reach.endLsn());
                wal.put("timelines", reach.timelines());
                wal.put("gap", reach.gap() == null ? null : reach.gap().describe());
                summary.put("wal", wal);
                say("  archived WAL from " + reach.start() + " to " + reach.end() + " (timelines " + reach.timelines()
                        + ")"
                        + (reach.gap() == null
                                ? ""
                                : "; missing after it: " + reach.gap().describe()));
            }
            if (!r.plan().note().isEmpty()) {
                summary.put("note", r.plan().note());
                say("  note: " + r.plan().note());
            }
            say("  recovery to " + t + ": restore_command = " + r.settings().get("restore_command"));
            if (!start) {
                say("  start it with: pg_ctl -D " + r.dataDirectory() + " -o '-p PORT' start (as the data's owner)");
                return;
            }
            // this JVM reads the WAL ahead while the server recovers: no wal-fetch JVM per 16 segments
            try (WalReadAhead ahead = restore[0].readAhead(r).orElse(null)) {
                recover(r, t, promoteAtPause, act, summary);
            }
        } finally {
            CliCommand.close(stores);
        }
    }

    /** With --start: starts the server on the restored directory, waits until recovery ended, reports the point. */
    private void recover(
            PitrRestore.Result r,
            RecoveryTarget t,
            boolean promoteAtPause,
            PitrRestore.Action act,
            Map<String, Object> summary)
            throws java.io.IOException {
        RecoveryServer.Builder server = RecoveryServer.builder(pgdata, port)
                .action(promoteAtPause ? PitrRestore.Action.PAUSE : act)
                .promoteAtPause(promoteAtPause)
                .timeout(Duration.ofSeconds(timeoutSeconds))
                .connection(queryConnection());
        if (pgBin != null) {
            server.binDirectory(pgBin);
        }
        RecoveryServer.Outcome o;
        try {
            o = server.build().startAndWait();
        } catch (BackupException e) {
            throw afterStart(e, r, promoteAtPause);
        }
        if (t.type() == RecoveryTarget.Type.LATEST) {
            r.reach().requireReached(o.lastReplayedLsn(), r.dataDirectory());
        }
        Map<String, Object> reached = new LinkedHashMap<>();
        reached.put("state", o.state().name().toLowerCase(Locale.ROOT));
        reached.put("lastTransactionTime", o.lastTransactionTime());
        reached.put("lastReplayedLsn", o.lastReplayedLsn());
        reached.put("port", port);
        reached.put("recoveryMs", o.elapsed().toMillis());
        reached.put("log", o.log().toString());
        summary.put("recovery", reached);
        say("  recovery " + (o.state() == RecoveryServer.State.PROMOTED ? "ended, server promoted" : "paused")
                + " on port " + port + ": last transaction " + o.lastTransactionTime() + ", WAL "
                + o.lastReplayedLsn()
                + String.format(Locale.ROOT, " (%.1f s)", o.elapsed().toMillis() / 1000.0));
    }

    /** The base backup and recovery settings from {@code store}; the default restore_command reads it first. */
    private PitrRestore.Result restore(
            Sink store,
            List<Sink> stores,
            OpenPgpTransform pgp,
            RecoveryTarget t,
            PitrRestore.Action act,
            PitrRestore[] built) {
        // the default restore_command fetches from this store: its archive is checked before the extraction
        boolean ours = restoreCommand == null;
        PitrRestore.Builder b = PitrRestore.builder(store, pgp, pgdata)
                .trust(Encryption.trust(settings, pgp))
                .target(t)
                .action(act)
                .timeline(timeline)
                .restoreCommand(restoreCommand != null ? restoreCommand : walFetch(store, stores))
                .recoveryEndCommand(restoreCommand != null ? "" : "rm -rf " + PREFETCH_SPOOL)
                .readAheadSpool(PREFETCH_SPOOL)
                // with --start this process reads ahead while the server replays: the trial fetches one segment
                .trialReadsAhead(!start)
                .overwrite(replace)
                .keepArchiving(keepArchiving)
                .checkArchive(ours)
                .upToGap(target.toGap)
                .ignoreHead(ignoreHead)
                .listener(progress());
        if (backup != null) {
            b.backup(backup);
        }
        if (owner != null) {
            b.owner(owner);
        }
        built[0] = b.build();
        return built[0].run();
    }

    /** A failure of --start, saying what DIR holds now (the restored base backup, not its former content). */
    private static BackupException afterStart(BackupException e, PitrRestore.Result r, boolean promoteAtPause) {
        String now = " " + r.dataDirectory() + " now holds the base backup "
                + r.plan().manifest().objectKey()
                + " with its recovery settings (its former content is gone). Once the cause is fixed, start it again"
                + " (pg_ctl -D " + r.dataDirectory() + " start, as its owner: recovery goes on from where it stopped"
                + (promoteAtPause ? " and pauses at the target; then promote it with SELECT pg_promote()" : "")
                + "), or restore again with --replace.";
        return switch (e.code()) {
            case CONFIGURATION -> new ConfigurationException(e.getMessage() + now, e);
            default -> new RestoreException(e.getMessage() + now, e);
        };
    }

    /** Who asks the restored server whether recovery ended: DB_USER/DB_PASSWORD when set, database postgres. */
    private PgConnection queryConnection() {
        return queryConnection(settings, owner);
    }

    /**
     * Who connects to a restored cluster: DB_USER/DB_PASSWORD (or PGUSER) when set, else {@code owner} (default
     * {@code postgres}) when root; database postgres.
     */
    static PgConnection queryConnection(Settings settings, String owner) {
        PgConnection.Builder c = PgConnection.builder().database("postgres");
        PgConnection configured = Databases.server(settings);
        if (settings.get("DB_USER").isPresent() || settings.environment().get("PGUSER") != null) {
            c = configured.toBuilder().database("postgres");
        } else if ("root".equals(System.getProperty("user.name"))) {
            c.user(owner != null ? owner : "postgres");
        }
        return c.build();
    }

    private String walFetch(Sink store, List<Sink> stores) {
        return walFetch(settings, options.values().config, launcher, store, stores);
    }

    /**
     * The default restore_command: the launcher's wal-fetch with the key file (and {@code config}, when given) from
     * {@code store}, then from the other {@code stores} (the copies it falls back to).
     */
    static String walFetch(Settings settings, Path config, Path launcher, Sink store, List<Sink> stores) {
        String key = settings.get("ENCRYPTION_KEY_FILE")
                .orElseThrow(() -> new ConfigurationException("The default restore_command fetches WAL with the key"
                        + " file (ENCRYPTION_KEY_FILE or --key-file); set it, or give your own --restore-command."));
        List<String> cmd = new ArrayList<>();
        cmd.add(launcherPath(launcher).toString());
        cmd.add("wal-fetch");
        cmd.add("--store");
        cmd.add(storeArgument(store));
        // the copies after it; the stores before it failed here (down, damaged, wiped): left out, so that one that
        // cannot answer never stops recovery at the archive's end (wal-fetch never says "not found" then)
        List<Sink> after = stores.subList(stores.indexOf(store) + 1, stores.size());
        for (Sink other : after) {
            cmd.add("--copy-to");
            cmd.add(storeArgument(other));
        }
        if (after.isEmpty() && stores.size() > 1) {
            cmd.add("--copy-to"); // no copies: not BACKUP_COPIES of the server's environment or --config
            cmd.add("");
        }
        cmd.add("--key-file");
        cmd.add(Path.of(key).toAbsolutePath().normalize().toString());
        if (config != null) {
            cmd.add("--config");
            cmd.add(config.toAbsolutePath().normalize().toString());
        }
        StringBuilder line = new StringBuilder();
        for (String a : cmd) {
            // PostgreSQL replaces %f, %p, %r and %% in restore_command: a literal % is written %%
            line.append(shellQuote(a).replace("%", "%%")).append(' ');
        }
        // segments read ahead into the data directory (the command runs there), removed when recovery ends; the
        // chosen base backup's cluster: WAL of another cluster is refused (PitrRestore fills it in)
        return line.append("--spool ")
                .append(PREFETCH_SPOOL)
                .append(" --system-id ")
                .append(PitrRestore.SYSTEM_ID_TOKEN)
                .append(" %f %p")
                .toString();
    }

    /** A store as restore_command names it. */
    private static String storeArgument(Sink store) {
        // a URI without secrets (StoreProviders refuses credentials in one); a remote store's as configured, with its
        // ?endpoint=, ?profile=, ?region=, which its location leaves out
        String location = store.localRoot().isPresent() ? store.location() : Stores.uri(store);
        if (location.startsWith("file:/") && location.contains("%")) {
            // as a file: URI, "%41" in a directory's name would be read as an escape ('A'): the plain path is exact
            location = location.substring("file:".length());
        }
        return location;
    }

    private static Path launcherPath(Path launcher) {
        if (launcher != null) {
            return launcher.toAbsolutePath().normalize();
        }
        try {
            Path jar = Path.of(PitrCommand.class
                    .getProtectionDomain()
                    .getCodeSource()
                    .getLocation()
                    .toURI());
            Path script = jar.resolveSibling("jiffoo-backup");
            if (Files.isRegularFile(jar) && Files.isExecutable(script)) {
                return script;
            }
        } catch (java.net.URISyntaxException | RuntimeException e) {
            // not run from the jar
        }
        throw new ConfigurationException("Cannot find the jiffoo-backup launcher next to this jar for the"
                + " restore_command; name it with --launcher /opt/jiffoo/jiffoo-backup, or give your own"
                + " --restore-command.");
    }

    /** An argument for /bin/sh: as it is when plain, else in single quotes. */
    static String shellQuote(String arg) {
        return PLAIN.matcher(arg).matches() ? arg : "'" + arg.replace("'", "'\\''") + "'";
    }
}
