package com.jiffoo.backup;

import com.jiffoo.backup.BackupListener.Operation;
import com.jiffoo.backup.internal.CountingDigestOutputStream;
import com.jiffoo.backup.internal.Pipe;
import com.jiffoo.backup.internal.Sha256;
import com.jiffoo.backup.internal.StageFailure;
import com.jiffoo.backup.internal.StageStreams;
import com.jiffoo.backup.internal.StoreOverlap;
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
 * <p>Copies ({@link Builder#copy(Sink)}): the same stored bytes go to the primary sink and to every copy in one pass,
 * and each store is committed and confirmed on its own. A store that fails is cleaned up and left out while the
 * others commit; the run then throws a {@link PartialBackupException} (exit 11) naming it. Only a source or
 * transform failure, or every store failing, fails the whole run.
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
    private final List<Sink> copies;
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
        this.copies = List.copyOf(b.copies);
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
        b.copies.addAll(copies);
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

    /** The primary store, then the copies. */
    private List<Sink> stores() {
        List<Sink> all = new ArrayList<>();
        all.add(sink);
        all.addAll(copies);
        return all;
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
     * Runs one backup and returns its manifest once committed (in every store, with copies).
     *
     * @throws PartialBackupException with copies, when some stores committed the backup and others failed: it holds
     *                                the manifest and names each failed store (the listener hears {@code failed})
     * @throws BackupException        naming the failing step; nothing is committed then
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
        log.info("backup of {} to {} as {} started", source.describe(), locations(), objectKey);
        long[] counts = new long[2];
        try {
            StoreOverlap.refuse(StoreOverlap.Use.BACKUP, stores(), source.localPath(), source.bucketLocation(), null);
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

    /** One store a run writes to: its data output and what this run wrote there. */
    private static final class Target {
        final Sink sink;
        SinkOutput data;
        UploadCheck.Recorder sent;
        boolean dataCommitted;
        final List<String> attempted = new ArrayList<>(); // the sidecar and manifest keys this run tried to write
        BackupException failure;

        Target(Sink sink) {
            this.sink = sink;
        }

        boolean live() {
            return failure == null;
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
        List<Target> targets = new ArrayList<>();
        targets.add(new Target(sink));
        copies.forEach(c -> targets.add(new Target(c)));
        boolean isolate = targets.size() > 1; // with copies, a store's failure is its own; else it ends the run
        String where = " (backup of " + source.describe() + " to " + locations() + " as " + objectKey + ")";
        for (Target t : targets) {
            try {
                open(t, objectKey, id, where);
            } catch (BackupException e) {
                if (!isolate) {
                    throw e;
                }
                storeFailed(t, e, objectKey);
            }
        }
        if (targets.stream().noneMatch(Target::live)) {
            throw everyStoreFailed(targets, objectKey);
        }
        Pipe pipe = new Pipe(chunkSize, chunks);
        SourceRun sourceRun = new SourceRun(pipe);
        if (Thread.currentThread().isInterrupted()) { // asked to stop already: start no source, derive no key
            BackupException be = interrupted(null, objectKey, where);
            cleanUp(targets, objectKey, pipe, null, be);
            throw be;
        }
        Thread sourceThread = null;
        boolean streaming = false;
        PartialBackupException partial;
        try {
            // The source starts first: pg_dump connects and reads its catalogs while the transforms set up (the
            // OpenPGP key derivation hashes 64 MiB), filling the bounded pipe until the loop below reads it.
            sourceThread = new Thread(sourceRun, "jiffoo-backup-source-" + id);
            sourceThread.setDaemon(true);
            sourceThread.start();
            if (signer != null) {
                signer.prepare(); // the manifest's HMAC key derives on another core while the data streams
            }
            for (Target t : targets) {
                if (t.live()) {
                    t.sent = new UploadCheck.Recorder(StageStreams.output(
                            StageStreams.closeShield(t.data), "store (" + t.sink.location() + ")", ErrorCode.STORAGE));
                }
            }
            CountingDigestOutputStream stored =
                    new CountingDigestOutputStream(isolate ? new Tee(targets, objectKey, where) : targets.get(0).sent);
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
            plain.close(); // finishes every transform; the shield keeps the sink outputs open
            counts[1] = stored.count();
            // Commit last, per store: each data object is committed and confirmed, then each store gets the sidecar
            // (and signature) and, last, the manifest. With copies, a store that fails here is cleaned up alone.
            for (Target t : targets) {
                if (t.live()) {
                    perStore(t, isolate, objectKey, where, () -> {
                        try {
                            t.data.commit();
                        } catch (ObjectExistsException e) {
                            throw sameName(t.sink, objectKey, e);
                        }
                        t.dataCommitted = true;
                        UploadCheck.confirm(t.sink, objectKey, t.sent); // before anything refers to the object
                    });
                }
            }
            if (targets.stream().noneMatch(Target::live)) {
                throw everyStoreFailed(targets, objectKey);
            }

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
            byte[] sidecar =
                    Sha256.sidecarLine(manifest.objectSha256(), objectKey).getBytes(StandardCharsets.UTF_8);
            byte[] json = manifest.toJson();
            byte[] signature = signer == null ? null : signer.sign(json);
            for (Target t : targets) {
                if (t.live()) {
                    perStore(t, isolate, objectKey, where, () -> {
                        t.attempted.add(manifest.sha256Key());
                        writeSmall(t.sink, manifest.sha256Key(), sidecar, meta);
                        if (signature != null) {
                            t.attempted.add(manifest.signatureKey());
                            writeSmall(t.sink, manifest.signatureKey(), signature, meta);
                        }
                        t.attempted.add(0, manifest.manifestKey()); // deleted first on failure
                        writeSmall(t.sink, manifest.manifestKey(), json, meta);
                    });
                }
            }
            if (targets.stream().noneMatch(Target::live)) {
                throw everyStoreFailed(targets, objectKey);
            }
            if (targets.stream().allMatch(Target::live)) {
                return manifest;
            }
            Map<String, BackupException> failures = new java.util.LinkedHashMap<>();
            List<String> committed = new ArrayList<>();
            for (Target t : targets) {
                if (t.live()) {
                    committed.add(t.sink.location());
                } else {
                    failures.put(t.sink.location(), t.failure);
                }
            }
            // thrown below, past the clean-up: every store is settled, committed or cleaned up
            partial = new PartialBackupException(manifest, committed, failures);
        } catch (BackupException e) {
            BackupException be = interruptedRun(e) ? interrupted(e, objectKey, where) : e;
            cleanUp(targets, objectKey, pipe, sourceThread, be);
            throw be;
        } catch (IOException | RuntimeException e) {
            BackupException be;
            if (interruptedRun(e)) { // a scheduler shutting down: say so, not what the interrupt broke on its way
                be = interrupted(e, objectKey, where);
            } else if (sourceRun.failure != null && streaming) { // a transform that cannot even start is the cause
                be = sourceFailure(sourceRun.failure, objectKey, where);
            } else {
                be = failure(e, objectKey, where, sink, false);
            }
            cleanUp(targets, objectKey, pipe, sourceThread, be);
            throw be;
        }
        throw partial;
    }

    /** The failure {@code e} of a step as the pipeline reports it; {@code store} is the one it happened in, if known. */
    private BackupException failure(Exception e, String objectKey, String where, Sink store, boolean inStore) {
        if (e instanceof BackupException be) {
            return be;
        }
        String location = store.location();
        if (e instanceof StageFailure sf) {
            return BackupException.of(
                    sf.code(),
                    "Backup failed at step '" + sf.stage() + "': "
                            + Support.message(sf.getCause()) + where + ". Nothing was committed. "
                            + advice(sf.code()),
                    objectKey,
                    location,
                    sf.getCause());
        }
        if (e instanceof IOException && inStore) {
            return new StorageException(
                    "Backup failed in " + location + ": " + e.getMessage() + where + ". Nothing was committed there. "
                            + advice(ErrorCode.STORAGE),
                    objectKey,
                    location,
                    e);
        }
        return new BackupException(
                ErrorCode.INTERNAL, "Backup failed: " + e + where + ". Nothing was committed.", objectKey, location, e);
    }

    /**
     * True when the run failed because its thread was interrupted: the interrupt status is set, or the failure comes
     * from an interrupt (a file channel closed by it, an interrupted wait).
     */
    private static boolean interruptedRun(Throwable e) {
        if (Thread.currentThread().isInterrupted()) {
            return true;
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof java.nio.channels.ClosedByInterruptException
                    || c instanceof java.io.InterruptedIOException && !(c instanceof java.net.SocketTimeoutException)
                    || c instanceof InterruptedException) {
                return true;
            }
        }
        return false;
    }

    /** The failure of a run whose thread was interrupted; the interrupt status stays set for the caller. */
    private BackupException interrupted(Throwable e, String objectKey, String where) {
        Thread.currentThread().interrupt();
        return new BackupException(
                ErrorCode.INTERNAL,
                "Backup interrupted" + where + ": its thread was interrupted (the application or scheduler is"
                        + " stopping?). Nothing was committed; what this run wrote was removed. Run the backup again.",
                objectKey,
                locations(),
                e);
    }

    /** The existence check and the data object's creation in one store. */
    private void open(Target t, String objectKey, String id, String where) {
        Sink store = t.sink;
        try {
            if (!store.list(objectKey).isEmpty()) {
                throw sameName(store, objectKey, null);
            }
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list " + store.location() + ": " + e.getMessage() + where
                            + ". Check that the store is reachable and writable.",
                    objectKey,
                    store.location(),
                    e);
        }
        try {
            t.data = store.create(objectKey, Map.of(META_BACKUP_ID, id, META_KIND, source.kind()));
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot create " + objectKey + " in " + store.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable, writable and has space.",
                    objectKey,
                    store.location(),
                    e);
        }
    }

    /** A step in one store; with copies ({@code isolate}), its failure fails that store alone. */
    private void perStore(Target t, boolean isolate, String objectKey, String where, StoreStep step)
            throws IOException {
        if (!isolate) {
            step.run();
            return;
        }
        try {
            step.run();
        } catch (IOException | RuntimeException e) {
            storeFailed(t, failure(e, objectKey, where, t.sink, true), objectKey);
        }
    }

    /** One step of {@link #perStore}. */
    @FunctionalInterface
    private interface StoreStep {
        void run() throws IOException;
    }

    /** Marks a store failed and removes what this run wrote there; the other stores go on. */
    private void storeFailed(Target t, BackupException e, String objectKey) {
        t.failure = e;
        log.warn(
                "backup {}: the store {} failed, the other stores go on: {}",
                objectKey,
                t.sink.location(),
                e.getMessage());
        cleanUpStore(t, objectKey, e);
    }

    /** The failure of a run in which no store is left: the primary's, naming every store's. */
    private BackupException everyStoreFailed(List<Target> targets, String objectKey) {
        BackupException first = targets.get(0).failure;
        if (targets.size() == 1) {
            return first;
        }
        StringBuilder b = new StringBuilder("The backup " + objectKey + " failed in every store:");
        for (Target t : targets) {
            b.append(" ").append(t.sink.location()).append(": ").append(t.failure.getMessage());
        }
        BackupException all = BackupException.of(first.code(), b.toString(), objectKey, locations(), first);
        targets.stream().skip(1).forEach(t -> all.addSuppressed(t.failure));
        return all;
    }

    /** The primary's location, and the copies' after it. */
    private String locations() {
        if (copies.isEmpty()) {
            return sink.location();
        }
        StringBuilder b = new StringBuilder(sink.location());
        copies.forEach(c -> b.append(" + ").append(c.location()));
        return b.toString();
    }

    /**
     * The stream of stored bytes to every store still live. A store whose write fails is marked failed (its output
     * discarded) and left out from then on; the others keep receiving. When none is left, the last failure is
     * thrown. Memory: nothing is held here; each store's output buffers what it buffers for one store.
     */
    private final class Tee extends OutputStream {
        private final List<Target> targets;
        private final String objectKey;
        private final String where;

        Tee(List<Target> targets, String objectKey, String where) {
            this.targets = targets;
            this.objectKey = objectKey;
            this.where = where;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            each(out -> out.write(b, off, len));
        }

        @Override
        public void flush() throws IOException {
            each(OutputStream::flush);
        }

        @Override
        public void close() throws IOException {
            each(OutputStream::close);
        }

        private void each(StreamStep step) throws IOException {
            Exception last = null;
            for (Target t : targets) {
                if (!t.live()) {
                    continue;
                }
                try {
                    step.run(t.sent);
                } catch (IOException | RuntimeException e) { // stores throw StorageException too
                    last = e;
                    storeFailed(t, failure(e, objectKey, where, t.sink, true), objectKey);
                }
            }
            if (last != null && targets.stream().noneMatch(Target::live)) {
                throw everyStoreFailed(targets, objectKey);
            }
        }
    }

    /** One call on a store's stream in {@link Tee}. */
    @FunctionalInterface
    private interface StreamStep {
        void run(OutputStream out) throws IOException;
    }

    private static ConfigurationException sameName(Sink sink, String objectKey, Throwable cause) {
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
            throw new IOException(stage + " could not start: " + Support.message(e), e);
        }
    }

    private BackupException sourceFailure(Throwable t, String objectKey, String where) {
        if (t instanceof BackupException be) {
            // a source does not know the backup's key or store: add them
            return be.key().isPresent()
                    ? be
                    : BackupException.of(
                            be.code(),
                            be.getMessage() + " [backup " + objectKey + " to " + locations() + "]",
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

    private static void writeSmall(Sink sink, String key, byte[] bytes, Map<String, String> metadata) {
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
            List<Target> targets, String objectKey, Pipe pipe, Thread sourceThread, BackupException primary) {
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
        for (Target t : targets) {
            if (t.live()) { // a failed store was cleaned up when it failed
                cleanUpStore(t, objectKey, primary);
            }
        }
    }

    /** Discards, or deletes, what this run wrote to one store. */
    private static void cleanUpStore(Target t, String objectKey, BackupException primary) {
        Sink sink = t.sink;
        if (t.data != null) {
            try {
                t.data.close();
            } catch (IOException | RuntimeException e) {
                Support.addSuppressed(primary, e);
            }
        }
        if (t.dataCommitted) {
            // The manifest may be stored although its write failed (a lost answer), so it goes first, then the
            // sidecar, then the data — only keys this run tried to write; if a delete fails, stop: never leave a
            // manifest pointing at deleted data. What stays is an orphan, removed by retention after its grace.
            List<String> keys = new ArrayList<>(t.attempted);
            keys.add(objectKey);
            for (String k : keys) {
                try {
                    sink.delete(k);
                } catch (IOException | RuntimeException e) {
                    log.warn(
                            "could not delete {} from {} after the failed backup {}; leaving it (and the objects after"
                                    + " it) for retention's orphan clean-up: {}",
                            k,
                            sink.location(),
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
        private final List<Sink> copies = new ArrayList<>();
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

        /**
         * Adds a store that gets a copy of every backup (repeatable; none by default). The stored bytes stream once,
         * through the transforms, and are written to the primary {@link #sink} and to each copy as they come: no
         * temporary copy on disk, memory bounded by each store's own buffers (an S3 store's parts in flight). Each
         * store is committed on its own (data, sidecar, manifest, in that order), and each is confirmed against the
         * same size, edge bytes and SHA-256. A store that fails (unreachable, refusing, full) is cleaned up (its
         * partial upload aborted, anything committed deleted) while the others go on; {@link BackupPipeline#run()}
         * then throws a {@link PartialBackupException} naming it, after the others committed. The pipeline does not
         * close the copies.
         */
        public Builder copy(Sink copy) {
            Objects.requireNonNull(copy, "copy");
            copies.add(copy);
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
