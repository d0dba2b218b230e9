package com.jiffoo.backup;

import com.jiffoo.backup.BackupListener.Operation;
import com.jiffoo.backup.internal.CountingDigestInputStream;
import com.jiffoo.backup.internal.Pipe;
import com.jiffoo.backup.internal.StageFailure;
import com.jiffoo.backup.internal.StageStreams;
import com.jiffoo.backup.internal.StoreOverlap;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.internal.Support.ProgressTicker;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores one backup: {@code Sink -> SHA-256 -> Transforms reversed -> RestoreTarget}.
 *
 * <p>Verify before trust (DESIGN promise 5): the manifest and sidecar are read and cross-checked first; the stored
 * bytes and the decoded plaintext are hashed as they stream and compared with the manifest; the target
 * {@linkplain RestoreTarget#stage stages} the content (a sibling directory, a new database) and is
 * {@linkplain StagedRestore#commit() committed} only when every check passed. Otherwise the staged copy is
 * discarded and the target keeps its old content. A target that cannot stage safely gets a full verification pass
 * over the stored bytes before it is touched.
 *
 * <p>Integrity wins: when the target fails before the end of its stream (pg_restore or tar choking on damaged data),
 * the rest of the stored object is still read through the decoders, keeping nothing, and checked; when a check fails,
 * the restore fails with an {@link IntegrityException} (the backup is damaged) carrying the target's error as detail.
 * Only a target failure on a backup that passed every check is reported as the target's.
 *
 * <p>Decoding (decryption) and the target (decompression, extraction) run on two threads joined by a bounded
 * buffer; memory does not depend on the backup's size.
 *
 * <pre>{@code
 * RestorePipeline restore = RestorePipeline.builder()
 *         .sink(LocalDirectorySink.create(Path.of("/var/backups/jiffoo")))
 *         .decryption(OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(keyFile)).build())
 *         .target(DirectoryRestoreTarget.builder(Path.of("/srv/uploads")).replaceExisting(true).build())
 *         .build();
 * RestoreResult result = restore.restore("files/files_backup_20260111_030000.tar.gz.gpg");
 * }</pre>
 *
 * <p>Immutable; {@link #restore} may be called many times. It does not close the sink.
 */
public final class RestorePipeline {
    private static final Logger log = LoggerFactory.getLogger(RestorePipeline.class);
    /** Default size of the chunks handed from the decoding thread to the target thread. */
    static final int DEFAULT_CHUNK = 256 * 1024;
    /** Default number of chunks that may wait between the two threads. */
    static final int DEFAULT_CHUNKS = 8;
    /** How long a failed restore waits for its target to notice the failure and stop. */
    private static final Duration TARGET_STOP_WAIT = Duration.ofSeconds(60);

    private final Sink sink;
    private final List<Sink> protectedStores;
    private final RestoreTarget target;
    private final List<Transform> transforms;
    private final BackupTrust trust;
    private final BackupListener listener;
    private final int chunkSize;
    private final int chunks;

    private RestorePipeline(Builder b) {
        this.sink = b.sink;
        this.protectedStores = List.copyOf(b.protectedStores);
        this.target = b.target;
        this.transforms = List.copyOf(b.transforms);
        this.trust = b.trust != null ? b.trust : BackupTrust.of(this.transforms);
        this.listener = b.listener;
        this.chunkSize = b.chunkSize;
        this.chunks = b.chunks;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this pipeline's settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.sink = sink;
        b.protectedStores.addAll(protectedStores);
        b.target = target;
        b.transforms.addAll(transforms);
        b.trust = trust;
        b.listener = listener;
        b.chunkSize = chunkSize;
        b.chunks = chunks;
        return b;
    }

    /**
     * Restores the backup with the given data, sidecar or manifest key.
     *
     * @throws BackupException when the backup is missing, damaged, cannot be decrypted, or the target fails; the
     *                         target then keeps its previous content
     */
    public RestoreResult restore(String key) {
        return run(key, backups -> backups.manifest(key));
    }

    /**
     * Restores the newest committed backup of one kind ({@code files}, {@code database}).
     *
     * @throws NotFoundException  when the store holds no committed backup of that kind
     * @throws IntegrityException when the newest manifest cannot be read or trusted: the message names it and the
     *                            newest backup that can be trusted, which is not restored silently in its place
     */
    public RestoreResult restoreLatest(String kind) {
        return run(
                kind + "/ (latest)",
                backups -> backups.scan(kind)
                        .latestTrusted()
                        .orElseThrow(() -> new NotFoundException(
                                "No committed " + kind + " backup in " + sink.location() + ". List the store"
                                        + " to see what it holds.",
                                null,
                                sink.location(),
                                null)));
    }

    /**
     * Restores the newest committed backup of one kind completed at or before {@code time} (with its chain, when it
     * is an increment).
     *
     * @throws NotFoundException when the store holds no committed backup of that kind that old
     */
    public RestoreResult restoreAsOf(String kind, java.time.Instant time) {
        java.util.Objects.requireNonNull(time, "time");
        return run(
                kind + "/ (as of " + time + ")",
                backups -> backups.committed(kind).stream()
                        .filter(m -> !m.completedAt().isAfter(time))
                        .findFirst()
                        .orElseThrow(() -> new NotFoundException(
                                "No committed " + kind + " backup in " + sink.location() + " completed at or before "
                                        + time + ". List the store to see what it holds.",
                                null,
                                sink.location(),
                                null)));
    }

    /** One restore, with exactly one started and one finished or failed event, whatever fails. */
    private RestoreResult run(String label, java.util.function.Function<StoredBackups, BackupManifest> pick) {
        ProgressTicker ticker = new ProgressTicker();
        Support.notify(listener, l -> l.started(Operation.RESTORE, label));
        long[] size = {-1};
        try {
            refuseOverlap();
            StoredBackups backups = StoredBackups.of(sink, trust);
            BackupManifest m = pick.apply(backups);
            size[0] = m.objectSize();
            RestoreResult result = restore(backups, m, ticker);
            Progress done = Support.progress(m.objectKey(), m.plaintextSize(), m.objectSize(), m.objectSize(), ticker);
            Support.notify(listener, l -> l.finished(Operation.RESTORE, done));
            return result;
        } catch (BackupException e) {
            Progress at = Support.progress(label, 0, 0, size[0], ticker);
            Support.notify(listener, l -> l.failed(Operation.RESTORE, at, e));
            throw e;
        }
    }

    private RestoreResult restore(StoredBackups backups, BackupManifest m, ProgressTicker ticker) {
        // an increment is restored by applying its whole chain, from the full backup on (each link checked)
        List<BackupManifest> links =
                BackupChain.isIncrement(m) ? BackupChain.links(m, backups.committed(m.kind())) : List.of(m);
        List<List<Transform>> decoders = new java.util.ArrayList<>();
        for (BackupManifest link : links) {
            backups.checkSidecar(link);
            decoders.add(StoredBackups.decoders(link, transforms, sink.location()));
        }
        target.checkReady(m); // a target that refuses does so before a byte of the backup is read
        if (!target.stagesSafely()) {
            log.info("{} cannot stage safely; verifying {} before touching it", target.describe(), m.objectKey());
            BackupVerifier.builder()
                    .sink(sink)
                    .transforms(transforms)
                    .trust(trust)
                    .build()
                    .verify(m.objectKey(), true);
        }
        log.info("restore of {} from {} into {} started", m.objectKey(), sink.location(), target.describe());
        if (links.size() > 1) {
            log.info("{} is an increment: applying its chain of {} backups in order", m.objectKey(), links.size());
        }
        StagedRestore staged = stream(
                backups, links.get(0), decoders.get(0), target, listener, Operation.RESTORE, ticker, chunkSize, chunks);
        for (int i = 1; i < links.size(); i++) {
            StagedRestore previous = staged;
            RestoreTarget onto = new RestoreTarget() {
                @Override
                public String describe() {
                    return target.describe();
                }

                @Override
                public StagedRestore stage(InputStream plaintext, BackupManifest link) throws IOException {
                    return target.stageOnto(previous, plaintext, link);
                }
            };
            try {
                staged = stream(
                        backups,
                        links.get(i),
                        decoders.get(i),
                        onto,
                        listener,
                        Operation.RESTORE,
                        ticker,
                        chunkSize,
                        chunks);
            } catch (RuntimeException e) {
                previous.close();
                throw e;
            }
        }
        try (StagedRestore s = staged) {
            listener.committing(Operation.RESTORE, m.objectKey()); // may refuse: nothing has changed yet
            s.commit();
            Map<String, Object> facts = s.facts();
            if (links.size() > 1) {
                facts = new java.util.LinkedHashMap<>(facts);
                facts.put("chain", links.stream().map(BackupManifest::id).toList());
            }
            Duration elapsed = Duration.ofNanos(ticker.elapsedNanos());
            log.info("restore of {} into {} done in {} ms", m.objectKey(), target.describe(), elapsed.toMillis());
            return new RestoreResult(m, facts, elapsed);
        } catch (IOException | RuntimeException e) {
            throw e instanceof RestoreException r
                    ? r
                    : new RestoreException(
                            "The verified backup "
                                    + m.objectKey() + " could not be put in place in " + target.describe() + ": "
                                    + e.getMessage()
                                    + ". The staged copy was discarded; check the target's permissions and space.",
                            m.objectKey(),
                            target.describe(),
                            e);
        }
    }

    /**
     * Refuses a target (a directory, a bucket) that is, holds or lies inside the store or a protected store: writing
     * there could overwrite the backups, replacing would delete them.
     */
    private void refuseOverlap() {
        List<Sink> stores = new ArrayList<>();
        stores.add(sink);
        stores.addAll(protectedStores);
        StoreOverlap.refuse(StoreOverlap.Use.RESTORE, stores, target.localPath(), target.bucketLocation(), null);
    }

    /**
     * Streams a stored backup through its decoders into {@code target}, verifying sizes and digests against the
     * manifest. Returns the staged restore only when everything matched; otherwise discards it and throws. Emits
     * progress events; the caller emits started and finished or failed.
     */
    static StagedRestore stream(
            StoredBackups backups,
            BackupManifest m,
            List<Transform> decoders,
            RestoreTarget target,
            BackupListener listener,
            Operation op,
            ProgressTicker ticker,
            int chunkSize,
            int chunks) {
        String key = m.objectKey();
        String location = backups.sink().location();
        Pipe pipe = new Pipe(chunkSize, chunks);
        TargetRun run = new TargetRun(target, pipe, m);
        Thread thread = new Thread(run, "jiffoo-restore-target");
        thread.setDaemon(true);
        long[] counts = new long[2];
        try {
            try (InputStream raw = backups.openData(m)) {
                // The target starts first: it prepares (CREATE DATABASE, starting pg_restore) while the decoders set
                // up (the OpenPGP key derivation hashes 64 MiB); it reads nothing before the first decoded byte.
                thread.start();
                CountingDigestInputStream stored = new CountingDigestInputStream(
                        StageStreams.input(raw, "read (" + location + ")", ErrorCode.STORAGE));
                InputStream in = stored;
                for (Transform t : decoders) {
                    String stage = "decode (" + t.describe().get("type") + ")";
                    InputStream decoded;
                    try {
                        decoded = t.decode(in);
                    } catch (IOException e) {
                        throw StageStreams.failure(stage, ErrorCode.INTEGRITY, e);
                    } catch (DecryptionException e) {
                        // a damaged header fails as a wrong key does: the manifest's SHA-256 tells which it is
                        throw StoredBackups.decryptionFailure(e, m, stored, location);
                    }
                    in = StageStreams.input(decoded, stage, ErrorCode.INTEGRITY);
                }
                CountingDigestInputStream plain = new CountingDigestInputStream(in);
                boolean checked = false;
                try {
                    OutputStream out = pipe.outputStream();
                    byte[] buf = new byte[chunkSize];
                    int n;
                    while ((n = plain.read(buf)) >= 0) {
                        out.write(buf, 0, n);
                        counts[0] = plain.count();
                        counts[1] = stored.count();
                        if (ticker.due()) {
                            Progress p = Support.progress(key, counts[0], counts[1], m.objectSize(), ticker);
                            Support.notify(listener, l -> l.progress(op, p));
                        }
                    }
                    stored.transferTo(OutputStream.nullOutputStream()); // bytes after the encoded data count too
                    counts[1] = stored.count();
                    // Checked before the target sees the end of its stream: a target that applies as it reads
                    // (pg_restore into an existing database, one transaction committed at end of input) then gets an
                    // error instead of the end, and rolls back. So even bytes that changed in the store after a
                    // verification pass cannot be applied.
                    check(m, stored, plain, location);
                    checked = true;
                    out.close();
                } catch (IOException | RuntimeException e) {
                    Throwable targetFailure = run.failure;
                    if (targetFailure == null || !Pipe.isReaderClosed(e)) {
                        throw e;
                    }
                    if (!checked && !pipe.readerTookAny()) {
                        // The target failed before it took a byte (its database could not be created, say): its
                        // error has nothing to do with this backup's bytes, and reading the rest would only delay it.
                        throw e;
                    }
                    // The target stopped first. A target choking on damaged data (pg_restore: "could not
                    // uncompress data") must not hide the damage: finish the checks, then decide whose error it is.
                    BackupException unconfirmed = checked ? null : readRest(plain, stored, m, target, location);
                    if (unconfirmed == null) {
                        run.backupIntact = true;
                    } else if (unconfirmed.code() == ErrorCode.INTEGRITY) {
                        throw unconfirmed; // the backup is damaged: that is the error, the target's is detail
                    } else {
                        log.warn(
                                "the restore target failed, and whether {} is damaged could not be checked: {}",
                                key,
                                unconfirmed.getMessage());
                    }
                    throw e;
                }
                join(thread);
                if (run.failure != null) {
                    run.backupIntact = true; // every check passed before the target saw the end of its stream
                    throw run.failure;
                }
            }
            return run.staged;
        } catch (Throwable e) {
            pipe.fail(e);
            if (thread.isAlive()) {
                // an interrupted restore (the launcher stopped by SIGTERM) still waits for its target to clean up
                // (drop the new database, delete the staging directory) instead of leaving it half-restored
                boolean interrupted = Thread.interrupted();
                try {
                    thread.join(TARGET_STOP_WAIT.toMillis());
                } catch (InterruptedException ie) {
                    interrupted = true;
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
                if (thread.isAlive()) {
                    log.warn(
                            "the restore target {} did not stop within {} s after the failure; leaving it",
                            target.describe(),
                            TARGET_STOP_WAIT.toSeconds());
                    thread.interrupt();
                }
            }
            if (run.staged != null) {
                run.staged.close();
            }
            // the target's own failure is primary when it made the decoding side stop
            Throwable primary = run.failure != null && (e == run.failure || Pipe.isReaderClosed(e)) ? run.failure : e;
            BackupException be = translate(primary, m, target, location);
            if (primary != run.failure && run.failure != null && be.code() == ErrorCode.INTEGRITY) {
                be = new IntegrityException(
                        be.getMessage() + " (The restore target failed too, as it would on" + " damaged data: "
                                + translate(run.failure, m, target, location).getMessage() + ")",
                        key,
                        be.location().orElse(location),
                        be);
                be.addSuppressed(run.failure);
            } else if (primary == run.failure && run.backupIntact) {
                be = BackupException.of(
                        be.code(),
                        be.getMessage() + " The backup itself passed its integrity"
                                + " checks (the stored object and its decoded content match the manifest): this is not"
                                + " damage in the store.",
                        key,
                        be.location().orElse(location),
                        be);
            }
            // info, not warn: the caller gets the exception and reports it (a launcher prints it once)
            log.info("{} of {} failed: {}", op.name().toLowerCase(java.util.Locale.ROOT), key, be.getMessage());
            throw be;
        }
    }

    private static BackupException translate(Throwable e, BackupManifest m, RestoreTarget target, String location) {
        String key = m.objectKey();
        if (e instanceof StageFailure sf && sf.getCause() instanceof BackupException be) {
            e = be;
        }
        if (e instanceof BackupException be) {
            // a transform or target does not know which backup it works on: add that
            return be.key().isPresent()
                    ? be
                    : BackupException.of(
                            be.code(),
                            be.getMessage() + " [backup " + key + " in " + location + "]",
                            key,
                            be.location().orElse(location),
                            be);
        }
        if (e instanceof StageFailure sf) {
            Throwable cause = sf.getCause();
            if (sf.code() == ErrorCode.STORAGE) {
                return new StorageException(
                        "Reading " + key + " from " + location + " failed: " + cause.getMessage()
                                + ". Nothing was restored; check that the store is reachable and try again.",
                        key,
                        location,
                        cause);
            }
            return new IntegrityException(
                    "The backup " + key + " could not be decoded at step '" + sf.stage()
                            + "': " + cause.getMessage() + ". It is damaged or truncated; nothing was restored."
                            + " Restore another backup.",
                    key,
                    location,
                    cause);
        }
        return new RestoreException(
                "Restoring " + key + " into " + target.describe() + " failed: " + e
                        + ". The target keeps its previous content.",
                key,
                target.describe(),
                e);
    }

    /**
     * After the target stopped early: reads the rest of the stored object through the decoders, keeping nothing,
     * so that the stored object's SHA-256, the decryption's integrity check and the plaintext's SHA-256 each see
     * every byte, and compares them with the manifest.
     *
     * @return {@code null} when the backup is intact; otherwise why it is not confirmed: an {@link ErrorCode#INTEGRITY}
     * failure when it is damaged, any other failure (the store failed, the restore was interrupted) when this could
     * not be decided
     */
    private static BackupException readRest(
            CountingDigestInputStream plain,
            CountingDigestInputStream stored,
            BackupManifest m,
            RestoreTarget target,
            String location) {
        log.info(
                "the restore target {} stopped before the end of {}; reading the rest to tell a damaged backup from"
                        + " a failing target",
                target.describe(),
                m.objectKey());
        byte[] buf = new byte[64 * 1024];
        try {
            for (InputStream in : List.of(plain, stored)) {
                while (in.read(buf) >= 0) {
                    if (Thread.currentThread().isInterrupted()) {
                        return new RestoreException("the restore was interrupted", m.objectKey(), location, null);
                    }
                }
            }
            check(m, stored, plain, location);
            return null;
        } catch (IOException | RuntimeException e) {
            BackupException be = translate(e, m, target, location);
            return be.code() == ErrorCode.DECRYPTION
                    ? new IntegrityException(be.getMessage(), m.objectKey(), location, be)
                    : be; // mid-stream, after the key opened it: the encryption layer is damaged
        }
    }

    /** Compares the stored object's and the plaintext's sizes and SHA-256 (read to their end) with the manifest. */
    private static void check(
            BackupManifest m, CountingDigestInputStream stored, CountingDigestInputStream plain, String location) {
        check(m, "stored object", stored.count(), stored.sha256(), m.objectSize(), m.objectSha256(), location);
        check(m, "decoded plaintext", plain.count(), plain.sha256(), m.plaintextSize(), m.plaintextSha256(), location);
    }

    private static void check(
            BackupManifest m, String what, long size, String sha, long wantSize, String wantSha, String location) {
        if (size != wantSize || !sha.equals(wantSha)) {
            throw new IntegrityException(
                    "The " + what + " of " + m.objectKey() + " in " + location
                            + " does not match its manifest: " + size + " bytes with SHA-256 " + sha + ", expected "
                            + wantSize + " bytes with SHA-256 " + wantSha + ". The backup is damaged or was replaced;"
                            + " nothing was restored. Restore another backup.",
                    m.objectKey(),
                    location,
                    null);
        }
    }

    private static void join(Thread t) throws IOException {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for the restore target");
        }
    }

    /** Runs the target's stage on its own thread, reading from the pipe, then drains what it left. */
    private static final class TargetRun implements Runnable {
        private final RestoreTarget target;
        private final Pipe pipe;
        private final BackupManifest manifest;
        volatile StagedRestore staged;
        volatile Throwable failure;
        /** Set when the target failed although every integrity check of the backup passed. */
        volatile boolean backupIntact;

        TargetRun(RestoreTarget target, Pipe pipe, BackupManifest manifest) {
            this.target = target;
            this.pipe = pipe;
            this.manifest = manifest;
        }

        @Override
        public void run() {
            InputStream in = pipe.inputStream();
            try {
                staged = target.stage(StageStreams.closeShield(in), manifest);
                in.transferTo(OutputStream.nullOutputStream());
            } catch (Throwable t) {
                if (staged != null) {
                    staged.close();
                    staged = null;
                }
                if (!Pipe.isWriterFailed(t)) {
                    failure = t;
                }
                pipe.closeReader();
                return;
            }
            pipe.closeReader();
        }
    }

    /** Builds a {@link RestorePipeline}. Not thread-safe. */
    public static final class Builder {
        private Sink sink;
        private final List<Sink> protectedStores = new ArrayList<>();
        private RestoreTarget target;
        private final List<Transform> transforms = new ArrayList<>();
        private BackupTrust trust;
        private BackupListener listener = BackupListener.NONE;
        private int chunkSize = DEFAULT_CHUNK;
        private int chunks = DEFAULT_CHUNKS;

        private Builder() {}

        /** Size of the chunks handed from the decoding thread to the target thread; 256 KiB by default. */
        public Builder bufferChunkSize(int bytes) {
            this.chunkSize = Pipe.checkChunkSize(bytes);
            return this;
        }

        /** How many chunks may wait between the decoding thread and the target thread; 8 by default. */
        public Builder bufferChunks(int count) {
            this.chunks = Pipe.checkChunks(count);
            return this;
        }

        /**
         * What is accepted as a backup. Default: {@link BackupTrust#of} the configured transforms, so configuring
         * decryption also refuses backups that are not encrypted and authenticated with its keys.
         */
        public Builder trust(BackupTrust trust) {
            this.trust = Objects.requireNonNull(trust, "trust");
            return this;
        }

        /** Where the backups are. Required. Not closed by the pipeline. */
        public Builder sink(Sink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /**
         * Other stores the target must stay apart from, as it must from the {@link #sink}: the copies of the store
         * (or, restoring from a copy, the store and the other copies). A target (a directory, a bucket) that is, holds
         * or lies inside any of them is refused before anything is read or written. The sink may be among them. Not
         * closed by the pipeline.
         */
        public Builder protect(java.util.Collection<? extends Sink> stores) {
            stores.forEach(st -> protectedStores.add(Objects.requireNonNull(st, "store")));
            return this;
        }

        /** Where to restore. Required. */
        public Builder target(RestoreTarget target) {
            this.target = Objects.requireNonNull(target, "target");
            return this;
        }

        /** The decrypting transform (with the keys that open the backups). */
        public Builder decryption(Transform decryption) {
            Objects.requireNonNull(decryption, "decryption");
            if (!decryption.encrypts()) {
                throw new IllegalArgumentException(decryption.describe().get("type") + " does not decrypt");
            }
            transforms.add(decryption);
            return this;
        }

        /** A non-encrypting transform that backups may have been encoded with. */
        public Builder transform(Transform transform) {
            transforms.add(Objects.requireNonNull(transform, "transform"));
            return this;
        }

        /** Progress and outcome callbacks; {@link BackupListener#NONE} by default. */
        public Builder listener(BackupListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** Builds the pipeline. */
        public RestorePipeline build() {
            if (sink == null) {
                throw new ConfigurationException("A restore pipeline needs a sink: call sink(...).");
            }
            if (target == null) {
                throw new ConfigurationException("A restore pipeline needs a target: call target(...).");
            }
            return new RestorePipeline(this);
        }
    }
}
