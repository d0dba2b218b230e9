package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.wal.WalContinuity;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
                    + " downloads and decrypts every file. See docs/pitr.md.",
            "With copies (BACKUP_COPIES, --copy-to, or BACKUP_DIR beside S3_BUCKET), checks the store and then each"
                    + " copy on its own (its own base backups and WAL), one report per store; the exit code is the"
                    + " worst, and a last line names each store that is not whole. --store STORE: that store only."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:continuous, and there is a base backup to restore from",
            " 5:a gap: a segment or history file is missing, a base backup cannot be restored, or a WAL file was"
                    + " rejected (manifest not authenticated, copied, of another cluster; --deep: damaged); or the"
                    + " archive's signed head names a later segment than the newest present (its tail was deleted)"
                    + " or is invalid",
            " 8:no WAL is archived at all; or the WAL is continuous but there is no base backup to restore from",
            " 2:bad or missing setting",
            " 4:the store (or, with copies, one of the stores) could not be read",
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
        List<Sink> stores = Stores.openEach(settings);
        try {
            WalChecks.Reading reading = WalChecks.reading(settings, stores.get(0));
            if (deep && reading.key() == null) {
                throw new ConfigurationException("wal-verify --deep decrypts every WAL file: set ENCRYPTION_KEY_FILE"
                        + " (--key-file) or ENCRYPTION_SECRET_KEY_FILE.");
            }
            List<Map<String, Object>> each = new ArrayList<>();
            List<String> broken = new ArrayList<>();
            for (Sink store : stores) {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("store", store.location());
                int code;
                try {
                    code = verify(store, reading, one);
                } catch (BackupException e) {
                    if (stores.size() == 1) {
                        throw e;
                    }
                    // one store down or refusing: the others are still checked
                    code = e.code().exitCode();
                    one.put("status", "failed");
                    one.put("error", e.code().name());
                    one.put("message", e.getMessage());
                    say("WAL archive in " + store.location() + ": could NOT be checked: " + e.getMessage());
                }
                if (code != 0) {
                    broken.add((store == stores.get(0) ? "the store " : "the copy ") + store.location() + " ("
                            + one.get("status") + ")");
                }
                exit = worse(exit, code);
                each.add(one);
            }
            // the first store's figures at the top, as without copies; every store's under "stores"
            summary.putAll(each.get(0));
            summary.remove("store");
            if (stores.size() > 1) {
                summary.put("stores", each);
                if (!broken.isEmpty()) {
                    summary.put("status", "failed");
                    say("NOT every store's WAL archive is whole: " + String.join("; ", broken));
                }
            }
        } finally {
            CliCommand.close(stores);
        }
    }

    /** Of two exit codes the one to report: a gap (5) before a store failure (4) before nothing archived (8). */
    private static int worse(int a, int b) {
        List<Integer> order =
                List.of(ErrorCode.INTEGRITY.exitCode(), ErrorCode.STORAGE.exitCode(), ErrorCode.NOT_FOUND.exitCode());
        for (int c : order) {
            if (a == c || b == c) {
                return c;
            }
        }
        return a != 0 ? a : b;
    }

    /** Checks one store's archive, prints its report and puts its facts and status into {@code out}. */
    private int verify(Sink store, WalChecks.Reading reading, Map<String, Object> out) {
        WalContinuity.Report r = WalContinuity.builder()
                .sink(store)
                .trust(reading.trust())
                .historyReader(reading.historyReader(store))
                .deep(deep ? reading.archive(store) : null)
                .since(sinceBase)
                .build()
                .check();
        report(r, store, out);
        if (r.noWal() && r.rejected().isEmpty() && r.headProblem() == null) {
            out.put("status", "no-wal");
            return ErrorCode.NOT_FOUND.exitCode();
        } else if (!r.continuous()) {
            out.put(
                    "status",
                    !r.gaps().isEmpty()
                                    || !r.missingHistories().isEmpty()
                                    || !r.unrestorable().isEmpty()
                            ? "gap"
                            : r.tailMissing() != null
                                    ? "tail-missing"
                                    : r.rejected().isEmpty() ? "head-invalid" : "rejected");
            return ErrorCode.INTEGRITY.exitCode();
        } else if (r.bases().isEmpty()) {
            out.put("status", "no-base-backup");
            return ErrorCode.NOT_FOUND.exitCode();
        }
        out.put("status", "continuous");
        return 0;
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
        if (r.headProblem() != null) {
            say("  "
                    + (r.tailMissing() != null
                            ? "TAIL MISSING: "
                            : r.head().state() == com.jiffoo.backup.wal.WalHead.State.MISSING
                                    ? "HEAD MISSING: "
                                    : "HEAD INVALID: ")
                    + r.headProblem());
        } else if (r.head() != null) {
            say("  archive head: " + r.head().describe());
        }
        if (r.headStale() != null) {
            say("  WARNING: " + r.headStale());
        }
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
