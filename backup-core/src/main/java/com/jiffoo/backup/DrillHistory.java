package com.jiffoo.backup;

import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * The restore drills recorded in one or more stores ({@link DrillReport#storeIn}), as the monitor and {@code list} see
 * them: only reports whose signature checks out with the configured key count, ordered by the date signed inside
 * them (never by their keys, which whoever writes to the store chooses). A report without a signature, or one read
 * without a key that can check it, or one whose signature does not match, or one that records a store other than
 * those being looked at (copied from another store), is {@linkplain #unauthenticated() set aside} with the reason
 * and never counts as a drill, passed or failed: anyone who can write to the store could have planted it.
 *
 * <p>Every report key of every store is read (one read of the report and one of its signature each); memory stays
 * bounded: only the newest and the newest passed report of each kind are kept, and at most {@value #MAX_KEPT} of the
 * reports set aside, excluded or unreadable (their counts are kept in full).
 *
 * @param reports         per kind, the newest authenticated report and the newest that passed, newest first
 * @param unauthenticated the reports set aside, newest key first (at most {@value #MAX_KEPT})
 * @param unreadable      the stores (or reports) that could not be read, with why (at most {@value #MAX_KEPT})
 * @param excluded        authenticated reports the caller excluded (e.g. dated in the future), newest first (at most
 *                        {@value #MAX_KEPT}); they are not in {@code reports}
 * @param setAsideCount   how many reports were set aside in all
 */
public record DrillHistory(
        List<DrillReport> reports,
        List<SetAside> unauthenticated,
        List<String> unreadable,
        List<DrillReport> excluded,
        int setAsideCount) {
    /** How many reports set aside, excluded, or unreadable keys are kept (and named) at most. */
    public static final int MAX_KEPT = 100;

    /** Copies the lists. */
    public DrillHistory {
        reports = List.copyOf(reports);
        unauthenticated = List.copyOf(unauthenticated);
        unreadable = List.copyOf(unreadable);
        excluded = List.copyOf(excluded);
    }

    /**
     * A report that does not count.
     *
     * @param store  where it lies
     * @param key    its key
     * @param reason why it does not count (unsigned, no key to check it, signature mismatch, not a report, recorded
     *               for another store)
     */
    public record SetAside(String store, String key, String reason) {}

    /**
     * Reads the drill reports of {@code stores}; a report counts for them when it records one of them as its store.
     *
     * @see #read(List, Collection, BackupTrust, Predicate)
     */
    public static DrillHistory read(List<? extends Sink> stores, BackupTrust trust) {
        return read(stores, stores.stream().map(Sink::location).toList(), trust, r -> false);
    }

    /**
     * Reads every drill report of each store. The first store that cannot be listed throws when it is the only one;
     * otherwise each unreadable store is named in {@link #unreadable()}.
     *
     * @param stores    the stores to read
     * @param ownStores the locations a report must record as its store to count (the store watched and its copies;
     *                  a drill may have restored from a copy): a report of another store copied here does not count
     * @param trust     what authenticates a report: its authenticator must be able to verify the signature; without
     *                  one every report is set aside
     * @param exclude   authenticated reports not to count (kept in {@link #excluded()}), e.g. those dated in the
     *                  future
     * @throws StorageException when the only store cannot be listed
     */
    public static DrillHistory read(
            List<? extends Sink> stores,
            Collection<String> ownStores,
            BackupTrust trust,
            Predicate<DrillReport> exclude) {
        Objects.requireNonNull(trust, "trust");
        Set<String> own = Set.copyOf(ownStores);
        BackupTrust strict = trust.toBuilder().allowUnauthenticated(false).build();
        Map<String, DrillReport> newest = new LinkedHashMap<>();
        Map<String, DrillReport> newestPassed = new LinkedHashMap<>();
        Kept<SetAside> aside = new Kept<>(Comparator.comparing(SetAside::key).reversed());
        Kept<DrillReport> excluded =
                new Kept<>(Comparator.comparing(DrillReport::startedAt).reversed());
        List<String> unreadable = new ArrayList<>();
        for (Sink s : stores) {
            List<StoredObject> listing;
            try {
                listing = s.list(StoreLayout.DRILL_REPORT_PREFIX);
            } catch (IOException | RuntimeException e) {
                if (stores.size() == 1) {
                    throw new StorageException(
                            "Cannot list the drill reports in " + s.location() + ": " + e.getMessage(),
                            null,
                            s.location(),
                            e);
                }
                keep(unreadable, s.location() + ": " + e.getMessage());
                continue;
            }
            for (StoredObject o : listing) {
                String key = o.key();
                if (!key.endsWith(".json")) {
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
                DrillReport r;
                try {
                    r = DrillReport.readFrom(s, key, strict);
                } catch (IntegrityException | DecryptionException | ConfigurationException | NotFoundException e) {
                    aside.add(new SetAside(s.location(), key, e.getMessage()));
                    continue;
                } catch (StorageException e) {
                    keep(unreadable, s.location() + ": " + key + ": " + e.getMessage());
                    continue;
                }
                if (r.store() == null || !own.contains(r.store())) {
                    aside.add(new SetAside(
                            s.location(),
                            key,
                            "it records the drill of a backup from " + r.store() + ", which is not "
                                    + (own.size() == 1
                                            ? "the store " + own.iterator().next()
                                            : "one of the stores " + String.join(", ", new TreeSet<>(own)))
                                    + ": a report copied from another store does not count here"));
                    continue;
                }
                if (exclude.test(r)) {
                    excluded.add(r);
                    continue;
                }
                newest.merge(r.kind(), r, DrillHistory::newer);
                if (r.passed()) {
                    newestPassed.merge(r.kind(), r, DrillHistory::newer);
                }
            }
        }
        List<DrillReport> reports = new ArrayList<>(newest.values());
        newestPassed.values().stream().filter(p -> !reports.contains(p)).forEach(reports::add);
        reports.sort(Comparator.comparing(DrillReport::startedAt).reversed());
        return new DrillHistory(reports, aside.list(), unreadable, excluded.list(), aside.count);
    }

    /** The later-started of two reports; the one already kept on a tie. */
    private static DrillReport newer(DrillReport kept, DrillReport other) {
        return other.startedAt().isAfter(kept.startedAt()) ? other : kept;
    }

    private static void keep(List<String> list, String line) {
        if (list.size() < MAX_KEPT) {
            list.add(line);
        }
    }

    /** The first {@value #MAX_KEPT} of what is added in {@code order}, and how many were added. */
    private static final class Kept<T> {
        private final java.util.PriorityQueue<T> worstFirst;
        private final Comparator<T> order;
        private int count;

        Kept(Comparator<T> order) {
            this.order = order;
            this.worstFirst = new java.util.PriorityQueue<>(order.reversed());
        }

        void add(T t) {
            count++;
            worstFirst.add(t);
            if (worstFirst.size() > MAX_KEPT) {
                worstFirst.poll();
            }
        }

        List<T> list() {
            List<T> l = new ArrayList<>(worstFirst);
            l.sort(order);
            return l;
        }
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
}
