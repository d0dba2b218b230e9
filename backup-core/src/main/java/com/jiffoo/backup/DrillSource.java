package com.jiffoo.backup;

import java.util.List;
import java.util.Objects;

/**
 * Where a restore drill takes its backup from: it finds the backup to drill ({@link #locate()}) and restores it into
 * the drill's scratch target ({@link #restore}) by the ordinary restore path ({@link RestorePipeline}), so a drill
 * proves exactly what a restore would do. {@link #of} reads one store; the launcher's source reads the store and
 * then each copy in turn, as {@code restore} does, and names the stores that could not serve.
 */
public interface DrillSource {

    /**
     * The key of the backup to drill.
     *
     * @throws BackupException {@link NotFoundException} when there is none, {@link IntegrityException} when the newest
     *                         cannot be trusted, {@link StorageException} when the store cannot be read
     */
    String locate();

    /**
     * Restores the backup {@code key} into {@code target} (verified and committed as any restore).
     *
     * @throws BackupException as {@link RestorePipeline#restore(String)} does
     */
    Restored restore(String key, RestoreTarget target);

    /** The store (or stores) read, for the report; never a secret. */
    String describe();

    /**
     * A restore a drill made.
     *
     * @param result        the restore's result (its manifest, facts and time)
     * @param store         the location of the store that served it
     * @param storeFailures the stores tried before it that could not serve, and why
     */
    record Restored(RestoreResult result, String store, List<StoreFailure> storeFailures) {
        /** Copies the list. */
        public Restored {
            Objects.requireNonNull(result, "result");
            storeFailures = List.copyOf(storeFailures);
        }
    }

    /**
     * A store that could not serve the backup.
     *
     * @param store   its location
     * @param code    why ({@link ErrorCode#INTEGRITY}: its copy is damaged)
     * @param message what it answered
     */
    record StoreFailure(String store, ErrorCode code, String message) {}

    /**
     * A source reading one store: the backup {@code key}, or the newest committed and trusted backup of {@code kind}
     * when {@code key} is null.
     *
     * @param decryption the transform that opens the backups (an OpenPGP transform), or null for unencrypted ones
     */
    static DrillSource of(Sink sink, Transform decryption, BackupTrust trust, String kind, String key) {
        Objects.requireNonNull(sink, "sink");
        Objects.requireNonNull(trust, "trust");
        Objects.requireNonNull(kind, "kind");
        return new DrillSource() {
            @Override
            public String locate() {
                if (key != null) {
                    return key;
                }
                return StoredBackups.of(sink, trust)
                        .scan(kind)
                        .latestTrusted()
                        .map(BackupManifest::objectKey)
                        .orElseThrow(() -> new NotFoundException(
                                "No committed " + kind + " backup in " + sink.location() + " to drill.",
                                null,
                                sink.location(),
                                null));
            }

            @Override
            public Restored restore(String located, RestoreTarget target) {
                RestorePipeline.Builder b =
                        RestorePipeline.builder().sink(sink).trust(trust).target(target);
                if (decryption != null) {
                    b.decryption(decryption);
                }
                return new Restored(b.build().restore(located), sink.location(), List.of());
            }

            @Override
            public String describe() {
                return sink.location();
            }
        };
    }
}
