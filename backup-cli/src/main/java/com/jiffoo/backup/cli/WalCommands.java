package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.postgres.PitrRestore;
import com.jiffoo.backup.wal.WalArchive;
import com.jiffoo.backup.wal.WalPrefetch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code wal-push %p} ({@code archive_command}) and {@code wal-fetch %f %p} ({@code restore_command}): PostgreSQL starts
 * one process per WAL file, so their usual command lines take a fast path ({@link #fastPath}) that parses them by hand
 * and never builds picocli's model; {@code --help}, {@code --json} and anything the fast path does not know go
 * through picocli ({@link Push}, {@link Fetch}), which runs the same work.
 *
 * <p>Exit codes. {@code wal-push}: 0 only once the file is durable in the store and in each copy (or was archived
 * before with the same content); otherwise the error's code (2 a setting or another content under that name, 4 the store), with one line
 * on stderr that PostgreSQL logs. {@code wal-fetch}: 0 found, 1 not found (PostgreSQL then tries its next source or
 * ends recovery), and {@value #FETCH_ABORT} for every failure — the store unreachable after retries, a damaged or
 * planted object, a wrong key, a bad setting, a usage error — because PostgreSQL aborts recovery on an exit code
 * above 125 instead of taking the failure for the end of the archive.
 */
final class WalCommands {
    /** The exit code of a failed {@code wal-fetch}: above 125, so that PostgreSQL aborts recovery. */
    static final int FETCH_ABORT = 128;

    static final String PUSH = "wal-push";
    static final String FETCH = "wal-fetch";

    /** The setting that lets the copies lag behind the store for WAL: {@value #LATER} (default {@value #SYNC}). */
    static final String WAL_COPIES = "WAL_COPIES";

    static final String SYNC = "sync";
    static final String LATER = "later";

    private WalCommands() {}

    /** Archives one file: {@code wal-push}'s work, in the store and (unless {@code WAL_COPIES=later}) each copy. */
    static WalArchive.Pushed push(Settings s, Path file) {
        List<Sink> stores = pushStores(s);
        try {
            return archive(stores).encryption(Encryption.forBackup(s)).build().push(file);
        } finally {
            stores.forEach(WalCommands::closeQuietly);
        }
    }

    /**
     * The stores WAL is archived in: the store and every copy ({@link Stores#openAll}), or with
     * {@code WAL_COPIES=later} the store alone (the copies are caught up by {@code copy --kind wal}).
     */
    static List<Sink> pushStores(Settings s) {
        String mode = s.get(WAL_COPIES).orElse(SYNC).trim().toLowerCase(java.util.Locale.ROOT);
        return switch (mode) {
            case SYNC -> Stores.openAll(s);
            case LATER -> List.of(Stores.open(s));
            default ->
                throw new ConfigurationException(WAL_COPIES + "=" + mode + ": give " + SYNC + " (the default:"
                        + " a WAL file is archived once every store holds it) or " + LATER + " (once the store holds"
                        + " it; the copies are caught up by `copy --kind wal`).");
        };
    }

    /** A WAL archive builder on {@code stores}: the first is the store, the others its copies. */
    static WalArchive.Builder archive(List<Sink> stores) {
        WalArchive.Builder b = WalArchive.builder().sink(stores.get(0));
        stores.subList(1, stores.size()).forEach(b::copy);
        return b;
    }

    /**
     * Fetches one file: {@code wal-fetch}'s work; with a spool, through it and reading {@code readAhead} segments
     * ahead ({@link WalPrefetch}).
     */
    static WalArchive.Fetched fetch(
            Settings s, String name, Path destination, String systemId, Path spool, Integer readAhead) {
        OpenPgpTransform pgp = Encryption.forRestore(s);
        List<Sink> stores = Stores.openAll(s);
        try {
            WalArchive archive = archive(stores)
                    .fallbackNotice(line -> Terminal.err().println(FETCH + ": " + s.redact(line)))
                    .encryption(pgp)
                    .trust(Encryption.trust(s, pgp))
                    .systemIdentifier(systemId)
                    .hashPlaintext(false) // recovery: the stored object's authenticated SHA-256 is checked
                    .build();
            if (spool == null) {
                return archive.fetch(name, destination);
            }
            WalPrefetch.Builder b =
                    WalPrefetch.builder().archive(archive).spool(spool).systemIdentifier(systemId);
            Integer count = readAhead != null ? readAhead : trialReadAhead();
            if (count != null) {
                b.count(count);
            }
            return b.build().fetch(name, destination);
        } finally {
            stores.forEach(WalCommands::closeQuietly);
        }
    }

    /**
     * The read-ahead {@code restore pitr --start} asks of its trial of the restore_command
     * ({@value PitrRestore#TRIAL_READ_AHEAD_VARIABLE}=0: the restore reads ahead itself while the server replays,
     * on the core replay leaves free, instead of beside the extraction); null when not set or not a number.
     */
    private static Integer trialReadAhead() {
        String v = System.getenv(PitrRestore.TRIAL_READ_AHEAD_VARIABLE);
        if (v == null || !v.matches("[0-9]{1,4}")) {
            return null;
        }
        return Math.min(Integer.parseInt(v), 1024);
    }

    /** The work is done (or failed on its own): a store that then fails to close changes nothing. */
    private static void closeQuietly(Sink sink) {
        try {
            Stores.close(sink);
        } catch (IOException | RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(WalCommands.class)
                    .warn("closing {} failed: {}", sink.location(), e.toString());
        }
    }

    /**
     * Runs {@code wal-push} or {@code wal-fetch} given in the usual form — the command first, then any of
     * {@code --store}, {@code --copy-to}, {@code --key-file}, {@code --config}, {@code --log-file}, {@code --log-dir},
     * {@code --spool}, {@code --system-id}, {@code --read-ahead} (with their value after a space or {@code =}),
     * {@code --allow-unauthenticated}, {@code --allow-unencrypted}, {@code -v}, {@code -q}, each at most once,
     * {@code --}, and the file arguments — without picocli ({@link FastArgs}).
     *
     * @return the exit code, or null when {@code args} are not of that form (picocli handles them: help, usage errors)
     */
    static Integer fastPath(String[] args) {
        if (args.length == 0 || !(args[0].equals(PUSH) || args[0].equals(FETCH))) {
            return null;
        }
        boolean fetch = args[0].equals(FETCH);
        FastArgs f = new FastArgs(args, 1);
        List<String> files = new ArrayList<>();
        Path spool = null;
        String systemId = null;
        Integer readAhead = null;
        boolean onlyFiles = false;
        try {
            while (f.hasNext()) {
                String a = f.peek();
                if (onlyFiles || !FastArgs.isOption(a) || a.equals("-")) {
                    files.add(f.positional());
                    continue;
                }
                if (a.equals("--")) {
                    f.positional();
                    onlyFiles = true;
                    continue;
                }
                String option = f.take();
                if (f.global(option)) {
                    continue;
                }
                switch (option) {
                    case "--spool" -> spool = Path.of(f.value(option));
                    case "--system-id" -> systemId = f.value(option);
                    case "--read-ahead" -> readAhead = Integer.valueOf(f.value(option));
                    default -> throw new FastArgs.GiveUp(); // --help, --json, -V, an unknown option: picocli
                }
            }
        } catch (FastArgs.GiveUp | NumberFormatException e) {
            return null; // picocli says what is wrong
        }
        if (files.size() != (fetch ? 2 : 1)
                || (!fetch && (systemId != null || readAhead != null))
                || (readAhead != null && spool == null)) {
            return null; // picocli's commands say what is wrong (--read-ahead needs --spool)
        }
        return run(args[0], f.values(), files, spool, systemId, readAhead);
    }

    private static int run(
            String command,
            GlobalOptions.Values v,
            List<String> files,
            Path spool,
            String systemId,
            Integer readAhead) {
        Settings s = null;
        Thread hook = new Thread(Stores::closeAll, "jiffoo-backup-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            s = CliCommand.settings(v);
            Settings settings = s;
            Logging.configure(
                    v.verbose,
                    s.get("LOG_FILE").map(Path::of).orElse(null),
                    s.get("LOG_DIR").map(Path::of).orElse(null),
                    Logging.jobName(command),
                    line -> settings.redact(CliCommand.forOperators(line)));
            if (command.equals(PUSH)) {
                Path file = Path.of(files.get(0));
                if (spool == null) {
                    push(s, file);
                } else {
                    WalUploaderCommand.archive(spool, file, () -> push(settings, file));
                }
                return 0;
            }
            return fetch(s, files.get(0), Path.of(files.get(1)), systemId, spool, readAhead) == WalArchive.Fetched.FOUND
                    ? 0
                    : notFoundExit();
        } catch (BackupException e) {
            return fail(command, s, e.code(), e.getMessage());
        } catch (IllegalArgumentException e) {
            return fail(command, s, ErrorCode.CONFIGURATION, e.getMessage());
        } catch (UncheckedIOException e) {
            return fail(command, s, ErrorCode.STORAGE, e.getMessage());
        } catch (RuntimeException e) {
            return fail(command, s, ErrorCode.INTERNAL, e + " (a bug: rerun with --verbose and report it)");
        } catch (Error e) {
            // out of memory, a native library that cannot load: wal-fetch must abort recovery, never say "not found"
            return fail(command, s, ErrorCode.INTERNAL, e.toString());
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // shutting down: the hook runs
            }
        }
    }

    private static int fail(String command, Settings s, ErrorCode code, String message) {
        String text = CliCommand.forOperators(message);
        Terminal.err().println(command + ": error: " + (s == null ? text : s.redact(text)));
        return exitCode(command, code);
    }

    /**
     * The exit code of "not found": 1, or what the launcher asks for in {@code -Djiffoo.walFetchNotFound} (it then
     * turns that code into 1 and every other failure, a JVM that cannot even start included, into
     * {@value #FETCH_ABORT}).
     */
    static int notFoundExit() {
        try {
            return Integer.parseInt(System.getProperty("jiffoo.walFetchNotFound", "1"));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    /** The exit code of a failure: {@value #FETCH_ABORT} for {@code wal-fetch}, the error's own for the rest. */
    static int exitCode(String command, ErrorCode code) {
        return command.equals(FETCH) ? FETCH_ABORT : code.exitCode();
    }

    /** {@code wal-push PATH}: archive one WAL file ({@code archive_command}). */
    @Command(
            name = PUSH,
            mixinStandardHelpOptions = true,
            description = {
                "Archives one WAL file: PostgreSQL's archive_command.",
                "archive_command = '/opt/jiffoo-backup/jiffoo-backup wal-push --store URI --key-file FILE %%p'."
                        + " Stores the segment, partial segment, timeline or backup history file compressed (zstd),"
                        + " encrypted and committed by a signed manifest under wal/ in the store and each copy"
                        + " (BACKUP_COPIES, --copy-to; WAL_COPIES=later: the store only), and exits 0 only once it is"
                        + " durable in every one; a failed copy is named (PostgreSQL retries). A name archived before with the same content is 0 again; with"
                        + " other content the push fails and the stored file is left as it is. See docs/pitr.md."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:archived (or archived before with the same content)",
                " 2:bad setting, unreadable file, or other content archived under that name",
                " 4:the store failed (PostgreSQL retries)",
                " 5:the stored manifest of that name cannot be trusted",
                " 1:internal error"
            })
    static final class Push extends CliCommand {
        @Parameters(index = "0", paramLabel = "PATH", description = "The file to archive (%%p).")
        Path file;

        @picocli.CommandLine.Option(
                names = "--spool",
                paramLabel = "DIR",
                description = "Asynchronous mode: the spool of a running `wal-uploader`; its answer for this file is"
                        + " taken (waiting for it a while), and without a running uploader the file is pushed here.")
        Path spool;

        @Override
        void run(Map<String, Object> summary) {
            summary.put("file", String.valueOf(file.getFileName()));
            if (spool != null) {
                WalUploaderCommand.archive(spool, file, () -> push(settings, file));
                summary.put("result", "archived");
                return;
            }
            WalArchive.Pushed r = push(settings, file);
            summary.put("result", r == WalArchive.Pushed.STORED ? "stored" : "already-archived");
        }
    }

    /** {@code wal-fetch NAME PATH}: restore one WAL file ({@code restore_command}). */
    @Command(
            name = FETCH,
            mixinStandardHelpOptions = true,
            description = {
                "Restores one archived WAL file: PostgreSQL's restore_command.",
                "restore_command = '/opt/jiffoo-backup/jiffoo-backup wal-fetch --store URI --key-file FILE %%f %%p'."
                        + " Checks the file's signed manifest, decrypts and decompresses it next to PATH, checks the"
                        + " stored object's SHA-256 and the file's size, and renames it into place. With copies (--copy-to, BACKUP_COPIES) the"
                        + " next store serves when one is down, holds a damaged file or none (said on stderr)."
                        + " Exits 1 when no store has such a file"
                        + " (routine: recovery asks for files that do not exist yet), and " + FETCH_ABORT
                        + " for every failure, so that PostgreSQL stops recovery instead of taking a store outage for"
                        + " the end of the archive. See docs/pitr.md."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                " 0:restored into PATH",
                " 1:not in the archive",
                FETCH_ABORT + ":failed: store unreachable after retries, damaged or planted object, wrong key, bad"
                        + " setting (PostgreSQL aborts recovery)"
            })
    static final class Fetch extends CliCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "The file's name (%%f).")
        String name;

        @Parameters(index = "1", paramLabel = "PATH", description = "Where to put it (%%p).")
        Path destination;

        @picocli.CommandLine.Option(
                names = "--system-id",
                paramLabel = "ID",
                description = "The cluster's system identifier (the base backup's): a WAL file recorded for another"
                        + " cluster is refused (exit " + FETCH_ABORT + "). `restore pitr` writes it.")
        String systemId;

        @picocli.CommandLine.Option(
                names = "--spool",
                paramLabel = "DIR",
                description = "Read ahead: fetch the next segments into DIR at the same time, so that the next"
                        + " requests are answered from it (by the launcher, without Java). `restore pitr` writes"
                        + " DATADIR/pg_wal/jiffoo-prefetch.")
        Path spool;

        @picocli.CommandLine.Option(
                names = "--read-ahead",
                paramLabel = "N",
                description = "With --spool: how many segments to read ahead (default " + WalPrefetch.DEFAULT_COUNT
                        + ", 0 = none).")
        Integer readAhead;

        private boolean found;

        @Override
        void run(Map<String, Object> summary) {
            if (readAhead != null && spool == null) {
                throw new ConfigurationException("--read-ahead needs --spool DIR: where the segments read ahead go.");
            }
            found = fetch(settings, name, destination, systemId, spool, readAhead) == WalArchive.Fetched.FOUND;
            summary.put("file", name);
            summary.put("result", found ? "found" : "not-found");
        }

        @Override
        int exitCode() {
            return found ? 0 : notFoundExit();
        }

        @Override
        int failureExitCode(ErrorCode code) {
            return FETCH_ABORT;
        }
    }
}
