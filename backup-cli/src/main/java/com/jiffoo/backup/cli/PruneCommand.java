package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.RetentionPolicy.Verdict;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.retention.Pruner;
import com.jiffoo.backup.retention.Retention;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.wal.WalRetention;
import java.time.Duration;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code prune [--dry-run]}: deletes the backups no retention rule keeps. */
@Command(
        name = "prune",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Deletes old backups by the retention rules (RETENTION_DAYS).",
            "Deletes the backups that no retention rule keeps, manifest first; never the newest backup"
                    + " and never below --minimum. A backup is kept when any rule keeps it: completed within RETENTION_DAYS"
                    + " (default 30), or one of the --keep-* rules. Orphans of failed runs (data without a manifest) older"
                    + " than a day are deleted too, and so is what killed runs left (temporary files, open multipart uploads)"
                    + " older than a day.",
            "A backup any object of which is still locked (S3 Object Lock), or whose manifest the store refuses to"
                    + " delete (access denied), is kept whole and reported (RETAINED); the exit code is unchanged.",
            "Before deleting, the backups are checked newest first (size and SHA-256 of the stored object"
                    + " against its manifest, and the checksum file) until one passes: that one is kept whatever"
                    + " the rules say, and a damaged one is reported (DAMAGED).",
            "A backup dated in the future (beyond --clock-skew-tolerance) is kept but counted by no rule;"
                    + " while one exists, prune refuses (exit 5, nothing deleted) unless --allow-future-dated.",
            "Base backups (kind base) are pruned by the same rules when the store holds any; then archived WAL"
                    + " older than the start of the oldest kept base backup is deleted (timeline history files are"
                    + " kept). Without a base backup, WAL is never deleted.",
            "With copies (BACKUP_COPIES, --copy-to, or BACKUP_DIR beside S3_BUCKET), prunes the store and then each"
                    + " copy by the same rules, each on its own: a copy's backups, its newest intact backup (checked in"
                    + " that copy) and its WAL decide what goes there. A store that fails (unreachable, refusing) is"
                    + " reported and the others are still pruned; the exit code is then the failure's, naming that"
                    + " store. --store STORE: prune that store only. See docs/copies.md.",
            "--dry-run prints each backup's verdict and why, and deletes nothing."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:pruned (or dry run)",
            " 2:bad or missing" + " setting",
            " 4:the store (or, with copies, one of the stores: named) failed; the others were pruned (a prune can be"
                    + " rerun)",
            " 5:refused, nothing deleted: a backup or"
                    + " verification dated in the future (see --allow-future-dated), or no backup passed the intact check",
            " 1:internal error"
        })
final class PruneCommand extends CliCommand {
    @Option(names = "--dry-run", description = "Show what would be deleted; delete nothing.")
    boolean dryRun;

    @Option(names = "--kind", paramLabel = "KIND", description = "Only this kind (database, files); default both.")
    String kind;

    @Option(
            names = "--retention-days",
            paramLabel = "DAYS",
            description = "Keep backups completed within DAYS"
                    + " days; default RETENTION_DAYS, else 30. 0 turns the rule off (then give a --keep-* rule).")
    String retentionDays;

    @Option(names = "--keep-last", paramLabel = "N", description = "Also keep the N newest.")
    Integer keepLast;

    @Option(
            names = "--keep-daily",
            paramLabel = "N",
            description = "Also keep the newest of each of the last N days" + " that have backups.")
    Integer keepDaily;

    @Option(names = "--keep-weekly", paramLabel = "N", description = "... of the last N ISO weeks.")
    Integer keepWeekly;

    @Option(names = "--keep-monthly", paramLabel = "N", description = "... of the last N months.")
    Integer keepMonthly;

    @Option(names = "--keep-yearly", paramLabel = "N", description = "... of the last N years.")
    Integer keepYearly;

    @Option(names = "--minimum", paramLabel = "N", description = "Never keep fewer than N backups (default 1).")
    Integer minimum;

    @Option(
            names = "--allow-future-dated",
            description = "Prune although backups or verifications are dated in the"
                    + " future (they are kept all the same). Check the clocks first: see docs/retention.md.")
    boolean allowFutureDated;

    @Mixin
    ClockSkewOption clockSkew;

    @Option(
            names = "--zone",
            paramLabel = "ZONE",
            description = "Time zone of days/weeks/months (default UTC)," + " e.g. Europe/Berlin.")
    ZoneId zone;

