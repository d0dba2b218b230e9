package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ForeignSignatureException;
import com.jiffoo.backup.Sink;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A read (restore, verify) from the first store that can serve it: the store, then each copy in the order
 * configured ({@link Stores#openAll}). The next store is tried when one is unreachable or fails (exit 4), holds a
 * damaged copy (5) or none (8); any other failure (a key that does not open the backup, a target that refuses) ends
 * the read, since another copy would fail the same way. An object signed in the other authentication mode than this
 * host's keys ({@link ForeignSignatureException}) is an integrity failure of that store, unless every store holds it
 * so: then it is this host's configuration (exit 2). Each store that could not serve is logged (a warning) and
 * kept in {@link Served#failures()}.
 */
final class Fallback {
    private static final Logger log = LoggerFactory.getLogger(Fallback.class);

    private Fallback() {}

    /** One store that could not serve, and why. */
    record Failure(Sink store, BackupException error) {
        /** As the JSON summary shows it. */
        Map<String, Object> describe() {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("location", store.location());
            d.put("error", error.code().name());
            d.put("message", CliCommand.forOperators(error.getMessage()));
            return d;
        }
    }

    /** What a read gave, the store that served it, and the stores tried before it. */
    record Served<T>(T value, Sink store, List<Failure> failures) {
        /** The failures as the JSON summary shows them ({@code storeFailures}). */
        List<Map<String, Object>> describeFailures() {
            return failures.stream().map(Failure::describe).toList();
        }
    }

    /** A read from one store. */
    @FunctionalInterface
    interface Read<T> {
        T from(Sink store);
    }

    /** Whether another store may serve what {@code e} refused. */
    static boolean tryNext(BackupException e) {
        return switch (e.code()) {
            case STORAGE, INTEGRITY, NOT_FOUND -> true;
            default -> false;
        };
    }

    /**
     * Runs {@code read} on each store in turn until one succeeds.
     *
     * @throws BackupException the first store's failure when no store could serve (its message then also names what
     *                         each other store answered), or a failure that another store would not change
     */
    static <T> Served<T> first(List<Sink> stores, String what, Read<T> read) {
        List<Failure> failures = new ArrayList<>();
        for (int i = 0; i < stores.size(); i++) {
            Sink store = stores.get(i);
            try {
                T value = read.from(store);
                if (!failures.isEmpty()) {
                    log.warn("{}: used the copy in {}", what, store.location());
                }
                return new Served<>(value, store, failures);
            } catch (BackupException e) {
                if (!tryNext(e)) {
                    throw e;
                }
                if (stores.size() == 1) {
                    throw ForeignSignatureException.ifEveryStore(List.of(e))
                            .map(BackupException.class::cast)
                            .orElse(e);
                }
                failures.add(new Failure(store, e));
                if (i + 1 < stores.size()) {
                    log.warn(
                            "{}: the store {} failed ({}: {}); trying the next store, {}",
                            what,
                            store.location(),
                            e.code(),
                            CliCommand.forOperators(e.getMessage()),
                            stores.get(i + 1).location());
                }
            }
        }
        java.util.Optional<com.jiffoo.backup.ConfigurationException> everywhere =
                ForeignSignatureException.ifEveryStore(
                        failures.stream().map(Failure::error).toList());
        if (everywhere.isPresent()) {
            throw everywhere.get();
        }
        BackupException first = failures.get(0).error();
        StringBuilder b = new StringBuilder(first.getMessage()).append(" No other store could serve it either:");
        for (Failure f : failures.subList(1, failures.size())) {
            b.append(" ")
                    .append(f.store().location())
                    .append(": ")
                    .append(f.error().getMessage());
        }
        BackupException all = BackupException.of(
                first.code(),
                b.toString(),
                first.key().orElse(null),
                first.location().orElse(null),
                first);
        failures.stream().skip(1).forEach(f -> all.addSuppressed(f.error()));
        throw all;
    }

    /**
     * The key of the newest trusted backup of {@code kind} in any of {@code stores} (by its manifest's completion time),
     * so that {@code --latest} finds a backup that reached a copy but not the store. Stores that cannot be listed, or
     * whose newest backup is refused, are skipped here (reading then reports them); empty when none has one.
     */
    static java.util.Optional<String> newest(List<Sink> stores, String kind, com.jiffoo.backup.BackupTrust trust) {
        com.jiffoo.backup.BackupManifest best = null;
        for (Sink store : stores) {
            try {
                java.util.Optional<com.jiffoo.backup.BackupManifest> m = com.jiffoo.backup.StoredBackups.of(
                                store, trust)
                        .scan(kind)
                        .latestTrusted();
                if (m.isPresent() && (best == null || m.get().completedAt().isAfter(best.completedAt()))) {
                    best = m.get();
                }
            } catch (BackupException e) {
                log.debug("newest {} backup: skipping {}: {}", kind, store.location(), e.getMessage());
            }
        }
        return java.util.Optional.ofNullable(best).map(com.jiffoo.backup.BackupManifest::objectKey);
    }
}
