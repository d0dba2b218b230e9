package com.jiffoo.backup;

import com.jiffoo.backup.internal.BoundedJson;
import com.jiffoo.backup.internal.Keys;
import com.jiffoo.backup.internal.Sha256;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads what a store holds: the committed backups (those with a manifest) and their manifests.
 *
 * <pre>{@code
 * StoredBackups backups = StoredBackups.of(sink);
 * BackupManifest newest = backups.latest("files").orElseThrow();
 * }</pre>
 *
 * <p>What it accepts depends on the {@link BackupTrust}: with key material, a manifest whose signature does not
 * check out (or that is missing, or a backup not encrypted as configured) is not a backup; {@link #scan(String)}
 * reports such objects so that a monitor can say so.
 *
 * <p>Thread-safe; it holds only the sink, which it does not close.
 */
public final class StoredBackups {
    private static final Logger log = LoggerFactory.getLogger(StoredBackups.class);
    private static final int MAX_MANIFEST_BYTES = BoundedJson.MAX_DOCUMENT_BYTES;
    private static final int MAX_SIDECAR_BYTES = 4096;
    private static final int MAX_SIGNATURE_BYTES = 64 * 1024;

    private final Sink sink;
    private final BackupTrust trust;

    private StoredBackups(Sink sink, BackupTrust trust) {
        this.sink = Objects.requireNonNull(sink, "sink");
        this.trust = Objects.requireNonNull(trust, "trust");
        trust.authenticator().ifPresent(Authenticator::prepare); // the manifests' HMAC key derives while we list
    }

    /**
     * A view of the backups in {@code sink} that trusts what the store says ({@link BackupTrust#STORE}): for stores
     * written without a key. With a key, use {@link #of(Sink, BackupTrust)}.
     */
    public static StoredBackups of(Sink sink) {
        return new StoredBackups(sink, BackupTrust.STORE);
    }

    /** A view of the backups in {@code sink} that accepts only what {@code trust} accepts. */
    public static StoredBackups of(Sink sink, BackupTrust trust) {
        return new StoredBackups(sink, trust);
    }

    /** The trust this view applies. */
    public BackupTrust trust() {
        return trust;
    }

    /**
     * The committed backups of one kind ({@code files}, {@code database}), newest first by the completion time in
     * their manifests. A manifest that cannot be read or is not accepted is logged and skipped: it is not a backup
     * one can trust ({@link #scan(String)} reports it).
     */
    public List<BackupManifest> committed(String kind) {
        return scan(kind).committed();
    }

    /**
     * Every manifest of one kind: the accepted ones (as {@link #committed}) and the refused ones with the reason.
     *
     * @throws StorageException when the store cannot be listed
     */
    public Scan scan(String kind) {
        List<BackupManifest> out = new ArrayList<>();
        List<Refused> refused = new ArrayList<>();
        java.util.Map<String, java.time.Instant> written = new java.util.HashMap<>();
        List<StoredObject> objects;
        try {
            objects = sink.list(StoreLayout.kindPrefix(kind));
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list " + kind + "/ in " + sink.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable.",
                    null,
                    sink.location(),
                    e);
        }
        for (StoredObject o : objects) {
            if (!StoreLayout.isManifestKey(o.key())) {
                continue;
            }
            try {
                BackupManifest m = manifest(o.key());
                out.add(m);
                written.put(m.manifestKey(), o.lastModified());
            } catch (IntegrityException | NotFoundException e) {
                // a ConfigurationException (no key here to check it with) is not a verdict on the backup: thrown
                log.warn("skipping {}: {}", o.key(), e.getMessage());
                refused.add(new Refused(o.key(), o.lastModified(), e));
            }
        }
        out.sort(Comparator.comparing(BackupManifest::completedAt).reversed());
        java.time.Instant newest = out.isEmpty() ? null : written.get(out.get(0).manifestKey());
        List<Refused> newer = refused.stream()
                .filter(r -> newest == null || !r.lastModified().isBefore(newest))
                .toList();
        return new Scan(kind, out, refused, newer);
    }

    /**
     * What {@link #scan(String)} found.
     *
     * @param kind          the kind scanned
     * @param committed     the accepted backups, newest first
     * @param refused       every manifest that could not be read or was not accepted
     * @param refusedNewest the refused manifests the store wrote no earlier than the newest accepted one (all of
     *                      them when none was accepted): a newest backup that cannot be trusted
     */
    public record Scan(
            String kind, List<BackupManifest> committed, List<Refused> refused, List<Refused> refusedNewest) {
        /** Copies the lists. */
        public Scan {
            committed = List.copyOf(committed);
            refused = List.copyOf(refused);
            refusedNewest = List.copyOf(refusedNewest);
        }

        /** The newest accepted backup. */
        public java.util.Optional<BackupManifest> latest() {
            return committed.stream().findFirst();
        }

        /**
         * The newest accepted backup, or an {@link IntegrityException} naming the manifest that is newer but cannot
         * be read or trusted (what {@code verify --latest} and {@code list --check} report).
         */
        public java.util.Optional<BackupManifest> latestTrusted() {
            if (!refusedNewest.isEmpty()) {
                Refused r = refusedNewest.get(0);
                throw new IntegrityException(
                        "The newest " + kind + " backup's manifest " + r.key()
                                + " cannot be trusted: " + r.reason().getMessage()
                                + latest().map(m -> " The newest backup" + " that can be trusted is " + m.objectKey()
                                                + "; name it to use it.")
                                        .orElse(" No " + kind + " backup here can be trusted."),
                        r.key(),
                        null,
                        r.reason());
            }
            return latest();
        }
    }

    /**
     * A manifest that was not accepted.
     *
     * @param key          the manifest's key
     * @param lastModified when the store wrote it
     * @param reason       why it was refused
     */
    public record Refused(String key, java.time.Instant lastModified, BackupException reason) {}

    /** The newest committed backup of one kind. */
    public java.util.Optional<BackupManifest> latest(String kind) {
        return committed(kind).stream().findFirst();
    }

    /**
     * The manifest of a backup, given its data, sidecar or manifest key.
     *
     * @throws NotFoundException  when neither the backup nor its data exists
     * @throws IntegrityException when the data exists without a manifest (an incomplete backup), or the manifest
     *                            is garbled or names another object
     */
    public BackupManifest manifest(String key) {
        String objectKey = StoreLayout.dataKeyOf(key);
        String manifestKey = StoreLayout.manifestKey(objectKey);
        byte[] json;
        try {
            json = readSmall(manifestKey, MAX_MANIFEST_BYTES);
        } catch (NotFoundException e) {
            if (exists(objectKey)) {
                throw new IntegrityException(
                        "The backup " + objectKey + " in " + sink.location()
                                + " has no manifest: it never completed (or is being written or deleted) and must not be"
                                + " trusted. Restore another backup, and delete the orphaned object once no backup is running.",
                        objectKey,
                        sink.location(),
                        e);
            }
            throw new NotFoundException(
                    "No backup " + objectKey + " in " + sink.location() + ". Name a backup by"
                            + " its object key, e.g. files/files_backup_20260111_030000.tar.gz.gpg (the manifest or .sha256"
                            + " key works too); list the store to see which backups exist.",
                    objectKey,
                    sink.location(),
                    e);
        }
        BackupManifest m = BackupManifest.fromJson(json, manifestKey);
        if (!m.objectKey().equals(objectKey)) {
            throw new IntegrityException(
                    "The manifest " + manifestKey + " describes another object (" + m.objectKey()
                            + "); it was copied or renamed and cannot be trusted.",
                    objectKey,
                    sink.location(),
                    null);
        }
        byte[] signature = null;
        if (trust.checks()) {
            try {
                signature = readSmall(m.signatureKey(), MAX_SIGNATURE_BYTES);
            } catch (NotFoundException e) {
                signature = null;
            }
        }
        return trust.check(m, json, signature, sink.location());
    }

    /**
     * Checks the {@code .sha256} sidecar against the manifest.
     *
     * @return the sidecar's digest
     * @throws IntegrityException when the sidecar is missing, unreadable or disagrees with the manifest
     */
    public String checkSidecar(BackupManifest m) {
        byte[] bytes;
        try {
            bytes = readSmall(m.sha256Key(), MAX_SIDECAR_BYTES);
        } catch (NotFoundException e) {
            throw new IntegrityException(
                    "The checksum file " + m.sha256Key() + " is missing although the backup"
                            + " is committed; the store was changed by hand. Verify the backup before trusting it.",
                    m.objectKey(),
                    sink.location(),
                    e);
        }
        String sha = Sha256.parseSidecar(new String(bytes, StandardCharsets.UTF_8), m.objectKey());
        if (sha == null) {
            throw new IntegrityException(
                    "The checksum file " + m.sha256Key() + " is not in sha256sum format for " + m.objectKey()
                            + "; the store was changed by hand. Verify the backup before trusting it.",
                    m.objectKey(),
                    sink.location(),
                    null);
        }
        if (!sha.equals(m.objectSha256())) {
            throw new IntegrityException(
                    "The checksum file " + m.sha256Key() + " (" + sha
                            + ") disagrees with the manifest (" + m.objectSha256() + "); one of them was replaced."
                            + " Do not trust this backup until `verify` shows which one matches the data.",
                    m.objectKey(),
                    sink.location(),
                    null);
        }
        return sha;
    }

    /**
     * The recorded verifications of a backup, newest first (see {@link VerificationRecord}). A record that cannot
     * be read is logged and skipped ({@link #readVerifications} names them).
     */
    public List<VerificationRecord> verifications(BackupManifest m) {
        return readVerifications(m).records();
    }

    /**
     * A backup's verification records as read: those that could be read, newest first, and those that could not.
     *
     * @param records    the records read (and authenticated where the trust requires it), newest first
     * @param unreadable the key of each record that could not be read, parsed or authenticated, with why (in key
     *                   order); such a record may have been a failed verification, so its backup's state cannot be
     *                   told from the others
     */
    public record Verifications(List<VerificationRecord> records, Map<String, String> unreadable) {
        /** Copies the lists. */
        public Verifications {
            records = List.copyOf(records);
            unreadable = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(unreadable));
        }
    }

    /**
     * The recorded verifications of a backup and the keys of those that cannot be read ({@link Verifications}). A
     * record deleted between the listing and the reading is neither.
     *
     * @throws StorageException when the records cannot be listed
     */
    public Verifications readVerifications(BackupManifest m) {
        List<StoredObject> objects;
        try {
            objects = recordObjects(m.objectKey());
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list the verification records of " + m.objectKey() + " in " + sink.location() + ": "
                            + e.getMessage() + ". Check that the store is reachable.",
                    m.objectKey(),
                    sink.location(),
                    e);
        }
        List<VerificationRecord> out = new ArrayList<>();
        Map<String, String> unreadable = new java.util.HashMap<>();
        for (StoredObject o : objects) {
            try {
                byte[] json = readSmall(o.key(), MAX_SIDECAR_BYTES * 4);
                VerificationRecord r = VerificationRecord.fromJson(json, o.key());
                if (!authentic(r, json, o.key())) {
                    continue;
                }
                if (r.objectKey().equals(m.objectKey())) {
                    out.add(r);
                } else {
                    log.warn("skipping {}: it records a verification of {}", o.key(), r.objectKey());
                }
            } catch (NotFoundException e) {
                log.warn("skipping {}: {}", o.key(), e.getMessage());
            } catch (IntegrityException | ConfigurationException e) {
                log.warn("skipping {}: {}", o.key(), e.getMessage());
                unreadable.put(o.key(), e.getMessage());
            }
        }
        out.sort(Comparator.comparing(VerificationRecord::verifiedAt).reversed());
        return new Verifications(out, unreadable);
    }

    /** The newest recorded verification of a backup, if it was ever verified. */
    public java.util.Optional<VerificationRecord> lastVerification(BackupManifest m) {
        return verifications(m).stream().findFirst();
    }

    /**
     * The recorded verification that stands for a backup ({@link VerificationRecord#standing}): a failed deep
     * verification stays the verdict until a later deep one passes, whatever quick ones passed since.
     */
    public java.util.Optional<VerificationRecord> standingVerification(BackupManifest m) {
        return VerificationRecord.standing(verifications(m));
    }

    /**
     * Stores a verification record next to its backup and deletes the backup's records beyond the newest
     * {@link VerificationRecord#RECORDS_KEPT}.
     *
     * @throws StorageException when the record cannot be written
     */
    void record(VerificationRecord r) {
        String key = r.newKey();
        byte[] json = r.toJson();
        java.util.Optional<Authenticator> auth = trust.authenticator().filter(Authenticator::canSign);
        if (auth.isPresent()) {
            json = r.toSignedJson(auth.get().sign(json));
        } else if (trust.checks()) {
            log.warn(
                    "the verification record {} is not signed (no signing key here): monitors that check"
                            + " authenticity ignore it. In public-key mode give the verifying host a signing key whose public"
                            + " key the monitor trusts (ENCRYPTION_SIGNING_KEY_FILE)",
                    key);
        }
        try (SinkOutput out = sink.create(key)) {
            out.write(json);
            out.commit();
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot record the verification of " + r.objectKey() + " in "
                            + sink.location() + ": " + e.getMessage() + ". The verification itself "
                            + (r.passed() ? "passed" : "failed") + "; give the verifier write access to record it.",
                    key,
                    sink.location(),
                    e);
        }
        try {
            Keys.keepNewest(sink, recordObjects(r.objectKey()), VerificationRecord.RECORDS_KEPT);
        } catch (IOException e) {
            log.warn("could not delete old verification records of {}: {}", r.objectKey(), e.getMessage());
        }
    }

    /**
     * True when a verification record may be believed: its embedded signature checks out, or nothing is checked, or
     * unauthenticated objects are allowed. A record that fails is logged and ignored (a planted "passed" record must
     * not keep a damaged backup looking good).
     */
    private boolean authentic(VerificationRecord r, byte[] json, String key) {
        if (!trust.checks()) {
            return true;
        }
        byte[] signature = VerificationRecord.signatureOf(json);
        if (signature == null || trust.authenticator().isEmpty()) {
            if (!trust.requiresAuthentication()) {
                return true;
            }
            log.warn("ignoring the verification record {}: it is not signed", key);
            return false;
        }
        trust.authenticator().get().verify(r.toJson(), signature, key); // throws IntegrityException: skipped
        return true;
    }

    /**
     * The stored objects holding the verification records of the backup stored under {@code objectKey}, so they can
     * be deleted with it.
     */
    public List<StoredObject> recordObjects(String objectKey) throws IOException {
        List<StoredObject> records = new ArrayList<>(sink.list(StoreLayout.verificationPrefix(objectKey)));
        records.removeIf(o -> !StoreLayout.isVerificationKey(o.key())
                || !StoreLayout.dataKeyOf(o.key()).equals(objectKey));
        return records;
    }

    /** Opens the stored (encoded) bytes of a backup. */
    InputStream openData(BackupManifest m) {
        try {
            return sink.open(m.objectKey());
        } catch (NotFoundException e) {
            throw new IntegrityException(
                    "The data object " + m.objectKey() + " is missing although its manifest"
                            + " exists; the backup is lost. Restore another backup.",
                    m.objectKey(),
                    sink.location(),
                    e);
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot read " + m.objectKey() + " from " + sink.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable.",
                    m.objectKey(),
                    sink.location(),
                    e);
        }
    }

    /** The sink these backups are in. */
    Sink sink() {
        return sink;
    }

    /**
     * Picks, for each transform a backup's manifest lists, the configured transform of the same type, in decoding
     * order (last applied first).
     */
    static List<Transform> decoders(BackupManifest m, List<Transform> available, String location) {
        List<Transform> out = new ArrayList<>();
        List<Map<String, Object>> applied = m.transforms();
        for (int i = applied.size() - 1; i >= 0; i--) {
            Object type = applied.get(i).get("type");
            Transform match = available.stream()
                    .filter(t -> Objects.equals(t.describe().get("type"), type))
                    .findFirst()
                    .orElse(null);
            if (match == null) {
                if (Boolean.TRUE.equals(applied.get(i).get("encrypts"))) {
                    throw new ConfigurationException(
                            "The backup " + m.objectKey() + " is encrypted (" + type
                                    + "); configure its decryption key (the key file or secret key it was made with).",
                            m.objectKey(),
                            location,
                            null);
                }
                throw new ConfigurationException(
                        "The backup " + m.objectKey() + " was encoded with '" + type
                                + "', which is not configured here; add that transform.",
                        m.objectKey(),
                        location,
                        null);
            }
            out.add(match);
        }
        return out;
    }

    /**
     * The verdict on a backup the configured keys did not open. A damaged encryption header (the session-key packet's
     * bytes changed in the store) fails exactly as a wrong key does, so the decryption alone cannot tell them apart;
     * the authenticated manifest can: the rest of the stored object is read through {@code stored} (which read its
     * start) and its size and SHA-256 are compared with the manifest's.
     *
     * @param e        what the decryption said
     * @param m        the backup's (authenticated) manifest
     * @param stored   the stored object as read so far, counting and hashing every byte; read to its end here
     * @param location the store, for the message
     * @return an {@link IntegrityException} when the stored object does not match its manifest (it is damaged in this
     * store: another copy may serve); otherwise {@code e}'s verdict, saying that the object is intact (the key is
     * wrong); {@code e} itself when the rest cannot be read (undecided)
     */
    public static BackupException decryptionFailure(
            DecryptionException e,
            BackupManifest m,
            com.jiffoo.backup.internal.CountingDigestInputStream stored,
            String location) {
        String key = m.objectKey();
        try {
            stored.transferTo(java.io.OutputStream.nullOutputStream());
        } catch (IOException | RuntimeException read) {
            log.warn(
                    "{} could not be decrypted, and whether it is damaged could not be checked (reading it failed: {})",
                    key,
                    read.toString());
            e.addSuppressed(read);
            return e;
        }
        String sha256 = stored.sha256();
        if (stored.count() != m.objectSize() || !sha256.equals(m.objectSha256())) {
            return new IntegrityException(
                    "The backup " + key + " in " + location + " is damaged: its stored object has " + stored.count()
                            + " bytes with SHA-256 " + sha256 + ", its manifest records " + m.objectSize()
                            + " bytes with SHA-256 " + m.objectSha256() + ", and its encryption header no longer"
                            + " opens (the bytes changed in the store; the key is not to blame). Nothing was"
                            + " restored from it; use another copy or another backup.",
                    key,
                    location,
                    e);
        }
        return new DecryptionException(
                e.getMessage() + " (The stored object of " + key + " is intact: it matches its manifest's SHA-256 "
                        + sha256 + ", so the key is what does not fit.)",
                key,
                location,
                e);
    }

    private boolean exists(String key) {
        try {
            return sink.list(key).stream().anyMatch(o -> o.key().equals(key));
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list " + key + " in " + sink.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable.",
                    key,
                    sink.location(),
                    e);
        }
    }

    private byte[] readSmall(String key, int max) {
        return readSmall(sink, key, max);
    }

    /**
     * A small object written by jiffoo-backup (a manifest, a signature, a checksum file), read whole, refused above
     * {@code max} bytes.
     *
     * @throws NotFoundException when it is absent
     */
    static byte[] readSmall(Sink sink, String key, int max) {
        try (InputStream in = sink.open(key)) {
            byte[] bytes = in.readNBytes(max + 1);
            if (bytes.length > max) {
                throw new IntegrityException(
                        "The object " + key + " is larger than " + max
                                + " bytes; it is not a manifest or checksum file written by jiffoo-backup.",
                        key,
                        sink.location(),
                        null);
            }
            return bytes;
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot read " + key + " from " + sink.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable.",
                    key,
                    sink.location(),
                    e);
        }
    }
}