    private static void keep(Integer n, java.util.function.IntConsumer rule) {
        if (n != null) {
            rule.accept(n);
        }
    }

    /** WAL older than the oldest kept base backup's start; nothing without a kept base backup. */
    private Map<String, Object> pruneWal(Sink store, List<BackupManifest> keptBases) {
        WalRetention.Report w = WalRetention.of(store).prune(keptBases, dryRun);
        String verb = dryRun ? "would delete" : "deleted";
        if (w.keepFrom() == null) {
            say("  WAL: nothing deleted: " + w.reason());
        } else {
            say("  WAL: kept from " + w.keepFrom() + " (" + w.reason() + "); " + verb + " "
                    + w.deleted().size()
                    + " archived file(s)"
                    + (w.deleted().isEmpty()
                            ? ""
                            : ", " + w.deleted().get(0) + " to "
                                    + w.deleted().get(w.deleted().size() - 1)));
        }
        if (!w.retained().isEmpty()) {
            var first = w.retained().entrySet().iterator().next();
            say("  WAL: RETAINED " + w.retained().size() + " archived file(s) before " + w.keepFrom()
                    + " (locked, or the store refused to delete them; they go once their lock ends), first "
                    + first.getKey() + ": " + first.getValue());
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("keepFrom", w.keepFrom());
        d.put("reason", w.reason());
        d.put("deleted", w.deleted());
        d.put("kept", w.kept());
        d.put("retained", w.retained());
        return d;
    }

    @Override
    void flags(Settings s) {
        s.flag("RETENTION_DAYS", retentionDays);
        clockSkew.flag(s);
    }

    @Override
    void run(Map<String, Object> summary) throws java.io.IOException {
        int days = settings.integer("RETENTION_DAYS", 30, 0);
        Retention.Builder b = Retention.builder();
        if (days > 0) {
            b.keepWithin(Duration.ofDays(days));
        }
        keep(keepLast, b::keepLast);
        keep(keepDaily, b::keepDaily);
        keep(keepWeekly, b::keepWeekly);
        keep(keepMonthly, b::keepMonthly);
        keep(keepYearly, b::keepYearly);
        keep(minimum, b::minimum);
        if (zone != null) {
            b.zone(zone);
        }
        if (days == 0
                && keepLast == null
                && keepDaily == null
                && keepWeekly == null
                && keepMonthly == null
                && keepYearly == null) {
            throw new com.jiffoo.backup.ConfigurationException("RETENTION_DAYS is 0 and no --keep-* rule is given:"
                    + " prune would keep only the newest backup. Set RETENTION_DAYS=30 (days to keep) or give a"
                    + " --keep-last/--keep-daily/... rule.");
        }
        Retention policy = b.build();
        List<Sink> stores = Stores.openEach(settings);
        List<Map<String, Object>> each = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        BackupException first = null;
        try {
            for (Sink store : stores) {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("store", store.location());
                each.add(one);
                try {
                    prune(store, policy, one);
                    one.put("status", "ok");
                } catch (BackupException | java.io.IOException failure) {
                    BackupException e = failure instanceof BackupException be
                            ? be
                            : new com.jiffoo.backup.StorageException(
                                    "Cannot list " + store.location() + ": " + failure.getMessage()
                                            + ". Check that the store is reachable.",
                                    null,
                                    store.location(),
                                    failure);
                    if (stores.size() == 1) {
                        throw e;
                    }
                    // one store down or refusing: the others are still pruned
                    one.put("status", "failed");
                    one.put("error", e.code().name());
                    one.put("message", e.getMessage());
                    say("  FAILED: " + e.getMessage());
                    failed.add((store == stores.get(0) ? "the store " : "the copy ") + store.location() + " ("
                            + e.getMessage() + ")");
                    first = first == null ? e : first;
                }
            }
        } finally {
            summary.put("dryRun", dryRun);
            summary.put("rules", policy.describeRules());
            Map<String, Object> top = each.isEmpty() ? Map.of() : each.get(0);
            summary.put("kinds", top.getOrDefault("kinds", List.of()));
            if (top.containsKey("wal")) {
                summary.put("wal", top.get("wal"));
            }
            if (stores.size() > 1) {
                summary.put("stores", each);
            }
            CliCommand.close(stores);
        }
        if (first != null) {
            throw new BackupException(
                    first.code(),
                    "prune FAILED in " + String.join("; and in ", failed) + ". The other stores were pruned"
                            + " (each line above names its store). Run the prune again once that store is reachable,"
                            + " or prune it alone with --store.",
                    first);
        }
    }

    /** Prunes one store: every kind, then its WAL; its facts go into {@code out}. */
    private void prune(Sink store, Retention policy, Map<String, Object> out) throws java.io.IOException {
        List<Map<String, Object>> kinds = new ArrayList<>();
        out.put("kinds", kinds);
        java.util.function.Function<com.jiffoo.backup.RetentionPolicy, Pruner> pruners = p -> Pruner.builder()
                .sink(store)
                .policy(p)
                .trust(Encryption.trust(settings))
                .clockSkewTolerance(ClockSkewOption.tolerance(settings))
                .allowFutureDated(allowFutureDated)
                .build();
        Pruner pruner = pruners.apply(policy);
        // base backups taken with archive_mode off do not count toward the PITR ones a rule keeps
        Pruner basePruner = pruners.apply(WalRetention.basePolicy(policy));
        say((dryRun ? "dry run: " : "") + "pruning " + store.location() + " by " + policy.describeRules());
        List<String> pruned = new ArrayList<>(kind != null ? List.of(kind) : ListCommand.KINDS);
        boolean wal = (kind == null || kind.equals(StoreLayout.BASE_BACKUP_KIND)) && WalChecks.hasWal(store);
        if (kind == null
                && !pruned.contains(StoreLayout.BASE_BACKUP_KIND)
                && !store.list(StoreLayout.kindPrefix(StoreLayout.BASE_BACKUP_KIND))
                        .isEmpty()) {
            pruned.add(StoreLayout.BASE_BACKUP_KIND);
        }
        List<BackupManifest> keptBases = null;
        for (String k : pruned) {
            Pruner.PruneReport r = (k.equals(StoreLayout.BASE_BACKUP_KIND) ? basePruner : pruner).prune(k, dryRun);
            if (k.equals(StoreLayout.BASE_BACKUP_KIND)) {
                keptBases = r.verdicts().stream()
                        .filter(Verdict::keep)
                        .map(Verdict::backup)
                        .toList();
            }
            for (Verdict v : r.verdicts()) {
                say(String.format(
                        "  %-12s %-8s %-33s %s",
                        v.keep() ? "keep" : (dryRun ? "would delete" : "deleted"),
                        k,
                        v.backup().id(),
                        v.reason()));
            }
            r.orphansDeleted().forEach(o -> say("  " + (dryRun ? "would delete" : "deleted") + " orphan " + o));
            r.damaged().forEach((key, why) -> say("  DAMAGED " + key + ": " + why));
            r.retained().forEach((key, why) -> say("  RETAINED " + key + ": " + why));
            r.futureDated()
                    .forEach(o -> say("  dated in the future: " + o
                            + (dryRun && !allowFutureDated
                                    ? " (prune without --dry-run refuses while it exists; see --allow-future-dated)"
                                    : "")));
            for (Sink.PartialWrite w : r.partialWritesDiscarded()) {
                say("  " + (dryRun ? "would discard" : (store.localRoot().isPresent() ? "deleted" : "aborted"))
                        + " the unfinished write of " + w.key() + " (" + w.id() + ", last written "
                        + w.lastActivity() + ")");
            }
            if (!r.partialWritesTooYoung().isEmpty()) {
                say("  left " + r.partialWritesTooYoung().size() + " unfinished write(s) younger than a day (a"
                        + " backup may be writing them): "
                        + r.partialWritesTooYoung().stream()
                                .map(Sink.PartialWrite::key)
                                .toList());
            }
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("kind", k);
            d.put(
                    "kept",
                    r.verdicts().stream()
                            .filter(Verdict::keep)
                            .map(v -> v.backup().objectKey())
                            .toList());
            d.put("deleted", r.deleted());
            d.put("orphansDeleted", r.orphansDeleted());
            d.put("damaged", r.damaged());
            d.put("retained", r.retained());
            d.put("futureDated", r.futureDated());
            d.put(
                    "unfinishedWritesDiscarded",
                    r.partialWritesDiscarded().stream()
                            .map(w -> Map.of(
                                    "key",
                                    w.key(),
                                    "id",
                                    w.id(),
                                    "lastActivity",
                                    w.lastActivity().toString()))
                            .toList());
            kinds.add(d);
        }
        if (wal) {
            out.put("wal", pruneWal(store, keptBases == null ? List.of() : keptBases));
        }
    }
}
