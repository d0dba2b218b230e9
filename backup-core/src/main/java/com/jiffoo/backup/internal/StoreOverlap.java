package com.jiffoo.backup.internal;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.BucketLocation;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The one check that what a pipeline reads or writes stays apart from the stores it uses: a local directory against
 * a local store ({@link Sink#localRoot()}), a bucket against a store in a bucket ({@link Sink#bucketLocation()},
 * {@link BucketLocation#overlaps}). Backing up what holds the store would read the store's own output (each backup
 * holding all the earlier ones); restoring into the store could overwrite or delete the backups. Used by
 * {@code BackupPipeline} (the store and every copy), {@code RestorePipeline} (the store read from and the stores it is
 * told to protect) and the command line (which names its flag). Not public API.
 */
public final class StoreOverlap {
    private StoreOverlap() {}

    /** What the pipeline does with the directory or bucket. */
    public enum Use {
        /** A backup reads it. */
        BACKUP,
        /** A restore writes into it. */
        RESTORE
    }

    /**
     * Refuses a directory or bucket that overlaps one of {@code stores}. Does nothing for stores that are neither
     * local nor in a bucket, or when both are empty.
     *
     * @param named how the message names the bucket, e.g. {@code the bucket s3://shop/media (--from)}; null: the
     *              bucket's location
     * @throws ConfigurationException saying what overlaps which store, and what to do
     */
    public static void refuse(
            Use use, List<Sink> stores, Optional<Path> directory, Optional<BucketLocation> bucket, String named) {
        for (Sink store : stores) {
            refuseLocal(use, store, directory);
            if (bucket.isPresent() && store.bucketLocation().isPresent()) {
                refuseBucket(use, store.bucketLocation().get(), bucket.get(), named);
            }
        }
    }

    private static void refuseLocal(Use use, Sink sink, Optional<Path> directory) {
        Optional<Path> store = sink.localRoot().map(LocalPaths::canonical);
        Optional<Path> local = directory.map(LocalPaths::canonical);
        if (store.isPresent()
                && local.isPresent()
                && (store.get().startsWith(local.get()) || local.get().startsWith(store.get()))) {
            String message = use == Use.BACKUP
                    ? "Refusing to back up " + local.get() + ": it overlaps the backup store " + store.get()
                            + ", and the backup would read the store's own output and earlier backups. Back up a"
                            + " directory outside the store, or move the store (BACKUP_DIR) out of it."
                    : "Refusing to restore into " + local.get() + ": it overlaps the backup store " + store.get()
                            + ", and replacing it would destroy the backups. Restore into a directory outside the"
                            + " store.";
            throw new ConfigurationException(message, null, local.get().toString(), null);
        }
    }

    private static void refuseBucket(Use use, BucketLocation store, BucketLocation bucket, String named) {
        if (!bucket.overlaps(store)) {
            return;
        }
        String relation = bucket.holds(store) && store.holds(bucket)
                ? "it is the store"
                : bucket.holds(store) ? "it holds the store" : "it lies inside the store";
        String why = use == Use.BACKUP
                ? "each backup would hold the store's own objects, every earlier backup among them (backups growing"
                        + " without bound)"
                : "the restore would write among the backups (and, replacing, delete the objects the backup lacks:"
                        + " the backups)";
        String other = store.prefix().startsWith("media") ? "uploads" : "media";
        String beside = "s3://" + store.bucket() + "/" + other;
        String advice = store.prefix().isEmpty()
                ? "The store takes the whole bucket " + store.uri() + ": keep the backups in another bucket, or"
                        + " under a prefix of their own (s3://" + store.bucket() + "/backups) beside the objects ("
                        + beside + ")."
                : "Name a prefix outside the store (e.g. " + beside + " beside " + store.uri()
                        + "), or keep the backups in another bucket.";
        throw new ConfigurationException(
                "Refusing to " + (use == Use.BACKUP ? "back up " : "restore into ")
                        + (named != null ? named : "the bucket " + bucket.uri()) + ": it overlaps the backup store "
                        + store + " (" + relation + "), and " + why + ". " + advice,
                null,
                bucket.uri(),
                null);
    }
}
