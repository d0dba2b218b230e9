package com.jiffoo.backup;

import com.jiffoo.backup.BackupListener.Operation;
import com.jiffoo.backup.internal.CountingDigestInputStream;
import com.jiffoo.backup.internal.StageStreams;
import com.jiffoo.backup.internal.Support;
import com.jiffoo.backup.internal.Support.ProgressTicker;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks stored backups without restoring them.
 * <ul>
 *   <li><b>Quick</b>: re-reads the stored bytes and compares their size and SHA-256 with the manifest and the
 *       {@code .sha256} sidecar.</li>
 *   <li><b>Deep</b>: also decodes (decrypts) the bytes, which checks the OpenPGP integrity packet, compares the
 *       plaintext's size and SHA-256 with the manifest and, when an {@linkplain Builder#innerCheck inner check}
 *       is configured, reads the inner format (a tar listing, {@code pg_restore --list}).</li>
 * </ul>
 * Deep verification needs the decryption key; it proves the key still opens the backup.
 *
 * <p>Each outcome — passed, or failed because the backup is damaged or cannot be decrypted — is recorded in the store
 * next to the backup as a {@link VerificationRecord} (unless {@link Builder#recordResults(boolean)} says not to), so
 * a monitor and retention know when each backup was last proven good.
 *
 * <pre>{@code
 * BackupVerifier verifier = BackupVerifier.builder().sink(sink).transforms(List.of(pgp)).build();
 * verifier.verify("files/files_backup_20260111_030000.tar.gz.gpg", true);
 * }</pre>
 *
 * <p>Immutable and thread-safe; does not close the sink.
 */
public final class BackupVerifier {
    private static final Logger log = LoggerFactory.getLogger(BackupVerifier.class);

    private final Sink sink;
    private final List<Transform> transforms;
    private final BackupTrust trust;
    private final RestoreTarget innerCheck;
    private final BackupListener listener;
    private final Clock clock;
    private final boolean recordResults;

    private BackupVerifier(Builder b) {
        this.sink = b.sink;
        this.transforms = List.copyOf(b.transforms);
        this.trust = b.trust != null ? b.trust : BackupTrust.of(this.transforms);
        this.innerCheck = b.innerCheck;
        this.listener = b.listener;
        this.clock = b.clock;
        this.recordResults = b.recordResults;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this verifier's settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.sink = sink;
        b.transforms.addAll(transforms);
        b.trust = trust;
        b.innerCheck = innerCheck;
        b.listener = listener;
        b.clock = clock;
        b.recordResults = recordResults;
        return b;
    }

    /**
     * Verifies one backup, given its data, sidecar or manifest key. An increment of a chain ({@link BackupChain}) is
     * verified with every link before it, from its full backup on: a missing, replaced or damaged link fails it,
     * named.
     *
     * @param deep also decode and check the plaintext (needs the decryption key)
     * @throws IntegrityException  when anything does not match, is missing or truncated
     * @throws DecryptionException when a deep verification cannot decrypt it
     */
    public VerificationResult verify(String key, boolean deep) {
        ProgressTicker ticker = new ProgressTicker();
        Support.notify(listener, l -> l.started(Operation.VERIFY, key));
        StoredBackups backups = StoredBackups.of(sink, trust);
        BackupManifest m = null;
        try {
            m = backups.manifest(key);
            if (BackupChain.isIncrement(m)) {
                // an increment is only as good as its chain: every link before it is checked the same way
                List<BackupManifest> links = BackupChain.links(m, backups.committed(m.kind()));
                for (BackupManifest link : links.subList(0, links.size() - 1)) {
                    try {
                        check(backups, link, deep, ticker);
                    } catch (IntegrityException e) {
                        throw new IntegrityException(
                                "The chain of " + m.id() + " is broken at its link " + link.objectKey() + ": "
                                        + e.getMessage(),
                                link.objectKey(),
                                sink.location(),
                                e);
                    }
                }
            }
            check(backups, m, deep, ticker);
            Duration elapsed = Duration.ofNanos(ticker.elapsedNanos());
            Progress done = Support.progress(
                    m.objectKey(), deep ? m.plaintextSize() : 0, m.objectSize(), m.objectSize(), ticker);
            Support.notify(listener, l -> l.finished(Operation.VERIFY, done));
            log.info(
                    "{} verification of {} passed in {} ms",
                    deep ? "deep" : "quick",
                    m.objectKey(),
                    elapsed.toMillis());
            VerificationResult result = new VerificationResult(m, deep, clock.instant(), elapsed);
            record(backups, VerificationRecord.passed(result, Support.hostName()));
            return result;
        } catch (BackupException e) {
            Progress at = Support.progress(key, 0, 0, -1, ticker);
            Support.notify(listener, l -> l.failed(Operation.VERIFY, at, e));
            if (m != null && (e instanceof IntegrityException || e instanceof DecryptionException)) {
                // a verdict on the backup itself (not on the store's reachability or our configuration)
                record(
                        backups,
                        new VerificationRecord(
                                m.objectKey(),
                                m.id(),
                                clock.instant(),
                                deep,
                                false,
                                e.code().name(),
                                e.getMessage(),
                                Duration.ofNanos(ticker.elapsedNanos()),
                                Support.hostName()));
            }
            throw e;
        }
    }

    /** The checks of one stored backup: its sidecar, then the quick or the deep check. */
    private void check(StoredBackups backups, BackupManifest m, boolean deep, ProgressTicker ticker) {
        backups.checkSidecar(m);
        if (!deep) {
            quick(backups, m, ticker);
            return;
        }
        List<Transform> decoders = StoredBackups.decoders(m, transforms, sink.location());
        RestoreTarget check = innerCheck != null ? innerCheck : DiscardingTarget.INSTANCE;
        try (StagedRestore staged = RestorePipeline.stream(
                backups,
                m,
                decoders,
                check,
                listener,
                Operation.VERIFY,
                ticker,
                RestorePipeline.DEFAULT_CHUNK,
                RestorePipeline.DEFAULT_CHUNKS)) {
            log.debug("deep check of {} gave {}", m.objectKey(), staged.facts());
        }
    }

    /**
     * Decrypts the first {@code bytes} bytes of a backup's plaintext and nothing more: proves that the configured
     * key still opens it (a lost key is a lost archive) without reading the whole backup. It does not prove the
     * rest of the backup is intact; {@link #verify deep verification} does.
     *
     * @return how many plaintext bytes were decrypted (fewer than {@code bytes} only for a smaller backup)
     * @throws DecryptionException    when the configured keys cannot open the backup
     * @throws ConfigurationException when the backup is encrypted and no decryption key is configured
     * @throws IntegrityException     when the stored bytes are not a readable backup, or do not match the manifest
     *                                (a damaged encryption header fails as a wrong key would; the manifest's SHA-256
     *                                tells them apart)
     */
    public long checkKey(String key, int bytes) {
        StoredBackups backups = StoredBackups.of(sink, trust);
        BackupManifest m = backups.manifest(key);
        List<Transform> decoders = StoredBackups.decoders(m, transforms, sink.location());
        try (InputStream raw = backups.openData(m)) {
            // tagged, so a decoder does not take a failing store for a damaged backup
            CountingDigestInputStream stored = new CountingDigestInputStream(
                    StageStreams.input(raw, "read (" + sink.location() + ")", ErrorCode.STORAGE));
            InputStream in = stored;
            try {
                for (Transform t : decoders) {
                    in = t.decode(in);
                }
            } catch (DecryptionException e) {
                // a damaged header fails as a wrong key does: the manifest's SHA-256 tells which it is
                throw StoredBackups.decryptionFailure(e, m, stored, sink.location());
            }
            try (InputStream plain = in) {
                return plain.readNBytes(bytes).length;
            }
        } catch (IOException e) {
            throw new StorageException(
                    "Reading " + m.objectKey() + " from " + sink.location() + " failed: " + e.getMessage()
                            + ". Check that the store is reachable and try again.",
                    m.objectKey(),
                    sink.location(),
                    e);
        }
    }

    private void record(StoredBackups backups, VerificationRecord r) {
        if (!recordResults) {
            return;
        }
        try {
            backups.record(r);
        } catch (BackupException e) {
            log.warn(
                    "the {} verification of {} {} but could not be recorded: {}",
                    r.mode(),
                    r.objectKey(),
                    r.passed() ? "passed" : "failed",
                    e.getMessage());
        }
    }

    private void quick(StoredBackups backups, BackupManifest m, ProgressTicker ticker) {
        try (InputStream raw = backups.openData(m);
                CountingDigestInputStream in = new CountingDigestInputStream(raw)) {
            byte[] buf = new byte[256 * 1024];
            while (in.read(buf) >= 0) {
                if (ticker.due()) {
                    Progress p = Support.progress(m.objectKey(), 0, in.count(), m.objectSize(), ticker);
                    Support.notify(listener, l -> l.progress(Operation.VERIFY, p));
                }
            }
            if (in.count() != m.objectSize() || !in.sha256().equals(m.objectSha256())) {
                throw new IntegrityException(
                        "The stored object " + m.objectKey() + " in " + sink.location()
                                + " does not match its manifest and checksum file (" + in.count() + " bytes read, "
                                + m.objectSize()
                                + " expected; SHA-256 differs). The backup is damaged; do not rely on it"
                                + " and make a new backup.",
                        m.objectKey(),
                        sink.location(),
                        null);
            }
        } catch (IOException e) {
            throw new StorageException(
                    "Reading " + m.objectKey() + " from " + sink.location() + " failed: " + e.getMessage()
                            + ". Check that the store is reachable and verify again.",
                    m.objectKey(),
                    sink.location(),
                    e);
        }
    }

    /** Reads the plaintext to its end and keeps nothing. */
    private enum DiscardingTarget implements RestoreTarget {
        INSTANCE;

        @Override
        public String describe() {
            return "verification (discarding)";
        }

        @Override
        public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
            long n = plaintext.transferTo(OutputStream.nullOutputStream());
            return new StagedRestore() {
                @Override
                public Map<String, Object> facts() {
                    return Map.of("bytes", n);
                }

                @Override
                public void commit() {}

                @Override
                public void close() {}
            };
        }
    }

    /** Builds a {@link BackupVerifier}. Not thread-safe. */
    public static final class Builder {
        private Sink sink;
        private final List<Transform> transforms = new ArrayList<>();
        private BackupTrust trust;
        private RestoreTarget innerCheck;
        private BackupListener listener = BackupListener.NONE;
        private Clock clock = Clock.systemUTC();
        private boolean recordResults = true;

        private Builder() {}

        /**
         * Whether each verification's outcome is recorded in the store next to the backup (a
         * {@link VerificationRecord}); true by default. Recording needs write access; when it fails, the verification
         * still returns (or throws) as usual and the failure to record is logged.
         */
        public Builder recordResults(boolean recordResults) {
            this.recordResults = recordResults;
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

        /** Where the backups are. Required. */
        public Builder sink(Sink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /** The transforms (with decryption keys) that deep verification decodes with. */
        public Builder transforms(List<? extends Transform> transforms) {
            this.transforms.clear();
            this.transforms.addAll(transforms);
            return this;
        }

        /**
         * A target that reads the plaintext's inner format during deep verification and never changes anything
         * (its staged restore's commit does nothing), e.g. a tar lister.
         */
        public Builder innerCheck(RestoreTarget innerCheck) {
            this.innerCheck = Objects.requireNonNull(innerCheck, "innerCheck");
            return this;
        }

        /** Progress callbacks. */
        public Builder listener(BackupListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The clock stamping results. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Builds the verifier. */
        public BackupVerifier build() {
            if (sink == null) {
                throw new ConfigurationException("A verifier needs a sink: call sink(...).");
            }
            return new BackupVerifier(this);
        }
    }
}
