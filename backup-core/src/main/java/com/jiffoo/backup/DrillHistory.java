package com.jiffoo.backup;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The restore drills recorded in one or more stores ({@link DrillReport#storeIn}), as the monitor and {@code list} see
 * them: only reports whose signature checks out with the configured key count. A report without a signature, or one
 * read without a key that can check it, or one whose signature does not match, is {@linkplain #unauthenticated()
 * set aside} with the reason and never counts as a drill, passed or failed: anyone who can write to the store could
 * have planted it.
 *
 * @param reports         the authenticated reports of every store, newest first (a report found in two stores once)
 * @param unauthenticated the reports set aside, newest first
 * @param unreadable      the stores that could not be listed, with why
 */
public record DrillHistory(List<DrillReport> reports, List<SetAside> unauthenticated, List<String> unreadable) {
    /** How many of a store's newest report keys are read at most (a monthly drill of two kinds: 8 years). */
    public static final int MAX_REPORTS_READ = 200;

    /** Copies the lists. */
    public DrillHistory {
        reports = List.copyOf(reports);
        unauthenticated = List.copyOf(unauthenticated);
        unreadable = List.copyOf(unreadable);
    }

    /**
     * A report that does not count.
     *
     * @param store  where it lies
     * @param key    its key
     * @param reason why it does not count (unsigned, no key to check it, signature mismatch, not a report)
     */
    public record SetAside(String store, String key, String reason) {}

    /**
     * Reads the newest {@value #MAX_REPORTS_READ} drill reports of each store. The first store that cannot be listed
     * throws when it is the only one; otherwise each unreadable store is named in {@link #unreadable()}.
     *
     * @param trust what authenticates a report: its authenticator must be able to verify the signature; without one
     *              every report is set aside
     * @throws StorageException when the only store cannot be listed
     */
    public static DrillHistory read(List<? extends Sink> stores, BackupTrust trust) {
        Objects.requireNonNull(trust, "trust");
        BackupTrust strict = trust.toBuilder().allowUnauthenticated(false).build();
        Map<String, DrillReport> byKey = new LinkedHashMap<>();
        List<SetAside> aside = new ArrayList<>();
        List<String> unreadable = new ArrayList<>();
        for (Sink s : stores) {
            List<String> keys;
            try {
                keys = DrillReport.keysIn(s);
            } catch (IOException | RuntimeException e) {
                if (stores.size() == 1) {
                    throw new StorageException(
                            "Cannot list the drill reports in " + s.location() + ": " + e.getMessage(),
                            null,
                            s.location(),
                            e);
                }
                unreadable.add(s.location() + ": " + e.getMessage());
                continue;
            }
            List<String> newest = keys.subList(Math.max(0, keys.size() - MAX_REPORTS_READ), keys.size());
            for (String key : newest) {
                if (byKey.containsKey(key)) {
                    continue;
                }
                if (strict.authenticator().isEmpty()) {
                    aside.add(new SetAside(
                            s.location(),
                            key,
                            "no key here can check its signature (configure ENCRYPTION_KEY_FILE, or the signers'"
                                    + " public keys in public-key mode)"));
                    continue;
                }
                try {
                    byKey.put(key, DrillReport.readFrom(s, key, strict));
                } catch (IntegrityException | DecryptionException | ConfigurationException | NotFoundException e) {
                    aside.add(new SetAside(s.location(), key, e.getMessage()));
                } catch (StorageException e) {
                    unreadable.add(s.location() + ": " + key + ": " + e.getMessage());
                }
            }
        }
        List<DrillReport> reports = new ArrayList<>(byKey.values());
        reports.sort(Comparator.comparing(DrillReport::startedAt).reversed());
        aside.sort(Comparator.comparing(SetAside::key).reversed());
        return new DrillHistory(reports, aside, unreadable);
    }

    /** The kinds drilled, in name order. */
    public List<String> kinds() {
        return List.copyOf(new TreeSet<>(reports.stream().map(DrillReport::kind).toList()));
    }

    /** The newest authenticated drill of {@code kind}. */
    public Optional<DrillReport> newest(String kind) {
        return reports.stream().filter(r -> r.kind().equals(kind)).findFirst();
    }

    /** The newest authenticated drill of {@code kind} that passed. */
    public Optional<DrillReport> newestPassed(String kind) {
        return reports.stream().filter(r -> r.kind().equals(kind) && r.passed()).findFirst();
    }

    /** This history without the reports {@code drop} rejects (e.g. those dated in the future). */
    public DrillHistory without(java.util.function.Predicate<DrillReport> drop) {
        return new DrillHistory(reports.stream().filter(drop.negate()).toList(), unauthenticated, unreadable);
    }
}
