package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoreFallback;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.store.StoreLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code list}: the committed backups in the store, newest first. */
@Command(
        name = "list",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Lists the backups in the store.",
            "Lists the committed backups (those with a manifest) of each kind, newest first: kind, the"
                    + " backup's key in the store (the name `restore` and `verify` take), completion time (UTC), stored"
                    + " size, and the recorded verification that stands (mode, result, time; a failed deep verification"
                    + " stays until a deep one passes; '-' when never verified)."
                    + " --check quick-verifies each one now (and records it).",
            "--json adds each backup's full URI (\"uri\": s3://bucket/prefix/database/…, minio://…, or file:/…"
                    + " for a local store), which `restore` and `verify` also take."
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            " 0:listed (and, with --check, all verified)",
            " 2:bad or missing setting",
            " 4:the store failed (also when only one store could not be listed: the others are listed)",
            " 5:with --check: a backup is damaged",
            " 1:internal error"
        })
final class ListCommand extends CliCommand {
    /** The kinds of backup this launcher makes that prune and the monitor watch by default. */
    static final List<String> KINDS = List.of("database", "files");

    /**
     * The kinds list and verify show by default: {@link #KINDS} and base backups ({@code backup base}), which the
     * monitor and prune watch only when named ({@code --kind base}): a store without them is not unhealthy.
     */
    static final List<String> LISTED_KINDS = List.of("database", "files", "base");
    /** One line of the table; BACKUP is the key, as `restore` and `verify` take it. */
    private static final String ROW = "%-9s %-45s %-21s %10s  %s";

    @Option(names = "--kind", paramLabel = "KIND", description = "Only this kind (database, files).")
    String kind;

    @Option(names = "--check", description = "Quick-verify each backup (re-reads every stored byte).")
    boolean check;

