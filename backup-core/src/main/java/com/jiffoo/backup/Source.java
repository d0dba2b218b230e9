package com.jiffoo.backup;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Map;

/**
 * Where the bytes of a backup come from: a tar of a directory, pg_dump's output.
 *
 * <p>A source writes its whole content into the stream it is given and returns facts for the manifest (file count,
 * server version, ...). It must not close the stream. {@link #writeTo} is called once per backup, on a thread of the
 * pipeline's own; a source is not required to be thread-safe but must be reusable for a later backup.
 *
 * <pre>{@code
 * Source source = DirectorySource.builder(Path.of("/srv/uploads")).build();
 * BackupManifest m = BackupPipeline.builder().source(source).sink(sink).encryption(pgp).build().run();
 * }</pre>
 */
public interface Source {

    /** The kind of data, also the folder in the store: {@code "files"}, {@code "database"}. */
    String kind();

    /** The first part of backup names: {@code files_backup}, {@code db_backup}. Defaults to {@code kind() + "_backup"}. */
    default String baseName() {
        return kind() + "_backup";
    }

    /** The file-name suffix of what {@link #writeTo} produces, before any transform: {@code .tar.gz}, {@code .sql}. */
    String suffix();

    /** A short human description for logs and errors, e.g. the directory or database (never with credentials). */
    String describe();

    /**
     * The local directory this source reads, when it is one (so a backup can refuse a source that overlaps the store
     * it writes to). Empty by default.
     */
    default java.util.Optional<java.nio.file.Path> localPath() {
        return java.util.Optional.empty();
    }

    /**
     * The bucket and prefix this source reads, when it is one (so a backup can refuse a bucket that overlaps the store
     * or a copy it writes to). Empty by default.
     */
    default java.util.Optional<com.jiffoo.backup.store.BucketLocation> bucketLocation() {
        return java.util.Optional.empty();
    }

    /**
     * Writes the whole content to {@code out}, which the caller closes.
     *
     * @return facts for the manifest; values are strings, numbers, booleans, lists or maps of those
     * @throws IOException when reading the data or writing to {@code out} fails
     * @throws BackupException when the source fails in a way it can explain (e.g. {@link SourceException})
     */
    Map<String, Object> writeTo(OutputStream out) throws IOException;

    /**
     * Asks a {@link #writeTo} in progress on another thread to stop now: the backup has failed or was interrupted.
     * A source that waits on something the thread interrupt cannot reach — a child process that writes nothing
     * while it waits for a lock, a blocking socket — stops it here (kills the process), so that
     * {@code writeTo} returns or throws promptly and nothing is left running. The default does nothing; the pipeline
     * also interrupts the source's thread and closes the stream it writes to.
     *
     * <p>Called from another thread, possibly more than once, possibly after {@code writeTo} returned; must not
     * throw. It affects every {@code writeTo} of this instance still running.
     */
    default void cancel() {}
}
