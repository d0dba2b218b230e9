package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ForeignSignatureException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredBackups;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A read (restore, verify) from the first store that can serve it: the store, then each copy in the configured
 * order, as the command line's restore and verify do. The next store is tried when one is unreachable or fails
 * ({@code STORAGE}), holds a damaged copy ({@code INTEGRITY}) or none ({@code NOT_FOUND}); any other failure (a key
 * that does not open the backup, a target that refuses) ends the read, since another copy would fail the same way.
 * Each store that could not serve is logged as a warning.
 */
final class StoreFallback {
    private static final Logger log = LoggerFactory.getLogger(StoreFallback.class);

    private StoreFallback() {}

    /** A read from one store. */
    @FunctionalInterface
    interface Read<T> {
        T from(Sink store);
    }

    /** What a read gave and the store that served it. */
    record Served<T>(T value, Sink store, List<BackupException> failures) {}

    static boolean tryNext(BackupException e) {
        return switch (e.code()) {
            case STORAGE, INTEGRITY, NOT_FOUND -> true;
            default -> false;
        };
    }

    /**
     * Runs {@code read} on each store in turn until one succeeds.
     *
     * @throws BackupException the first store's failure when no store could serve (its message then names what each
     *                         other store answered), or a failure that another store would not change
     */
    static <T> Served<T> first(List<Sink> stores, String what, Read<T> read) {
        List<BackupException> failures = new ArrayList<>();
        for (int i = 0; i < stores.size(); i++) {
            Sink store = stores.get(i);
            try {
                T value = read.from(store);
                if (!failures.isEmpty()) {
                    log.warn("{}: served by the copy in {}", what, store.location());
                }
                return new Served<>(value, store, failures);
            } catch (BackupException e) {
                if (!tryNext(e)) {
                    throw e;
                }
                failures.add(e);
                if (i + 1 < stores.size()) {
                    log.warn(
                            "{}: the store {} failed ({}: {}); trying the next store, {}",
                            what,
                            store.location(),
                            e.code(),
                            e.getMessage(),
                            stores.get(i + 1).location());
                }
            }
        }
        Optional<ConfigurationException> everywhere = ForeignSignatureException.ifEveryStore(failures);
        if (everywhere.isPresent()) {
            throw everywhere.get();
        }
        BackupException first = failures.get(0);
        if (failures.size() == 1) {
            throw first;
        }
        StringBuilder b = new StringBuilder(first.getMessage()).append(" No other store could serve it either:");
        for (int i = 1; i < failures.size(); i++) {
            b.append(' ')
                    .append(stores.get(i).location())
                    .append(": ")
                    .append(failures.get(i).getMessage());
        }
        BackupException all = BackupException.of(
                first.code(),
                b.toString(),
                first.key().orElse(null),
                first.location().orElse(null),
                first);
        failures.stream().skip(1).forEach(all::addSuppressed);
        throw all;
    }

    /**
     * The key of the newest trusted backup of {@code kind} in any of {@code stores} (by completion time), so that a
     * backup that reached a copy but not the store is found; stores that cannot be listed are skipped here (reading
     * then reports them). Empty when none holds one.
     */
    static Optional<String> newest(List<Sink> stores, String kind, BackupTrust trust) {
        BackupManifest best = null;
        for (Sink store : stores) {
            try {
                Optional<BackupManifest> m =
                        StoredBackups.of(store, trust).scan(kind).latestTrusted();
                if (m.isPresent() && (best == null || m.get().completedAt().isAfter(best.completedAt()))) {
                    best = m.get();
                }
            } catch (BackupException e) {
                log.debug("newest {} backup: skipping {}: {}", kind, store.location(), e.getMessage());
            }
        }
        return Optional.ofNullable(best).map(BackupManifest::objectKey);
    }
}