    @Override
    void run(Map<String, Object> summary) {
        List<Sink> stores = Stores.openAll(settings);
        Sink store = stores.get(0);
        List<Map<String, Object>> rows = new ArrayList<>();
        List<StoreFallback.Failure> unreachable = new ArrayList<>();
        BackupException firstFailure = null;
        try {
            BackupTrust trust = Encryption.trust(settings);
            Map<Sink, StoredBackups> views = new LinkedHashMap<>();
            stores.forEach(x -> views.put(x, StoredBackups.of(x, trust)));
            say(String.format(ROW, "KIND", "BACKUP", "COMPLETED (UTC)", "SIZE", "LAST VERIFIED (UTC)"));
            for (String k : kind != null ? List.of(kind) : LISTED_KINDS) {
                // every store that answers: a backup is listed once, with the stores that hold it
                Map<String, BackupManifest> backups = new LinkedHashMap<>();
                Map<String, List<Sink>> holders = new LinkedHashMap<>();
                for (Sink x : stores) {
                    if (unreachable.stream().anyMatch(f -> f.store() == x)) {
                        continue;
                    }
                    StoredBackups.Scan scan;
                    try {
                        scan = views.get(x).scan(k);
                    } catch (BackupException e) {
                        if (stores.size() == 1 || !StoreFallback.tryNext(e)) {
                            throw e;
                        }
                        unreachable.add(new StoreFallback.Failure(x, e));
                        org.slf4j.LoggerFactory.getLogger(ListCommand.class)
                                .warn(
                                        "list: the store {} failed, listing the others: {}",
                                        x.location(),
                                        e.getMessage());
                        continue;
                    }
                    for (StoredBackups.Refused r : scan.refused()) {
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("kind", k);
                        row.put("key", r.key());
                        row.put("refused", forOperators(r.reason().getMessage()));
                        row.put("newest", scan.refusedNewest().contains(r));
                        row.put("location", x.location());
                        rows.add(row);
                        say(String.format(
                                        ROW,
                                        k,
                                        StoreLayout.dataKeyOf(r.key()),
                                        "-",
                                        "-",
                                        "REFUSED: " + forOperators(r.reason().getMessage()))
                                + (stores.size() > 1 ? "  (in " + x.location() + ")" : ""));
                    }
                    if (check && firstFailure == null && !scan.refusedNewest().isEmpty()) {
                        try {
                            scan.latestTrusted(); // the same verdict (and wording) as verify --latest and restore
                            // --latest
                        } catch (IntegrityException e) {
                            firstFailure = e;
                        }
                    }
                    for (BackupManifest m : scan.committed()) {
                        backups.putIfAbsent(m.objectKey(), m);
                        holders.computeIfAbsent(m.objectKey(), key -> new ArrayList<>())
                                .add(x);
                    }
                }
                List<BackupManifest> listed = new ArrayList<>(backups.values());
                listed.sort(java.util.Comparator.comparing(BackupManifest::completedAt)
                        .reversed());
                for (BackupManifest m : listed) {
                    Sink at = holders.get(m.objectKey()).get(0);
                    Map<String, Object> row = new LinkedHashMap<>(describe(m, at));
                    List<String> in = holders.get(m.objectKey()).stream()
                            .map(Sink::location)
                            .toList();
                    row.put("stores", in);
                    // the verdict that stands: a later quick pass does not hide a failed deep verification
                    Optional<VerificationRecord> standing = views.get(at).standingVerification(m);
                    String verified = standing.map(ListCommand::verdict).orElse("-");
                    if (check) {
                        try {
                            BackupVerifier.builder()
                                    .sink(at)
                                    .trust(trust)
                                    .build()
                                    .verify(m.objectKey(), false);
                            verified = "ok";
                            if (standing.isPresent()
                                    && !standing.get().passed()
                                    && standing.get().deep()) {
                                VerificationRecord r = standing.get();
                                verified = verdict(r) + " (quick ok now)";
                                row.put("error", r.message());
                                firstFailure = firstFailure == null
                                        ? new IntegrityException(
                                                "the backup " + m.id()
                                                        + " failed its deep verification (" + r.verifiedAt() + "): "
                                                        + r.message()
                                                        + " A quick check does not clear that; a passing `verify --deep` does.",
                                                m.objectKey(),
                                                at.location(),
                                                null)
                                        : firstFailure;
                            }
                        } catch (IntegrityException e) {
                            verified = "FAILED";
                            row.put("error", e.getMessage());
                            firstFailure = firstFailure == null ? e : firstFailure;
                        }
                    }
                    row.put("verified", verified);
                    rows.add(row);
                    say(String.format(
                                    ROW + "%s",
                                    m.kind(),
                                    m.objectKey(),
                                    m.completedAt().toString().replaceFirst("\\.\\d+Z$", "Z"),
                                    Terminal.bytes(m.objectSize()),
                                    verified,
                                    m.authenticity() == BackupTrust.Authenticity.UNAUTHENTICATED
                                            ? "  (UNAUTHENTICATED)"
                                            : "")
                            + (stores.size() > 1 ? "  in " + String.join(", ", in) : ""));
                }
            }
            if (!unreachable.isEmpty() && unreachable.size() == stores.size()) {
                throw unreachable.get(0).error();
            }
            summary.put("location", store.location());
            if (stores.size() > 1) {
                summary.put("stores", stores.stream().map(Sink::location).toList());
            }
            if (!unreachable.isEmpty()) {
                summary.put("storeFailures", CliCommand.storeFailures(unreachable));
                for (StoreFallback.Failure f : unreachable) {
                    say("(the store " + f.store().location() + " could not be listed: "
                            + forOperators(f.error().getMessage()) + ")");
                }
            }
            summary.put("backups", rows);
            if (rows.isEmpty()) {
                say("(no committed backups in " + store.location() + ")");
            }
            drills(stores, unreachable, trust, summary);
        } finally {
            CliCommand.close(stores);
        }
        if (!unreachable.isEmpty()) {
            // the others were listed, but a store that cannot be is not "listed": exit 4 naming it
            StoreFallback.Failure f = unreachable.get(0);
            throw BackupException.of(
                    f.error().code(),
                    "the store " + f.store().location() + " could not be listed (the other stores were): "
                            + f.error().getMessage()
                            + (unreachable.size() > 1 ? " (and " + (unreachable.size() - 1) + " more store(s))" : "")
                            + (firstFailure != null ? " Also: " + firstFailure.getMessage() : ""),
                    f.error().key().orElse(null),
                    f.store().location(),
                    f.error());
        }
        if (firstFailure != null) {
            throw new IntegrityException(
                    "at least one backup failed its verification (marked FAILED), first: " + firstFailure.getMessage(),
                    firstFailure.key().orElse(null),
                    firstFailure.location().orElse(store.location()),
                    firstFailure);
        }
    }

