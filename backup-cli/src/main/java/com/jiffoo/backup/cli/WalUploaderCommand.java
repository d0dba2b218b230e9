package com.jiffoo.backup.cli;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.wal.WalArchive;
import com.jiffoo.backup.wal.WalUploader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code wal-uploader --pgdata DIR --spool DIR}: the long-running half of asynchronous WAL archiving (see
 * {@link WalUploader}). It runs beside PostgreSQL, as the user PostgreSQL runs as (a systemd service, a sidecar
 * container), until SIGTERM; {@code archive_command = '... wal-push --spool DIR %p'} then takes its answers, which the
 * launcher script finds without starting Java.
 *
 * <p>Without a running uploader, {@code wal-push --spool} pushes the file itself: slower, never wrong. The command
 * starts no process of its own (no secret is handed to a child).
 */
@Command(
        name = WalUploaderCommand.NAME,
        mixinStandardHelpOptions = true,
        description = {
            "Archives WAL asynchronously: pushes every file PostgreSQL marks ready (pg_wal/archive_status/*.ready),"
                    + " several at once, ahead of archive_command, and leaves SPOOL/<name>.ok once the file is"
                    + " committed in the store and in each copy (BACKUP_COPIES; not with WAL_COPIES=later). With archive_command = '.../jiffoo-backup wal-push --spool SPOOL"
                    + " --store URI --key-file FILE %%p' PostgreSQL's archiver then only checks for that file (the"
                    + " launcher does it without Java). Runs until SIGTERM (or --idle-exit). See docs/pitr.md."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:stopped (SIGTERM or idle)",
            " 2:bad setting: no pg_wal/archive_status under --pgdata, another uploader holds the spool",
            " 4:the store failed to open"
        })
final class WalUploaderCommand extends CliCommand {
    static final String NAME = "wal-uploader";

    /** How long {@code wal-push --spool} waits for a running uploader's answer before giving up (PostgreSQL retries). */
    static final Duration WAIT = Duration.ofSeconds(60);

    @Option(names = "--pgdata", required = true, paramLabel = "DIR", description = "The cluster's data directory.")
    Path pgdata;

    @Option(
            names = "--spool",
            required = true,
            paramLabel = "DIR",
            description = "Status files (local, owned by the user PostgreSQL runs as).")
    Path spool;

    @Option(names = "--parallel", paramLabel = "N", description = "Files pushed at once (default: 2 to 4 by cores).")
    Integer parallel;

    @Option(
            names = "--idle-exit",
            paramLabel = "SECONDS",
            description = "Stop after this many seconds with nothing ready (default: never).")
    Long idleExitSeconds;

    @Override
    void run(Map<String, Object> summary) throws Exception {
        java.util.List<Sink> stores = WalCommands.pushStores(settings);
        WalArchive archive = WalCommands.archive(stores)
                .encryption(Encryption.forBackup(settings))
                .build();
        WalUploader.Builder b =
                WalUploader.builder().archive(archive).pgdata(pgdata).spool(spool);
        if (parallel != null) {
            b.parallel(parallel);
        }
        if (idleExitSeconds != null) {
            b.idleExit(Duration.ofSeconds(idleExitSeconds));
        }
        WalUploader uploader = b.build();
        Thread stopper = new Thread(uploader::stop, "jiffoo-wal-uploader-stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        Path pidFile = spool.resolve("uploader.pid");
        try {
            Files.createDirectories(spool);
            int n = uploader.run(() -> writePid(pidFile));
            summary.put("archived", n);
        } finally {
            deleteIfOurs(pidFile);
            try {
                Runtime.getRuntime().removeShutdownHook(stopper);
            } catch (IllegalStateException e) {
                // shutting down
            }
            CliCommand.close(stores);
        }
    }

    /** Removes the pid file only when it names this process (a refused second uploader leaves the first one's). */
    private static void deleteIfOurs(Path pidFile) {
        try {
            if (Files.readString(pidFile, StandardCharsets.UTF_8)
                    .trim()
                    .equals(Long.toString(ProcessHandle.current().pid()))) {
                Files.deleteIfExists(pidFile);
            }
        } catch (IOException e) {
            // gone already
        }
    }

    private static void writePid(Path pidFile) {
        try {
            Files.writeString(pidFile, ProcessHandle.current().pid() + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            // the launcher then starts Java for every file: slower, still right
        }
    }

    /**
     * {@code wal-push --spool}: takes a running uploader's answer for {@code file} (waiting for it while the uploader
     * runs), or, when none runs, runs {@code pushItself} holding the spool's lock, so that no uploader starts and
     * pushes the same file meanwhile.
     *
     * @throws StorageException with the uploader's reason when its push failed, or when no answer came in time
     */
    static void archive(Path spool, Path file, Runnable pushItself) {
        String name = file.getFileName().toString();
        Path error = spool.resolve(name + WalUploader.ERROR);
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            if (WalUploader.archived(spool, file)) {
                return;
            }
            if (Files.exists(error)) {
                String reason;
                try {
                    reason = Files.readString(error, StandardCharsets.UTF_8).trim();
                } catch (IOException e) {
                    reason = "(unreadable " + error + ")";
                }
                throw new StorageException(
                        "the WAL uploader could not archive " + name + ": " + reason
                                + ". It retries; PostgreSQL retries this command.",
                        name,
                        spool.toString(),
                        null);
            }
            if (WalUploader.whileNoUploader(spool, pushItself)) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new StorageException(
                        "the WAL uploader on " + spool + " has not archived " + name + " within " + WAIT.toSeconds()
                                + " s (a backlog or a slow store: see its log and `jiffoo-backup monitor`);"
                                + " PostgreSQL retries this command.",
                        name,
                        spool.toString(),
                        null);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StorageException(
                        "interrupted while waiting for the WAL uploader", name, spool.toString(), null);
            }
        }
    }
}
