package com.jiffoo.backup.wal;

import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import com.jiffoo.backup.Authenticator;
import com.jiffoo.backup.BackupCopier;
import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.ForeignSignatureException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.Transform;
import com.jiffoo.backup.internal.CountingDigestInputStream;
import com.jiffoo.backup.internal.CountingDigestOutputStream;
import com.jiffoo.backup.internal.StageFailure;
import com.jiffoo.backup.internal.StageStreams;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.internal.UploadCheck;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WAL archive of one cluster in a store: {@link #push} is PostgreSQL's {@code archive_command}, {@link #fetch}
 * its {@code restore_command}.
 *
 * <p>What lands in the store for one file (keys from {@link StoreLayout#walFileKey}), in this order:
 *
 * <pre>
 * wal/0000000100000000/000000010000000000000003.zst.gpg                      the file: zstd, then OpenPGP
 * wal/0000000100000000/000000010000000000000003.zst.gpg.manifest.json.sig    the manifest's signature
 * wal/0000000100000000/000000010000000000000003.zst.gpg.manifest.json        the manifest: the commit marker
 * </pre>
 *
 * The manifest is a {@link BackupManifest} of kind {@value #KIND} whose id is the file's name; its source facts hold
 * the name, type, timeline and, for a segment, its size, start LSN and {@value WalHead#KEPT} (true: this archive
 * keeps a signed head); it records the plaintext's and the stored
 * object's size and SHA-256. There is no {@code .sha256} sidecar: one object fewer per segment, and the manifest
 * holds the same digest. A file is archived only once its manifest is: a data object without one (a push killed
 * mid-way) is invisible and the next push of that name replaces it.
 *
 * <p>After a whole segment is committed (or found archived already), the push advances the archive's signed head,
 * {@value WalHead#KEY}, when the segment is newer than the head stored ({@link WalHead}; with copies, in each store
 * that holds the segment): what lets {@link WalContinuity} find a deleted tail. Failing to write it is logged, not
 * a failed push.
 *
 * <p>PostgreSQL's rules for {@code archive_command} are kept: {@link #push} returns only once the object, its
 * signature and its manifest are committed (durable: a local store fsyncs, S3 has completed the upload); a name
 * already archived with the same content is {@link Pushed#ALREADY_ARCHIVED} and nothing is written; with other
 * content it is refused and the stored file is left as it is.
 *
 * <p>{@link #fetch} gives {@link Fetched#FOUND} or {@link Fetched#NOT_FOUND} (no manifest under that name: recovery
 * asks for files that do not exist, e.g. the next timeline's history file; on a local store only when its
 * {@code wal/} directory exists — a missing one is an unmounted volume, a {@link StorageException}); every other
 * outcome is a
 * {@link BackupException}: the store failed after {@linkplain Builder#fetchAttempts retries}, the object is damaged
 * or does not match its authenticated manifest, the key does not decrypt it. A store failure is never reported as
 * not found.
 *
 * <p>Memory is bounded by the buffers (a few of {@link #BUFFER} bytes, plus zstd's window), never by the file's
 * size. Immutable and thread-safe; it does not own the sink (the caller closes it).
 *
 * <pre>{@code
 * OpenPgpTransform pgp = OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(keyFile)).build();
 * WalArchive wal = WalArchive.builder().sink(LocalDirectorySink.create(store)).encryption(pgp).build();
 * wal.push(Path.of("pg_wal/000000010000000000000003"));                      // archive_command
 * wal.fetch("000000010000000000000003", Path.of("pg_wal/RECOVERYXLOG"));       // restore_command
 * }</pre>
 */
public final class WalArchive {
    private static final Logger log = LoggerFactory.getLogger(WalArchive.class);

    /** The manifest kind of archived WAL. */
    public static final String KIND = "wal";
    /** The size of the buffers a push or fetch streams through. */
    public static final int BUFFER = 64 * 1024;
    /**
     * How old a data object or signature without a manifest must be before a push replaces it as a killed push's
     * leftover: younger, it may belong to a push still running (between its data and its manifest).
     */
    public static final Duration LEFTOVER_GRACE = Duration.ofSeconds(60);
    /** The manifest fact naming the cluster a WAL file belongs to (as {@code pg_control_system()} prints it). */
    public static final String SYSTEM_IDENTIFIER = "systemIdentifier";
    /** The largest manifest or signature read from the store. */
    private static final int SMALL_OBJECT_LIMIT = 1 << 20;

    /** How a push ended. */
    public enum Pushed {
        /** The file was written and committed. */
        STORED,
        /** The same content was archived under that name before; nothing was written. */
        ALREADY_ARCHIVED
    }

    /** How a fetch ended when nothing failed. */
    public enum Fetched {
        /** The file was written to the destination, checked against its authenticated manifest. */
        FOUND,
        /** The archive has no committed file of that name; the destination was not touched. */
        NOT_FOUND
    }

    private final Sink sink;
    private final Transform encryption;
    private final BackupTrust trust;
    private final int level;
    private final int attempts;
    private final Duration retryDelay;
    private final Clock clock;
    private final String systemIdentifier;
    private final boolean hashPlaintext;
    /** The copy stores, each as an archive of its own (without copies). */
    private final List<WalArchive> copies;

    private final java.util.function.Consumer<String> notice;
    /** Serializes this archive's updates of its store's {@link WalHead}. */
    private final Object headLock = new Object();

    private WalArchive(Builder b) {
        this.sink = b.sink;
        this.encryption = b.encryption;
        this.trust = b.trust != null ? b.trust : BackupTrust.of(List.of(b.encryption));
        this.level = b.level;
        this.attempts = b.attempts;
        this.retryDelay = b.retryDelay;
        this.clock = b.clock;
        this.systemIdentifier = b.systemIdentifier;
        this.hashPlaintext = b.hashPlaintext;
        this.notice = b.notice;
        this.copies = b.copies.stream().map(c -> new WalArchive(this, c)).toList();
    }

    /** The archive {@code base} is, in the store {@code store} alone. */
    private WalArchive(WalArchive base, Sink store) {
        this.sink = store;
        this.encryption = base.encryption;
        this.trust = base.trust;
        this.level = base.level;
        this.attempts = base.attempts;
        this.retryDelay = base.retryDelay;
        this.clock = base.clock;
        this.systemIdentifier = base.systemIdentifier;
        this.hashPlaintext = base.hashPlaintext;
        this.notice = base.notice;
        this.copies = List.of();
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The store. */
    public Sink sink() {
        return sink;
    }

    /** The copy stores ({@link Builder#copy}), in the order of fallback. */
    public List<Sink> copies() {
        return copies.stream().map(WalArchive::sink).toList();
    }

    /**
     * Archives one file PostgreSQL hands to {@code archive_command} ({@code %p}): a WAL segment, a partial segment, a
     * timeline history file or a backup history file, named as PostgreSQL names them.
     *
     * @return {@link Pushed#STORED}, or {@link Pushed#ALREADY_ARCHIVED} when the same content is archived already
     * @throws ConfigurationException when the name is not one PostgreSQL archives, the file cannot be read, or another
     *                                content is archived under that name (the stored one is left untouched)
     * @throws BackupException        when the store fails ({@link ErrorCode#STORAGE}) or a stored manifest of that
     *                                name cannot be trusted; nothing is committed then
     */
    public Pushed push(Path file) {
        Objects.requireNonNull(file, "file");
        Committed here = pushHere(file);
        WalFileName name = WalFileName.parse(String.valueOf(file.getFileName()));
        advanceHead(name, here.manifest());
        if (!copies.isEmpty()) {
            replicate(name, here.manifest());
        }
        return here.pushed();
    }

    /** How {@link #pushHere} ended, with the manifest committed (or found) in the store. */
    private record Committed(Pushed pushed, BackupManifest manifest) {}

    /**
     * Advances the store's signed head ({@link WalHead}) to {@code name} when it is a whole segment, committed here with
     * the manifest {@code m}; a failure is logged, never thrown (the segment is durable).
     */
    private void advanceHead(WalFileName name, BackupManifest m) {
        if (name.type() != WalFileName.Type.SEGMENT) {
            return;
        }
        Object cluster = m.sourceFacts().get(SYSTEM_IDENTIFIER);
        synchronized (headLock) {
            WalHead.advance(
                    sink,
                    trust,
                    signer(),
                    name.name(),
                    cluster == null ? null : String.valueOf(cluster),
                    clock.instant());
        }
    }

    /**
     * Brings each copy store up to the store for one archived file: the store's stored bytes, signature and manifest,
     * checked against the manifest's size and SHA-256 while they stream ({@link BackupCopier#copy(String)}); a copy
     * that holds it already (the same stored or plaintext SHA-256) is left as it is.
     *
     * @throws BackupException naming every copy that does not hold the file now, with the first failure's code
     */
    private void replicate(WalFileName name, BackupManifest m) {
        String dataKey = name.dataKey();
        Map<String, BackupException> failed = new LinkedHashMap<>();
        for (WalArchive copy : copies) {
            try {
                BackupCopier.Item item = BackupCopier.builder()
                        .from(sink)
                        .to(copy.sink)
                        .trust(trust)
                        .build()
                        .copy(dataKey);
                if (item.ok()) {
                    log.info("{} is archived in the copy {} ({})", name.name(), copy.sink.location(), item.status());
                    copy.advanceHead(name, m);
                } else {
                    failed.put(copy.sink.location(), item.error());
                }
            } catch (BackupException e) {
                failed.put(copy.sink.location(), e);
            }
        }
        if (failed.isEmpty()) {
            return;
        }
        StringBuilder b = new StringBuilder("The WAL file " + name.name() + " is archived in " + sink.location());
        for (WalArchive copy : copies) {
            if (!failed.containsKey(copy.sink.location())) {
                b.append(" and ").append(copy.sink.location());
            }
        }
        b.append(" but FAILED in");
        failed.forEach((where, e) -> b.append(" the copy ")
                .append(where)
                .append(" (")
                .append(e.getMessage())
                .append(");"));
        b.append(" it is not archived until every store holds it: PostgreSQL retries the push (the stores that hold it"
                + " answer 'same content'). To let a copy lag instead, see docs/copies.md (WAL_COPIES=later).");
        BackupException first = failed.values().iterator().next();
        BackupException all = BackupException.of(
                first.code(), b.toString(), dataKey, failed.keySet().iterator().next(), first);
        failed.values().stream().skip(1).forEach(all::addSuppressed);
        throw all;
    }

    /** {@link #push} in the store alone. */
    private Committed pushHere(Path file) {
        WalFileName name = WalFileName.parse(String.valueOf(file.getFileName()));
        String dataKey = name.dataKey();
        Authenticator signer = signer();
        signer.prepare();
        Instant started = clock.instant();
        BackupManifest existing = readManifest(name, dataKey);
        if (existing != null) {
            return new Committed(compare(file, name, existing), existing);
        }
        try {
            // a data object or signature without a manifest is what a killed push left: never visible, replaced here;
            // unless it is fresh: then another push of this file may be between its data and its manifest, and
            // deleting its committed data would leave its manifest describing ours (never fetchable)
            for (com.jiffoo.backup.StoredObject o : sink.list(dataKey)) {
                boolean ours = o.key().equals(dataKey) || o.key().equals(StoreLayout.signatureKey(dataKey));
                java.time.Duration age = java.time.Duration.between(o.lastModified(), clock.instant());
                if (ours && age.compareTo(LEFTOVER_GRACE) < 0) {
                    throw new StorageException(
                            "Another push of " + name.name() + " is in progress (" + o.key() + " was written "
                                    + Math.max(0, age.toSeconds()) + " s ago without a manifest yet); retrying later"
                                    + " is safe: a leftover older than " + LEFTOVER_GRACE.toSeconds()
                                    + " s is replaced.",
                            dataKey,
                            sink.location(),
                            null);
                }
            }
            sink.delete(StoreLayout.signatureKey(dataKey));
            sink.delete(dataKey);
        } catch (IOException e) {
            throw storage("clear what an earlier, unfinished push of " + name.name() + " left", dataKey, e);
        }
        BackupManifest m = write(file, name, dataKey, started, signer);
        log.info("archived {} as {}: {} bytes ({} stored)", name.name(), dataKey, m.plaintextSize(), m.objectSize());
        return new Committed(Pushed.STORED, m);
    }

    private Authenticator signer() {
        Authenticator a = encryption
                .authenticator()
                .orElseThrow(() -> new ConfigurationException(
                        "The encryption " + encryption.describe().get("type") + " cannot sign manifests; archive WAL"
                                + " with an OpenPgpTransform (a key file, or a signing key in public-key mode)."));
        if (!a.canSign()) {
            a.sign(new byte[0]); // throws the ConfigurationException that names what to set
        }
        return a;
    }

    /** The file against the manifest already stored under its name. */
    private Pushed compare(Path file, WalFileName name, BackupManifest existing) {
        CountingDigestInputStream in;
        try (InputStream raw = Files.newInputStream(file)) {
            in = new CountingDigestInputStream(raw);
            in.transferTo(OutputStream.nullOutputStream());
        } catch (IOException e) {
            throw unreadable(file, e);
        }
        String sha256 = in.sha256();
        if (sha256.equals(existing.plaintextSha256()) && in.count() == existing.plaintextSize()) {
            log.info("{} is archived already with the same content (SHA-256 {})", name.name(), sha256);
            return Pushed.ALREADY_ARCHIVED;
        }
        throw new ConfigurationException(
                "The WAL file " + name.name() + " is archived already in " + sink.location() + " with other content"
                        + " (stored: " + existing.plaintextSize() + " bytes, SHA-256 " + existing.plaintextSha256()
                        + "; " + file + ": " + in.count() + " bytes, SHA-256 " + sha256 + "). The stored file"
                        + " was left as it is. Is another cluster archiving into this store, or was this cluster"
                        + " restored without a new timeline? Give each cluster its own store (or prefix).",
                existing.objectKey(),
                sink.location(),
                null);
    }

    /**
     * The manifest's facts: the file's ({@link WalFileName#facts}) and the cluster's system identifier, read from
     * {@code global/pg_control} of the data directory holding {@code pg_wal} (where PostgreSQL hands files over), or
     * as configured; without either (a file copied elsewhere), none.
     */
    private Map<String, Object> facts(Path file, WalFileName name, long size) {
        Map<String, Object> f = new LinkedHashMap<>(name.facts(size));
        String id = systemIdentifier;
        if (id == null) {
            Path wal = file.toAbsolutePath().getParent();
            Path pgdata = wal == null ? null : wal.getParent();
            if (pgdata != null && "pg_wal".equals(String.valueOf(wal.getFileName()))) {
                try {
                    id = WalUploader.systemIdentifier(pgdata);
                } catch (IOException | RuntimeException e) {
                    log.debug("no system identifier for {}: {}", file, e.toString());
                }
            }
        }
        if (id != null) {
            f.put(SYSTEM_IDENTIFIER, id);
        }
        if (name.type() == WalFileName.Type.SEGMENT) {
            f.put(WalHead.KEPT, true); // this archive keeps a head: an absent one was deleted
        }
        return f;
    }

    private BackupManifest write(Path file, WalFileName name, String dataKey, Instant started, Authenticator signer) {
        CountingDigestOutputStream plain;
        CountingDigestOutputStream stored;
        UploadCheck.Recorder sent;
        try (InputStream in = openFile(file);
                SinkOutput data = sink.create(dataKey)) {
            sent = new UploadCheck.Recorder(StageStreams.output(
                    StageStreams.closeShield(data), "store (" + sink.location() + ")", ErrorCode.STORAGE));
            stored = new CountingDigestOutputStream(sent);
            ZstdOutputStream zstd = new ZstdOutputStream(encryption.encode(stored), level);
            zstd.setChecksum(true);
            plain = new CountingDigestOutputStream(zstd);
            byte[] buf = new byte[BUFFER];
            int n;
            while ((n = in.read(buf)) > 0) {
                plain.write(buf, 0, n);
            }
            plain.close(); // finishes zstd and OpenPGP; the shield keeps the store's output open
            data.commit();
        } catch (ObjectExistsException e) {
            throw new StorageException(
                    "Another push wrote " + dataKey + " in " + sink.location() + " at the same time; nothing was"
                            + " committed by this one. Run one archiver per cluster; PostgreSQL retries the push.",
                    dataKey,
                    sink.location(),
                    e);
        } catch (StageFailure e) {
            throw BackupException.of(
                    e.code(),
                    "Archiving " + name.name() + " failed at step '" + e.stage() + "': "
                            + e.getCause().getMessage() + ". Nothing was committed; PostgreSQL retries the push.",
                    dataKey,
                    sink.location(),
                    e.getCause());
        } catch (NoSuchFileException e) {
            throw unreadable(file, e);
        } catch (IOException e) {
            throw storage("write " + dataKey, dataKey, e);
        }
        UploadCheck.confirm(sink, dataKey, sent);
        BackupManifest m = BackupManifest.builder()
                .id(name.name())
                .kind(KIND)
                .startedAt(started)
                .completedAt(clock.instant())
                .source("WAL file " + name.name())
                .sourceFacts(facts(file, name, plain.count()))
                .transforms(List.of(zstdDescription(), encryption.describe()))
                .object(dataKey, stored.count(), stored.sha256())
                .plaintext(plain.count(), plain.sha256())
                .libraryVersion(Support.libraryVersion())
                .host(Support.hostName())
                .build();
        byte[] json = m.toJson();
        // the signature before the manifest: the manifest stays the commit marker
        writeSmall(m.signatureKey(), signer.sign(json));
        writeSmall(m.manifestKey(), json);
        return m;
    }

    private Map<String, Object> zstdDescription() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("type", "zstd");
        d.put("level", level);
        return d;
    }

    private static InputStream openFile(Path file) {
        try {
            return Files.newInputStream(file);
        } catch (IOException e) {
            throw unreadable(file, e);
        }
    }

    private static ConfigurationException unreadable(Path file, IOException e) {
        return new ConfigurationException(
                "Cannot read the WAL file " + file.toAbsolutePath() + ": " + e
                        + ". archive_command gets its path as %p, relative to the data directory.",
                null,
                String.valueOf(file),
                e);
    }

    private void writeSmall(String key, byte[] bytes) {
        try (SinkOutput out = sink.create(key)) {
            out.write(bytes);
            out.commit();
        } catch (IOException e) {
            throw storage("write " + key, key, e);
        }
    }

    /**
     * Restores one archived file for {@code restore_command} ({@code %f} and {@code %p}): checks the manifest's
     * signature, streams the object through SHA-256, decryption and decompression into a temporary file next to
     * {@code destination}, checks the stored object's and the plaintext's size and SHA-256 against the manifest (the
     * plaintext's SHA-256 only with {@link Builder#hashPlaintext}; its zstd checksum always), flushes it to disk
     * and renames it into place. A failed fetch leaves {@code destination} untouched and no temporary file.
     *
     * @return {@link Fetched#FOUND}, or {@link Fetched#NOT_FOUND} when no file of that name is committed
     * @throws BackupException when the store fails after the configured attempts ({@link ErrorCode#STORAGE}), the
     *                         object is damaged or does not match its authenticated manifest
     *                         ({@link ErrorCode#INTEGRITY}), it cannot be decrypted ({@link ErrorCode#DECRYPTION}),
     *                         or the name or the keys are wrong ({@link ErrorCode#CONFIGURATION})
     */
    public Fetched fetch(String walFileName, Path destination) {
        if (copies.isEmpty()) {
            try {
                return fetchHere(walFileName, destination);
            } catch (ForeignSignatureException e) {
                throw ForeignSignatureException.ifEveryStore(List.of(e)).orElseThrow(() -> e);
            }
        }
        List<WalArchive> all = new java.util.ArrayList<>();
        all.add(this);
        all.addAll(copies);
        Map<String, BackupException> failed = new LinkedHashMap<>();
        List<String> without = new java.util.ArrayList<>();
        for (WalArchive a : all) {
            try {
                if (a.fetchHere(walFileName, destination) == Fetched.NOT_FOUND) {
                    without.add(a.sink.location());
                    continue;
                }
                if (a != this) {
                    StringBuilder b = new StringBuilder(walFileName + ": served by the copy " + a.sink.location());
                    failed.forEach((where, e) -> b.append("; the store ")
                            .append(where)
                            .append(" failed (")
                            .append(e.code())
                            .append(": ")
                            .append(e.getMessage())
                            .append(")"));
                    without.forEach(where -> b.append("; not in ").append(where));
                    log.warn("{}", b);
                    if (notice != null) {
                        notice.accept(b.toString());
                    }
                }
                return Fetched.FOUND;
            } catch (BackupException e) {
                if (e.code() == ErrorCode.CONFIGURATION) {
                    throw e; // a wrong name or key: every store would answer the same
                }
                log.warn(
                        "fetching {} from {} failed, trying the next store: {}",
                        walFileName,
                        a.sink.location(),
                        e.getMessage());
                failed.put(a.sink.location(), e);
            }
        }
        if (failed.isEmpty()) {
            return Fetched.NOT_FOUND;
        }
        if (without.isEmpty()) {
            // every store holds it signed in the other mode: this host's keys, not the stores
            java.util.Optional<ConfigurationException> everywhere =
                    ForeignSignatureException.ifEveryStore(failed.values());
            if (everywhere.isPresent()) {
                throw everywhere.get();
            }
        }
        // "not found" while a store could not answer would end recovery early: a failure instead
        StringBuilder b = new StringBuilder("No store could serve the WAL file " + walFileName + ":");
        failed.forEach((where, e) -> b.append(" ").append(where).append(": ").append(e.getMessage()));
        without.forEach(where -> b.append(" ").append(where).append(": not archived there."));
        BackupException first = failed.values().iterator().next();
        BackupException e = BackupException.of(
                first.code(),
                b.toString(),
                first.key().orElse(null),
                failed.keySet().iterator().next(),
                first);
        failed.values().stream().skip(1).forEach(e::addSuppressed);
        throw e;
    }

    /** {@link #fetch} from the store alone. */
    private Fetched fetchHere(String walFileName, Path destination) {
        Objects.requireNonNull(destination, "destination");
        WalFileName name = WalFileName.parse(Objects.requireNonNull(walFileName, "walFileName"));
        trust.authenticator().ifPresent(Authenticator::prepare);
        for (int attempt = 1; ; attempt++) {
            try {
                return fetchOnce(name, destination);
            } catch (StorageException e) {
                if (attempt >= attempts) {
                    throw e;
                }
                log.warn(
                        "fetching {} failed (attempt {} of {}), retrying: {}",
                        name.name(),
                        attempt,
                        attempts,
                        e.getMessage());
                sleep(retryDelay.multipliedBy(attempt));
            }
        }
    }

    private Fetched fetchOnce(WalFileName name, Path destination) {
        String dataKey = name.dataKey();
        BackupManifest m = readManifest(name, dataKey);
        if (m == null) {
            checkMounted(dataKey);
            log.info("{} is not in the WAL archive {}", name.name(), sink.location());
            return Fetched.NOT_FOUND;
        }
        Path tmp = destination.resolveSibling(destination.getFileName() + ".jiffoo-fetch.tmp");
        boolean done = false;
        try {
            Files.deleteIfExists(tmp); // what a killed fetch left
            try (InputStream raw = openData(dataKey);
                    FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                CountingDigestInputStream stored = new CountingDigestInputStream(
                        StageStreams.input(raw, "store (" + sink.location() + ")", ErrorCode.STORAGE));
                CountingDigestInputStream plain;
                try {
                    plain = new CountingDigestInputStream(
                            new ZstdInputStream(encryption.decode(stored)), hashPlaintext);
                } catch (IOException e) {
                    throw storeFailureIn(e, m, "its encryption layer cannot be read: ");
                } catch (com.jiffoo.backup.DecryptionException e) {
                    // a damaged header fails as a wrong key does: the manifest's SHA-256 tells which it is
                    throw StoredBackups.decryptionFailure(e, m, stored, sink.location());
                }
                byte[] buf = new byte[BUFFER];
                ByteBuffer bb = ByteBuffer.wrap(buf);
                int n;
                while ((n = readDecoded(plain, buf, m)) >= 0) {
                    bb.clear().limit(n);
                    while (bb.hasRemaining()) {
                        out.write(bb);
                    }
                    if (plain.count() > m.plaintextSize()) {
                        throw damaged(m, "it decodes to more than the " + m.plaintextSize() + " bytes recorded", null);
                    }
                }
                stored.transferTo(OutputStream.nullOutputStream()); // anything after the OpenPGP message counts too
                String storedSha256 = stored.sha256(); // once: it ends the digest
                String plainSha256 = plain.sha256();
                if (stored.count() != m.objectSize() || !storedSha256.equals(m.objectSha256())) {
                    throw damaged(
                            m,
                            "the stored object has " + stored.count() + " bytes with SHA-256 " + storedSha256
                                    + ", its manifest records " + m.objectSize() + " bytes with SHA-256 "
                                    + m.objectSha256(),
                            null);
                }
                if (plain.count() != m.plaintextSize()
                        || (plainSha256 != null && !plainSha256.equals(m.plaintextSha256()))) {
                    throw damaged(
                            m,
                            "it decodes to " + plain.count() + " bytes"
                                    + (plainSha256 == null ? "" : " with SHA-256 " + plainSha256)
                                    + ", its manifest records " + m.plaintextSize() + " bytes with SHA-256 "
                                    + m.plaintextSha256(),
                            null);
                }
                out.force(true);
            }
            move(tmp, destination);
            done = true;
            log.info("fetched {} ({} bytes) into {}", name.name(), m.plaintextSize(), destination);
            return Fetched.FOUND;
        } catch (StageFailure e) {
            throw storage("read " + dataKey, dataKey, (IOException) e.getCause());
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot write " + destination + " for " + name.name() + ": " + e
                            + ". Check the disk and the permissions of the data directory.",
                    dataKey,
                    String.valueOf(destination),
                    e);
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    log.warn("cannot delete {}: {}", tmp, e.toString());
                }
            }
        }
    }

    /**
     * On a local store, "not found" is an answer only when its {@code wal/} directory exists: a store directory that is
     * missing or holds no {@code wal/} is an unmounted (or wrong) volume, and "not found" would end recovery early.
     */
    private void checkMounted(String dataKey) {
        java.util.Optional<Path> root = sink.localRoot();
        if (root.isPresent() && !Files.isDirectory(root.get().resolve(StoreLayout.WAL_PREFIX))) {
            throw new StorageException(
                    "The local store " + root.get() + " has no " + StoreLayout.WAL_PREFIX + " directory"
                            + (Files.isDirectory(root.get()) ? "" : " (the store directory itself is missing)")
                            + ": is its volume unmounted, or is the store path wrong? Nothing can be fetched from it,"
                            + " and answering 'not found' would end recovery early; mount it (or fix the path) and"
                            + " restart the server.",
                    dataKey,
                    sink.location(),
                    null);
        }
    }

    private static int readDecoded(InputStream in, byte[] buf, BackupManifest m) throws IOException {
        try {
            return in.read(buf);
        } catch (IOException e) {
            throw storeFailureIn(e, m, "it cannot be decoded: ");
        }
    }

    /**
     * A failure of reading the object: the store's (a {@link StageFailure} anywhere in the causes, as a decoder may
     * wrap what it read), else the object's: damaged.
     */
    private static IOException storeFailureIn(IOException e, BackupManifest m, String why) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StageFailure sf) {
                return sf;
            }
        }
        throw damaged(m, why + e.getMessage(), e);
    }

    private InputStream openData(String dataKey) throws IOException {
        try {
            return sink.open(dataKey);
        } catch (NotFoundException e) {
            throw new IntegrityException(
                    "The WAL archive in " + sink.location() + " has a manifest for " + dataKey + " but not the object"
                            + " itself: it was deleted or lost. Recovery cannot continue past this file.",
                    dataKey,
                    sink.location(),
                    e);
        }
    }

    private static IntegrityException damaged(BackupManifest m, String why, Throwable cause) {
        return new IntegrityException(
                "The archived WAL file " + m.id() + " (" + m.objectKey() + ") is damaged: " + why
                        + ". It is not used; restore from another copy of the archive, or recover to a point before it.",
                m.objectKey(),
                null,
                cause);
    }

    /**
     * Renames {@code tmp} to {@code destination} (atomically where the file system can, replacing it), then flushes
     * the destination's directory, so that a file appears under its name only complete.
     */
    static void move(Path tmp, Path destination) throws IOException {
        try {
            Files.move(tmp, destination, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, destination, StandardCopyOption.REPLACE_EXISTING);
        }
        Path dir = destination.toAbsolutePath().getParent();
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            log.debug("cannot fsync directory {}: {}", dir, e.toString());
        }
    }

    private BackupManifest readManifest(WalFileName name, String dataKey) {
        return manifest(sink, trust, name, systemIdentifier);
    }

    /**
     * The committed, authenticated manifest of the archived file {@code walFileName} in {@code sink}, or null when
     * there is none: what {@link #fetch} and {@link #push} check before they use a stored file, for readers that only
     * count files ({@link WalContinuity}) and need no decryption key. Reads the manifest and its signature (two small
     * objects), never the data.
     *
     * @param systemIdentifier the cluster the file must belong to, or null for any; a manifest that records no
     *                         cluster is accepted (files pushed where {@code global/pg_control} could not be read)
     * @throws IntegrityException     when the manifest is garbled, its signature does not check out with
     *                                {@code trust}, it describes another object or file, or it belongs to another
     *                                cluster
     * @throws StorageException       when the store cannot be read
     * @throws ConfigurationException when the name is not a WAL file's, or {@code trust} cannot check the signature
     */
    public static BackupManifest manifest(Sink sink, BackupTrust trust, String walFileName, String systemIdentifier) {
        Objects.requireNonNull(sink, "sink");
        Objects.requireNonNull(trust, "trust");
        return manifest(sink, trust, WalFileName.parse(walFileName), systemIdentifier);
    }

    private static BackupManifest manifest(Sink sink, BackupTrust trust, WalFileName name, String systemIdentifier) {
        String dataKey = name.dataKey();
        String manifestKey = StoreLayout.manifestKey(dataKey);
        byte[] json = readSmall(sink, manifestKey);
        if (json == null) {
            return null;
        }
        byte[] signature = readSmall(sink, StoreLayout.signatureKey(dataKey));
        BackupManifest m = trust.check(BackupManifest.fromJson(json, manifestKey), json, signature, sink.location());
        // a signed manifest of another file, copied under this name, must not pass for this one
        Object cluster = m.sourceFacts().get(SYSTEM_IDENTIFIER);
        if (systemIdentifier != null && cluster != null && !systemIdentifier.equals(String.valueOf(cluster))) {
            throw new IntegrityException(
                    "The WAL file " + name.name() + " in " + sink.location() + " belongs to the cluster " + cluster
                            + ", not to " + systemIdentifier + " (the base backup's): another cluster's file, planted"
                            + " or archived into the wrong prefix. It is not used.",
                    dataKey,
                    sink.location(),
                    null);
        }
        if (!m.objectKey().equals(dataKey)
                || !KIND.equals(m.kind())
                || !name.name().equals(m.sourceFacts().get("walFile"))) {
            throw new IntegrityException(
                    "The manifest " + manifestKey + " in " + sink.location() + " describes another object ("
                            + m.objectKey() + ", " + m.sourceFacts().get("walFile") + "): it was moved or planted."
                            + " It is not used.",
                    dataKey,
                    sink.location(),
                    null);
        }
        return m;
    }

    /** A small object's bytes, or null when it does not exist. */
    private static byte[] readSmall(Sink sink, String key) {
        try (InputStream in = sink.open(key)) {
            byte[] b = in.readNBytes(SMALL_OBJECT_LIMIT + 1);
            if (b.length > SMALL_OBJECT_LIMIT) {
                throw new IntegrityException(
                        key + " in " + sink.location() + " is larger than " + SMALL_OBJECT_LIMIT + " bytes: it is not"
                                + " one this library wrote. It is not used.",
                        key,
                        sink.location(),
                        null);
            }
            return b;
        } catch (NotFoundException e) {
            return null;
        } catch (IOException e) {
            throw storage(sink, "read " + key, key, e);
        }
    }

    private StorageException storage(String what, String key, IOException e) {
        return storage(sink, what, key, e);
    }

    private static StorageException storage(Sink sink, String what, String key, IOException e) {
        return new StorageException(
                "Cannot " + what + " in " + sink.location() + ": " + e.getMessage()
                        + ". Check that the store is reachable and writable.",
                key,
                sink.location(),
                e);
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("interrupted while waiting to retry", new InterruptedIOException());
        }
    }

    /** Builds a {@link WalArchive}. Not thread-safe. */
    public static final class Builder {
        private Sink sink;
        private Transform encryption;
        private BackupTrust trust;
        private int level = 1;
        private int attempts = 3;
        private Duration retryDelay = Duration.ofSeconds(1);
        private Clock clock = Clock.systemUTC();
        private String systemIdentifier;
        private boolean hashPlaintext = true;
        private final List<Sink> copies = new java.util.ArrayList<>();
        private java.util.function.Consumer<String> notice;

        private Builder() {}

        /**
         * Adds a copy store (repeatable; none by default; the archive does not close it). A {@link #push} then
         * returns only once the file is committed in the store and in every copy — the same stored bytes, signature
         * and manifest, copied from the store and checked against its SHA-256 — and fails naming each copy that does
         * not hold it (PostgreSQL retries; the stores that hold it answer "same content"). A {@link #fetch} tries the
         * store, then each copy in order, when a store fails, holds a damaged file or none.
         */
        public Builder copy(Sink copy) {
            copies.add(Objects.requireNonNull(copy, "copy"));
            return this;
        }

        /**
         * Told one line when a fetch was served by a copy (which one, and why not the stores before it); none by
         * default (it is logged as a warning either way).
         */
        public Builder fallbackNotice(java.util.function.Consumer<String> notice) {
            this.notice = notice;
            return this;
        }

        /** The store. Required; the archive does not close it. */
        public Builder sink(Sink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /**
         * The encryption ({@code OpenPgpTransform}): it encrypts pushed files and signs their manifests, or decrypts
         * fetched ones. Required: WAL holds every row written, so it is never stored in plaintext.
         */
        public Builder encryption(Transform encryption) {
            Objects.requireNonNull(encryption, "encryption");
            if (!encryption.encrypts()) {
                throw new IllegalArgumentException(encryption.describe().get("type") + " does not encrypt");
            }
            this.encryption = encryption;
            return this;
        }

        /**
         * What a stored manifest must satisfy to be used (by a fetch, and by a push that finds its name archived);
         * default {@code BackupTrust.of(List.of(encryption))}: authenticated by the encryption's keys.
         */
        public Builder trust(BackupTrust trust) {
            this.trust = Objects.requireNonNull(trust, "trust");
            return this;
        }

        /** The zstd level, 1 (the default: fast, as WAL must keep up with the server) to 19. */
        public Builder compressionLevel(int level) {
            if (level < 1 || level > 19) {
                throw new IllegalArgumentException("zstd level must be 1..19, got " + level);
            }
            this.level = level;
            return this;
        }

        /**
         * How often a fetch tries the store before it fails ({@code 3} by default; the stores retry each request
         * too), waiting {@code delay} times the attempt's number in between (1 s by default).
         */
        public Builder fetchAttempts(int attempts, Duration delay) {
            if (attempts < 1 || delay.isNegative()) {
                throw new IllegalArgumentException("attempts must be >= 1 and the delay >= 0");
            }
            this.attempts = attempts;
            this.retryDelay = delay;
            return this;
        }

        /**
         * The cluster's system identifier ({@code pg_control_system()}, a base backup's {@code systemIdentifier}).
         * A push records it (by default it reads it from the data directory holding the file's {@code pg_wal}); a
         * fetch refuses a file recorded for another cluster (files recorded without one are accepted).
         */
        public Builder systemIdentifier(String id) {
            if (id != null && !id.matches("[0-9]{1,20}")) {
                throw new ConfigurationException("A system identifier is a decimal number (SELECT system_identifier"
                        + " FROM pg_control_system()), not '" + id + "'.");
            }
            this.systemIdentifier = id;
            return this;
        }

        /**
         * Whether a {@link #fetch} computes the SHA-256 of the decoded file and compares it with the manifest's
         * (default true: a deep verification does). False for recovery ({@code wal-fetch}, the read-ahead): the
         * stored object's size and SHA-256 (recorded in the authenticated manifest) are still checked before the
         * file is given its name, and so are the OpenPGP integrity check (MDC), zstd's checksum of the decoded bytes
         * and their size (in a segment PostgreSQL also checks each record's CRC); the stored bytes being the archived
         * ones, the decoded bytes are too. It saves hashing 16 MiB per segment (about 0.4 s of CPU per 33 segments here,
         * docs/benchmarks.md), on a path that competes with the server's replay for the CPU.
         */
        public Builder hashPlaintext(boolean hash) {
            this.hashPlaintext = hash;
            return this;
        }

        /** The clock of the manifests' times; {@link Clock#systemUTC()} by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Builds the archive.
         *
         * @throws ConfigurationException when the sink or the encryption is missing
         */
        public WalArchive build() {
            if (sink == null) {
                throw new ConfigurationException("A WAL archive needs a store: call sink(...).");
            }
            if (encryption == null) {
                throw new ConfigurationException(
                        "A WAL archive needs encryption: call encryption(...) with an" + " OpenPgpTransform.");
            }
            return new WalArchive(this);
        }
    }
}