    /**
     * The last authenticated restore drill of each kind (date, verdict, measured RTO against its target) and the
     * number of reports that do not authenticate; nothing is printed when no drill was ever recorded. A store whose
     * reports cannot be read is said, never fatal: the backups were listed.
     */
    private void drills(
            List<Sink> stores,
            List<StoreFallback.Failure> unreachable,
            BackupTrust trust,
            Map<String, Object> summary) {
        List<Sink> readable = stores.stream()
                .filter(x -> unreachable.stream().noneMatch(f -> f.store() == x))
                .toList();
        com.jiffoo.backup.DrillHistory h;
        try {
            // a report counts when it records any configured store (also one down now)
            h = com.jiffoo.backup.DrillHistory.read(
                    readable, stores.stream().map(Sink::location).toList(), trust, r -> false);
        } catch (BackupException e) {
            say("(the restore drills could not be read: " + forOperators(e.getMessage()) + ")");
            return;
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (String k : h.kinds()) {
            if (kind != null && !kind.equals(k)) {
                continue;
            }
            com.jiffoo.backup.DrillReport r = h.newest(k).orElseThrow();
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("kind", k);
            row.put("startedAt", r.startedAt().toString());
            row.put("outcome", r.outcome().label());
            row.put("backup", r.backupKey());
            row.put("store", r.store());
            row.put("rtoSeconds", r.total().toSeconds());
            row.put("rtoTargetSeconds", r.rtoTarget().toSeconds());
            h.newestPassed(k).ifPresent(p -> row.put("lastPassed", p.startedAt().toString()));
            out.add(row);
        }
        summary.put("drills", out);
        summary.put("unauthenticatedDrillReports", h.setAsideCount());
        if (out.isEmpty() && h.unauthenticated().isEmpty()) {
            return;
        }
        say("");
        say(String.format("%-9s %-21s %-12s %-24s %s", "DRILL", "STARTED (UTC)", "RESULT", "RTO (TARGET)", "BACKUP"));
        for (Map<String, Object> row : out) {
            say(String.format(
                    "%-9s %-21s %-12s %-24s %s",
                    row.get("kind"),
                    row.get("startedAt").toString().replaceFirst("\\.\\d+Z$", "Z"),
                    row.get("outcome").toString().toUpperCase(java.util.Locale.ROOT),
                    com.jiffoo.backup.DrillReport.human(java.time.Duration.ofSeconds((Long) row.get("rtoSeconds")))
                            + " ("
                            + com.jiffoo.backup.DrillReport.human(
                                    java.time.Duration.ofSeconds((Long) row.get("rtoTargetSeconds")))
                            + ")",
                    row.get("backup")));
        }
        if (!h.unauthenticated().isEmpty()) {
            say("(" + h.setAsideCount() + " drill report(s) not authenticated (or of another store), not counted: "
                    + forOperators(h.unauthenticated().get(0).key() + ": "
                            + h.unauthenticated().get(0).reason())
                    + (h.unauthenticated().size() > 1 ? "; …" : "") + ")");
        }
    }

    /** A recorded verification as the LAST VERIFIED column shows it, e.g. {@code FAILED deep 2026-01-11 04:00:00Z}. */
    private static String verdict(VerificationRecord r) {
        return (r.passed() ? r.mode() + " ok " : "FAILED " + r.mode() + " ")
                + r.verifiedAt().toString().replaceFirst("\\.\\d+Z$", "Z").replace('T', ' ');
    }
}
