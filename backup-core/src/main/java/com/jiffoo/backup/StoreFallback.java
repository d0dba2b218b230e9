package com.jiffoo.backup;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A read (restore, verify, drill) from the first store that can serve it: the store, then each copy in the configured
 * order. The launcher's {@code restore}, {@code verify} and {@code drill} and the Spring Boot starter's facade read
 * through it.
 *
 * <p>The next store is tried when one is unreachable or fails ({@link ErrorCode#STORAGE}), holds a damaged copy
 * ({@link ErrorCode#INTEGRITY}) or none ({@link ErrorCode#NOT_FOUND}): {@link #tryNext}. Any other failure (a key
 * that does not open the backup, a target that refuses) ends the read at once, since another copy would fail the same
 * way. An object signed in the other authentication mode than this host's keys ({@link ForeignSignatureException}) is
 * an integrity failure of that store, unless every store holds it so: then it is this host's configuration, and a
 * {@link ConfigurationException} is thrown ({@link ForeignSignatureException#ifEveryStore}).
 *
 * <p>Each store that could not serve is logged as a warning ({@code restore: the store s3://… failed (STORAGE: …);
 * trying the next store, file:/…}, then {@code restore: used the copy in file:/…}) and kept in
 * {@link Served#failures()}. With a single store its failure is thrown as it is, without a warning.
 */
public final class StoreFallback {
    private static final Logger log = LoggerFactory.getLogger(StoreFallback.class);

    private StoreFallback() {}

    /**
     * A read from one store.
     *
     * @param <T> what it gives
     */
    @FunctionalInterface
    public interface Read<T> {
        /**
         * Reads from {@code store}.
         *
         * @throws BackupException when this store cannot serve
         */
        T from(Sink store);
    }

    /**
     * A store that could not serve, and why.
     *
     * @param store the store
     * @param error what it answered (one that {@link #tryNext} lets another store retry)
     */
    public record Failure(Sink store, BackupException error) {
        /** Checks the fields. */
        public Failure {
            Objects.requireNonNull(store, "store");
            Objects.requireNonNull(error, "error");
        }
    }

    /**
     * What a read gave, the store that served it, and the stores tried before it.
     *
     * @param value    what the read gave
     * @param store    the store that served it
     * @param failures the stores tried before it, in order (empty when the first store served)
     * @param <T>      what the read gives
     */
    public record Served<T>(T value, Sink store, List<Failure> failures) {
        /** Copies the list. */
        public Served {
            Objects.requireNonNull(store, "store");
            failures = List.copyOf(failures);
        }
    }

    /**
     * Whether another store may serve what {@code e} refused: {@link ErrorCode#STORAGE}, {@link ErrorCode#INTEGRITY}
     * and {@link ErrorCode#NOT_FOUND} are this store's; any other failure would be the same in every store.
     */
    public static boolean tryNext(BackupException e) {
        return switch (e.code()) {
            case STORAGE, INTEGRITY, NOT_FOUND -> true;
            default -> false;
        };
    }

    /**
     * Runs {@code read} on each store in turn until one succeeds.
     *
     * @param stores the store, then its copies (not empty)
     * @param what   the operation, for the warnings ({@code restore}, {@code verify}, {@code drill})
     * @param read   the read from one store
     * @return what the first store that served gave, that store, and the failures of those before it
     * @throws ConfigurationException when every store holds the object signed in the other mode than this host's
     *                                keys check
     * @throws BackupException        the first store's failure when no store could serve (with several stores, its
     *                                message then also names what each other store answered, and their failures
     *                                are suppressed in it), or a failure that another store would not change
     */
    public static <T> Served<T> first(List<Sink> stores, String what, Read<T> read) {
        if (stores.isEmpty()) {
            throw new IllegalArgumentException("no store to read from");
        }
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
                            e.getMessage(),
                            stores.get(i + 1).location());
                }
            }
        }
        List<BackupException> errors = failures.stream().map(Failure::error).toList();
        Optional<ConfigurationException> everywhere = ForeignSignatureException.ifEveryStore(errors);
        if (everywhere.isPresent()) {
            throw everywhere.get();
        }
        BackupException first = errors.get(0);
        StringBuilder b = new StringBuilder(first.getMessage()).append(" No other store could serve it either:");
        for (Failure f : failures.subList(1, failures.size())) {
            b.append(' ')
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
        errors.stream().skip(1).forEach(all::addSuppressed);
        throw all;
    }

    /**
     * The key of the newest trusted backup of {@code kind} in any of {@code stores} (by its manifest's completion
     * time), so that a backup that reached a copy but not the store is found. Stores that cannot be listed, or whose
     * newest backup is refused, are skipped here (reading it through {@link #first} then reports them).
     *
     * @return the key, or empty when no store holds one
     */
    public static Optional<String> newest(List<Sink> stores, String kind, BackupTrust trust) {
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
