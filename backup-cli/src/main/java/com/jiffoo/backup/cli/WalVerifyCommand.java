package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.wal.WalContinuity;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code wal-verify}: is the WAL archive continuous from the oldest base backup to the newest segment? */
@Command(
        name = "wal-verify",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Checks that the WAL archive is continuous: every segment from the start of the oldest base backup (or"
                    + " --since-base) to the newest archived segment, following timeline switches through their"
                    + " history files, is archived and committed (its manifest exists).",
            "Prints missing segments as ranges, missing history files, the base backups that cannot be restored or"
                    + " replayed past a gap, pushes that did not finish (data without manifest), and the newest"
                    + " archived file and its age. Counts a WAL file only when its manifest is authenticated (signature),"
                    + " names that very file, and records no other cluster than the newest base backup's; other files"
                    + " are listed as rejected. Reads names, manifests and signatures only (history files too, when a"
                    + " key is configured; without one the switch points are inferred from the segments); --deep also"
                    + " downloads and decrypts every file. See docs/pitr.md."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:continuous, and there is a base backup to restore from",
            " 5:a gap: a segment or history file is missing, a base backup cannot be restored, or a WAL file was"
                    + " rejected (manifest not authenticated, copied, of another cluster; --deep: damaged)",
            " 8:no WAL is archived at all; or the WAL is continuous but there is no base backup to restore from",
            " 2:bad or missing setting",
            " 4:the store failed",
            " 1:internal error"
        })
final class WalVerifyCommand extends CliCommand {
    @Option(
            names = "--since-base",
            paramLabel = "NAME",
            description = "Check from this base backup's start (its id, or a 24-hex segment name) instead of the"
                    + " oldest base backup's.")
    String sinceBase;

    @Option(
            names = "--deep",
            description = "Also download every counted WAL file, decrypt and decompress it and check its SHA-256"
                    + " against the authenticated manifest (as wal-fetch does; nothing is written). Needs the"
                    + " decryption key; reads the whole archive.")
    boolean deep;

    private int exit;

    @Override
    void run(Map<String, Object> summary) throws Exception {
        Sink store = Stores.open(settings);
        try {
            WalChecks.Reading reading = WalChecks.reading(settings, store);
            if (deep && reading.archive() == null) {
                throw new ConfigurationException("wal-verify --deep decrypts every WAL file: set ENCRYPTION_KEY_FILE"
                        + " (--key-file) or ENCRYPTION_SECRET_KEY_FILE.");
            }
            WalContinuity.Report r = WalContinuity.builder()
                    .sink(store)
                    .trust(reading.trust())
                    .historyReader(reading.historyReader())
                    .deep(deep ? reading.archive() : null)
                    .since(sinceBase)
                    .build()
                    .check();
            report(r, store, summary);
            if (r.noWal() && r.rejected().isEmpty()) {
                exit = ErrorCode.NOT_FOUND.exitCode();
                summary.put("status", "no-wal");
            } else if (!r.continuous()) {
                exit = ErrorCode.INTEGRITY.exitCode();
                summary.put(
                        "status",
                        r.gaps().isEmpty()
                                        && r.missingHistories().isEmpty()
                                        && r.unrestorable().isEmpty()
                                ? "rejected"
                                : "gap");
            } else if (r.bases().isEmpty()) {
                exit = ErrorCode.NOT_FOUND.exitCode();
                summary.put("status", "no-base-backup");
            } else {
                summary.put("status", "continuous");
            }
        } finally {
            CliCommand.close(store);
        }
    }

    private void report(WalContinuity.Report r, Sink store, Map<String, Object> summary) {
        if (r.noWal()) {
            say("no WAL is archived in " + store.location() + ": set archive_mode = on and archive_command ="
                    + " 'jiffoo-backup wal-push %p' (docs/pitr.md)");
        } else {
            say("WAL archive in " + store.location() + ": " + r.committedSegments() + " segments"
                    + (r.deep() ? " (manifests, signatures and data checked)" : " (manifests and signatures checked)")
                    + (r.systemIdentifier() == null ? "" : " of the cluster " + r.systemIdentifier())
                    + "; checked from "
                    + r.start() + " (" + r.startReason() + ") to " + r.newestSegment() + ", timeline(s) "
                    + r.timelines() + (r.continuous() ? ": continuous" : ": NOT continuous"));
            say("newest archived file " + r.newestArchived() + ", committed " + r.newestArchivedAt() + " ("
                    + Support.humanDuration(r.newestAge()) + " ago)");
        }
        for (WalContinuity.Gap g : r.gaps()) {
            say("  MISSING on timeline " + g.timeline() + ": " + g.describe()
                    + (g.cut().isEmpty() ? "" : "; cannot be replayed past it: " + String.join(", ", g.cut())));
        }
        r.missingHistories().forEach(h -> say("  MISSING history file " + h));
        for (WalContinuity.Rejected x : r.rejected()) {
            say("  REJECTED " + x.name() + " (not counted): " + x.reason());
        }
        for (WalContinuity.BaseBackup b : r.bases()) {
            say("  base backup " + b.id() + (b.start() == null ? "" : " (" + b.start() + ".." + b.stop() + ")") + ": "
                    + (b.restorable() ? "restorable" : "CANNOT be restored: " + b.problem()));
        }
        if (r.bases().isEmpty()) {
            say("  no base backup: nothing can be restored from this WAL (run `backup base`)");
        }
        if (!r.uncommitted().isEmpty()) {
            say("  " + r.uncommitted().size() + " WAL object(s) without manifest (pushes that did not finish):" + " "
                    + r.uncommitted().subList(0, Math.min(10, r.uncommitted().size())));
        }
        if (r.switchPointsInferred()) {
            say("  timeline switch points were inferred from the segments (configure the key file to read the"
                    + " history files)");
        }
        r.notes().forEach(n -> say("  note: " + n));
        summary.putAll(r.facts());
    }

    @Override
    int exitCode() {
        return exit;
    }
}
