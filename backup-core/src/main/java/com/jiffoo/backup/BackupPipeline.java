package com.jiffoo.backup;

import com.jiffoo.backup.BackupListener.Operation;
import com.jiffoo.backup.internal.CountingDigestOutputStream;
import com.jiffoo.backup.internal.LocalPaths;
import com.jiffoo.backup.internal.Pipe;
import com.jiffoo.backup.internal.Sha256;
import com.jiffoo.backup.internal.StageFailure;
import com.jiffoo.backup.internal.StageStreams;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.internal.Support.ProgressTicker;
import com.jiffoo.backup.internal.UploadCheck;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one backup: {@code Source -> Transforms -> SHA-256 -> Sink}, then commits.
 *
 * <p>Order of writes (DESIGN promise 1, commit last): the data object, then its {@code .sha256} sidecar, then its
 * {@code .manifest.json}. A backup exists only once its manifest does. Each object is confirmed right after its
 * commit, before the next is written: the store must list the size that was sent and hold the same first and last
 * bytes (ranged reads; a server that kept the upload's framing as data fails here, exit 4). When any step fails,
 * the data object is discarded (or deleted if it was already committed), no manifest is written, and a
 * {@link BackupException} names the failing step.
 *
 * <p>The source runs on a thread of its own and hands its bytes over through a bounded buffer
 * ({@link Builder#bufferChunkSize} x {@link Builder#bufferChunks}), so the source's work (tar + compression, or
 * pg_dump) and the transforms' work (encryption, hashing) run on two cores. Memory does not depend on the size of
 * the backup. The source starts before the transforms are set up, so that their set-up (a passphrase's key
 * derivation) overlaps the source's start; if a transform cannot start, the source is cancelled and the transform's
 * error is reported.
 *
 * <p>Encryption is never silently off: the builder needs either {@link Builder#encryption(Transform)} or an explicit
 * {@link Builder#unencrypted()}.
 *
 * <pre>{@code
 * BackupPipeline pipeline = BackupPipeline.builder()
 *         .source(DirectorySource.builder(Path.of("/srv/uploads")).build())
 *         .encryption(OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(keyFile)).build())
 *         .sink(LocalDirectorySink.create(Path.of("/var/backups/jiffoo")))
 *         .build();
 * BackupManifest manifest = pipeline.run();
 * }</pre>
 *
 * <p>A pipeline is immutable and may be {@link #run()} many times (one backup per call), also concurrently if its
 * source allows it. It does not close the sink.
 */
public final class BackupPipeline {
    private static final Logger log = LoggerFactory.getLogger(BackupPipeline.class);
    /** Object metadata naming the backup's id ({@code files_backup_20260111_030000}), on all three objects. */
    public static final String META_BACKUP_ID = "jiffoo-backup-id";
    /** Object metadata naming the backup's kind. */
    public static final String META_KIND = "jiffoo-backup-kind";
    /**
     * Object metadata with the data object's SHA-256, on the sidecar and manifest (the data object's own metadata
     * is sent before its digest is known).
     */
    public static final String META_OBJECT_SHA256 = "jiffoo-object-sha256";

    private final Source source;
    private final Sink sink;
    private final List<Transform> transforms;
    private final Transform encryption;
    private final Clock clock;
    private final BackupListener listener;
    private final BackupNaming naming;
    private final int chunkSize;
    private final int chunks;

    private BackupPipeline(Builder b) {
        this.source = b.source;
        this.sink = b.sink;
        this.transforms = List.copyOf(b.transforms);
        this.encryption = b.encryption;
        this.clock = b.clock;
        this.listener = b.listener;
        this.naming = b.naming;
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
        b.source = source;
        b.sink = sink;
        b.transforms.addAll(transforms);
        b.encryption = encryption;
        b.unencrypted = encryption == null;
        b.clock = clock;
        b.listener = listener;
        b.naming = naming;
        b.chunkSize = chunkSize;
        b.chunks = chunks;
        return b;
    }

    /** Every transform in encoding order: the configured ones, then encryption. */
    private List<Transform> chain() {
        List<Transform> all = new ArrayList<>(transforms);
        if (encryption != null) {
            all.add(encryption);
        }
        return all;
    }

    /**
     * The authenticator that signs this backup's manifest: the encryption's (DESIGN promise 8), or none when the
     * backup is explicitly unencrypted. Checked before anything is written, so a backup that readers would refuse
     * is never made.
     */
    private static Authenticator signer(List<Transform> chain) {
        for (Transform t : chain) {
            java.util.Optional<Authenticator> a = t.authenticator();
            if (a.isPresent()) {
                if (!a.get().canSign()) {
                    a.get().sign(new byte[0]); // throws the ConfigurationException that says what to set
                }
                return a.get();
            }
        }
        return null;
    }

    /**
     * Runs one backup and returns its manifest once committed.
     *
     * @throws BackupException naming the failing step; nothing is committed then
     */
    public BackupManifest run() {
        Instant started = clock.instant();
        String id = naming.id(source, started);
        if (id == null || id.isEmpty() || id.contains("/")) {
            throw new ConfigurationException(
                    "The backup naming gave the id '" + id + "'; an id must be a non-empty file name without '/'.");
        }
        List<Transform> chain = chain();
        Authenticator signer = signer(chain);
        StringBuilder suffixes = new StringBuilder(source.suffix());
        for (Transform t : chain) {
            suffixes.append(t.suffix());
        }
        String objectKey = StoreLayout.dataKey(source.kind(), id, suffixes.toString());
        ProgressTicker ticker = new ProgressTicker();
        Support.notify(listener, l -> l.started(Operation.BACKUP, objectKey));
        log.info("backup of {} to {} as {} started", source.describe(), sink.location(), objectKey);
        long[] counts = new long[2];
        try {
            LocalPaths.refuseOverlap(
                    sink,
                    source.localPath(),
                    "back up",
                    "the backup would read the store's own" + " output and earlier backups",
                    "Back up a directory outside the store, or move the store" + " (BACKUP_DIR) out of it.");
            BackupManifest m = write(objectKey, id, started, chain, signer, ticker, counts);
            Progress done = Support.progress(objectKey, m.plaintextSize(), m.objectSize(), m.objectSize(), ticker);
            Support.notify(listener, l -> l.finished(Operation.BACKUP, done));
            log.info(
                    "backup {} committed: {} bytes stored ({} plaintext) in {} ms",
                    objectKey,
                    m.objectSize(),
                    m.plaintextSize(),
                    Duration.ofNanos(ticker.elapsedNanos()).toMillis());
            return m;
        } catch (BackupException e) {
            Progress at = Support.progress(objectKey, counts[0], counts[1], -1, ticker);
            Support.notify(listener, l -> l.failed(Operation.BACKUP, at, e));
            // info, not warn: the caller gets the exception and reports it (a launcher prints it once)
            log.info("backup {} failed: {}", objectKey, e.getMessage());
            throw e;
        }
    }

    private BackupManifest write(
            String objectKey,
            String id,
            Instant started,
            List<Transform> chain,
            Authenticator signer,
            ProgressTicker ticker,
            long[] counts) {
        String where = " (backup of " + source.describe() + " to " + sink.location() + " as " + objectKey + ")";
        try {
            if (!sink.list(objectKey).isEmpty()) {
                throw sameName(objectKey, null);
            }
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list " + sink.location() + ": " + e.getMessage() + where
                            + ". Check that the store is reachable and writable.",
                    objectKey,
                    sink.location(),
                    e);
        }

        SinkOutput data;
        try {
            data = sink.create(objectKey, Map.of(META_BACKUP_ID, id, META_KIND, source.kind()));
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot create " + objectKey + " in " + sink.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable, writable and has space.",
                    objectKey,
                    sink.location(),
                    e);
        }
        boolean dataCommitted = false;
        List<String> attempted = new ArrayList<>(); // the sidecar and manifest keys this run tried to write
        Pipe pipe = new Pipe(chunkSize, chunks);
        SourceRun sourceRun = new SourceRun(pipe);
        Thread sourceThread = null;
        boolean streaming = false;
        try {
            // The source starts first: pg_dump connects and reads its catalogs while the transforms set up (the
            // OpenPGP key derivation hashes 64 MiB), filling the bounded pipe until the loop below reads it.
            sourceThread = new Thread(sourceRun, "jiffoo-backup-source-" + id);
            sourceThread.setDaemon(true);
            sourceThread.start();
            if (signer != null) {
                signer.prepare(); // the manifest's HMAC key derives on another core while the data streams
            }
            UploadCheck.Recorder sent = new UploadCheck.Recorder(StageStreams.output(
                    StageStreams.closeShield(data), "store (" + sink.location() + ")", ErrorCode.STORAGE));
            CountingDigestOutputStream stored = new CountingDigestOutputStream(sent);
            OutputStream out = stored;
            for (int i = chain.size() - 1; i >= 0; i--) {
                Transform t = chain.get(i);
                String stage = "encode (" + t.describe().getOrDefault("type", t.suffix()) + ")";
                out = StageStreams.output(encode(t, out, stage), stage, ErrorCode.INTERNAL);
            }
            CountingDigestOutputStream plain = new CountingDigestOutputStream(out);
            streaming = true;

            byte[] buf = new byte[chunkSize];
            InputStream in = pipe.inputStream();
            int n;
            while ((n = readSource(in, buf)) > 0) {
                plain.write(buf, 0, n);
                counts[0] = plain.count();
                counts[1] = stored.count();
                if (ticker.due()) {
                    Progress p = Support.progress(objectKey, counts[0], counts[1], -1, ticker);
                    Support.notify(listener, l -> l.progress(Operation.BACKUP, p));
                }
            }
            join(sourceThread);
            if (sourceRun.failure != null) {
                throw sourceFailure(sourceRun.failure, objectKey, where);
            }
            plain.close(); // finishes every transform; the shield keeps the sink output open
            counts[1] = stored.count();
            try {
                data.commit();
            } catch (ObjectExistsException e) {
                throw sameName(objectKey, e);
            }
            dataCommitted = true;
            UploadCheck.confirm(sink, objectKey, sent); // before anything refers to the object

            BackupManifest manifest = BackupManifest.builder()
                    .id(id)
                    .kind(source.kind())
                    .startedAt(started)
                    .completedAt(clock.instant())
                    .source(source.describe())
                    .sourceFacts(sourceRun.facts == null ? Map.of() : sourceRun.facts)
                    .transforms(chain.stream().map(Transform::describe).toList())
                    .object(objectKey, stored.count(), stored.sha256())
                    .plaintext(plain.count(), plain.sha256())
                    .libraryVersion(Support.libraryVersion())
                    .host(Support.hostName())
                    .build();
            Map<String, String> meta =
                    Map.of(META_BACKUP_ID, id, META_KIND, source.kind(), META_OBJECT_SHA256, manifest.objectSha256());
            attempted.add(manifest.sha256Key());
            writeSmall(
                    manifest.sha256Key(),
                    Sha256.sidecarLine(manifest.objectSha256(), objectKey).getBytes(StandardCharsets.UTF_8),
                    meta);
            byte[] json = manifest.toJson();
            if (signer != null) {
                attempted.add(manifest.signatureKey());
                writeSmall(manifest.signatureKey(), signer.sign(json), meta);
            }
            attempted.add(0, manifest.manifestKey()); // deleted first on failure
            writeSmall(manifest.manifestKey(), json, meta);
            return manifest;
        } catch (BackupException e) {
            cleanUp(data, dataCommitted, attempted, objectKey, pipe, sourceThread, e);
            throw e;
        } catch (IOException | RuntimeException e) {
            BackupException be;
            if (sourceRun.failure != null && streaming) { // a transform that cannot even start is the cause
                be = sourceFailure(sourceRun.failure, objectKey, where);
            } else if (e instanceof StageFailure sf) {
                be = BackupException.of(
                        sf.code(),
                        "Backup failed at step '" + sf.stage() + "': "
                                + sf.getCause().getMessage() + where + ". Nothing was committed. "
                                + advice(sf.code()),
                        objectKey,
                        sink.location(),
                        sf.getCause());
            } else {
                be = new BackupException(
                        ErrorCode.INTERNAL,
                        "Backup failed: " + e + where + ". Nothing was committed.",
                        objectKey,
                        sink.location(),
                        e);
            }
            cleanUp(data, dataCommitted, attempted, objectKey, pipe, sourceThread, be);
            throw be;
        }
    }

    private ConfigurationException sameName(String objectKey, Throwable cause) {
        return new ConfigurationException(
                "A backup named " + objectKey + " already exists in " + sink.location()
                        + "; backups started in the same second get the same name (is another backup of this kind running?)."
                        + " Nothing was overwritten. Run one backup of a kind at a time (cron/Kubernetes: forbid concurrent"
                        + " runs), or configure a BackupNaming with finer ids.",
                objectKey,
                sink.location(),
                cause);
    }

    private static int readSource(InputStream in, byte[] buf) throws IOException {
        int n = in.read(buf, 0, buf.length);
        return n < 0 ? 0 : n;
    }

    private static OutputStream encode(Transform t, OutputStream out, String stage) throws IOException {
        try {
            return t.encode(out);
        } catch (IOException e) {
            throw new IOException(stage + " could not start: " + e.getMessage(), e);
        }
    }

    private BackupException sourceFailure(Throwable t, String objectKey, String where) {
        if (t instanceof BackupException be) {
            // a source does not know the backup's key or store: add them
            return be.key().isPresent()
                    ? be
                    : BackupException.of(
                            be.code(),
                            be.getMessage() + " [backup " + objectKey + " to " + sink.location() + "]",
                            objectKey,
                            be.location().orElse(source.describe()),
                            be);
        }
        return new SourceException(
                "Reading the source failed: " + t.getMessage() + where
                        + ". Nothing was committed. Check that the source is readable and run the backup again.",
                objectKey,
                source.describe(),
                t);
    }

    private static String advice(ErrorCode code) {
        return switch (code) {
            case STORAGE -> "Check that the store is reachable, writable and has space, then run the backup again.";
            case SOURCE -> "Check the source and run the backup again.";
            default -> "Run the backup again; if it keeps failing, report it with this message.";
        };
    }

    private void writeSmall(String key, byte[] bytes, Map<String, String> metadata) {
        try (SinkOutput out = sink.create(key, metadata)) {
            out.write(bytes);
            out.commit();
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot write " + key + " to " + sink.location() + ": " + e.getMessage()
                            + ". The backup was not committed; check the store and run the backup again.",
                    key,
                    sink.location(),
                    e);
        }
        UploadCheck.confirm(sink, key, UploadCheck.Recorder.of(bytes));
    }

    private void cleanUp(
            SinkOutput data,
            boolean dataCommitted,
            List<String> attempted,
            String objectKey,
            Pipe pipe,
            Thread sourceThread,
            BackupException primary) {
        pipe.closeReader();
        if (sourceThread != null) {
            if (sourceThread.isAlive()) {
                try {
                    source.cancel();
                } catch (RuntimeException e) {
                    log.debug("cancelling the source {} failed: {}", source.describe(), e.toString());
                }
            }
            sourceThread.interrupt();
            // an interrupted run (the launcher stopped by SIGTERM) still waits for its source to stop
            boolean interrupted = Thread.interrupted();
            try {
                sourceThread.join(Duration.ofSeconds(30).toMillis());
            } catch (InterruptedException ie) {
                interrupted = true;
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (sourceThread.isAlive()) {
                log.warn(
                        "the source {} did not stop within 30 s after the failure of {}; leaving its thread",
                        source.describe(),
                        objectKey);
            }
        }
        try {
            data.close();
        } catch (IOException | RuntimeException e) {
            Support.addSuppressed(primary, e);
        }
        if (dataCommitted) {
            // The manifest may be stored although its write failed (a lost answer), so it goes first, then the
            // sidecar, then the data — only keys this run tried to write; if a delete fails, stop: never leave a
            // manifest pointing at deleted data. What stays is an orphan, removed by retention after its grace.
            List<String> keys = new ArrayList<>(attempted);
            keys.add(objectKey);
            for (String k : keys) {
                try {
                    sink.delete(k);
                } catch (IOException | RuntimeException e) {
                    log.warn(
                            "could not delete {} after the failed backup {}; leaving it (and the objects after it)"
                                    + " for retention's orphan clean-up: {}",
                            k,
                            objectKey,
                            e.toString());
                    break;
                }
            }
        }
    }

    private static void join(Thread t) throws IOException {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for the source");
        }
    }

    /** Runs the source on its own thread, writing into the pipe. */
    private final class SourceRun implements Runnable {
        private final Pipe pipe;
        volatile Map<String, Object> facts;
        volatile Throwable failure;

        SourceRun(Pipe pipe) {
            this.pipe = pipe;
        }

        @Override
        public void run() {
            OutputStream out = pipe.outputStream();
            try {
                Map<String, Object> f = source.writeTo(out);
                facts = f == null ? Map.of() : f;
                out.close();
            } catch (Throwable t) {
                if (!Pipe.isReaderClosed(t)) {
                    failure = t;
                }
                pipe.fail(t);
            }
        }
    }

    /** Builds a {@link BackupPipeline}. Not thread-safe. */
    public static final class Builder {
        private Source source;
        private Sink sink;
        private final List<Transform> transforms = new ArrayList<>();
        private Transform encryption;
        private boolean unencrypted;
        private Clock clock = Clock.systemUTC();
        private BackupListener listener = BackupListener.NONE;
        private BackupNaming naming = BackupNaming.DEFAULT;
        private int chunkSize = 256 * 1024;
        private int chunks = 8;

        private Builder() {}

        /** Where the data comes from. Required. */
        public Builder source(Source source) {
            this.source = Objects.requireNonNull(source, "source");
            return this;
        }

        /** Where the backup goes. Required. The pipeline does not close it. */
        public Builder sink(Sink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /** Adds a non-encrypting transform (applied in the order added, before encryption). */
        public Builder transform(Transform transform) {
            Objects.requireNonNull(transform, "transform");
            if (transform.encrypts()) {
                throw new IllegalArgumentException("use encryption(...) for an encrypting transform");
            }
            transforms.add(transform);
            return this;
        }

        /** The encrypting transform, applied last. Required unless {@link #unencrypted()} is called. */
        public Builder encryption(Transform encryption) {
            Objects.requireNonNull(encryption, "encryption");
            if (!encryption.encrypts()) {
                throw new IllegalArgumentException(
                        encryption.describe().get("type") + " does not encrypt; use transform(...) for it");
            }
            this.encryption = encryption;
            this.unencrypted = false;
            return this;
        }

        /** Explicitly stores backups without encryption. Anyone who can read the store can then read the data. */
        public Builder unencrypted() {
            this.encryption = null;
            this.unencrypted = true;
            return this;
        }

        /** The clock for start and completion times; {@link Clock#systemUTC()} by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Progress and outcome callbacks; {@link BackupListener#NONE} by default. */
        public Builder listener(BackupListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** How backups are named; {@link BackupNaming#DEFAULT} by default. */
        public Builder naming(BackupNaming naming) {
            this.naming = Objects.requireNonNull(naming, "naming");
            return this;
        }

        /** Size of the chunks handed from the source thread to the encoding thread; 256 KiB by default. */
        public Builder bufferChunkSize(int bytes) {
            this.chunkSize = Pipe.checkChunkSize(bytes);
            return this;
        }

        /** How many chunks may wait between the source thread and the encoding thread; 8 by default. */
        public Builder bufferChunks(int count) {
            this.chunks = Pipe.checkChunks(count);
            return this;
        }

        /**
         * Builds the pipeline.
         *
         * @throws ConfigurationException when the source or sink is missing, or neither encryption nor
         *                                {@link #unencrypted()} was chosen
         */
        public BackupPipeline build() {
            if (source == null) {
                throw new ConfigurationException("A backup pipeline needs a source: call source(...).");
            }
            if (sink == null) {
                throw new ConfigurationException("A backup pipeline needs a sink: call sink(...).");
            }
            if (encryption == null && !unencrypted) {
                throw new ConfigurationException("A backup pipeline needs encryption: call encryption(...) with an"
                        + " OpenPgpTransform, or unencrypted() to store plaintext on purpose.");
            }
            return new BackupPipeline(this);
        }
    }
}
