package com.jiffoo.backup.wal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.jiffoo.backup.Authenticator;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.internal.BoundedJson;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.Objects;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The signed head of a WAL archive: one small object, {@value #KEY}, naming the newest WAL segment pushed into the
 * store, so that deleting the archive's newest segments (its tail), or the newest timeline's segments and history
 * file, is found by {@link WalContinuity} (a listing alone cannot tell a deleted tail from one never written).
 *
 * <p>The object is one JSON document, written in one put (no sidecar):
 *
 * <pre>
 * {"format":1,"systemIdentifier":"7301…","timeline":1,"walFile":"000000010000000000000007",
 *  "archivedAt":"2026-12-02T07:00:00.123Z","signature":"aG1hYy1zaGEyNTYg…"}
 * </pre>
 *
 * The signature (base64 of the {@link Authenticator}'s signature object: the same HMAC line or OpenPGP signature a WAL
 * manifest's {@code .sig} holds) is over the document without its {@code signature} member, members in this order,
 * without white space — what {@code jq -cj 'del(.signature)' HEAD} prints.
 *
 * <p>{@link WalArchive#push} advances it after a whole segment is committed (or found archived already) when that
 * segment is newer — by timeline, then segment number — than the head stored (read and checked first); a head that
 * is absent, cannot be trusted or names another cluster is replaced. Objects are write-once, so a replacement deletes
 * the old head and writes the new one: a reader in between sees none, so {@link #judge} reads an absent head again
 * for up to {@link #REPLACE_WAIT} before it calls it deleted. Pushes of one archive are serialized; pushes
 * from several processes may race and leave a slightly older head: the head is a lower bound of the archive's end,
 * which weakens detection a little and raises no alarm of its own (a head on a higher timeline whose segments were
 * pruned since does: docs/pitr.md). A failure to write it is logged and does not fail the push (the segment is
 * durable). Every segment's manifest records {@value #KEPT}, so that a deleted head is found ({@link State#MISSING});
 * a head that cannot be replaced (a store that refuses the delete) is found stale by {@link #judge}.
 *
 * <p>What it does not stop (docs/pitr.md): the replay of an older signed head saved by the attacker (versioning or
 * Object Lock does not help: readers see the current version), and the deletion of the head together with every
 * segment whose manifest records {@value #KEPT}.
 *
 * <p>Immutable; the static methods are thread-safe.
 */
public final class WalHead {
    private static final Logger log = LoggerFactory.getLogger(WalHead.class);

    /** The key of the head in the store: in {@code wal/}, a name {@link WalInventory} and the copier ignore. */
    public static final String KEY = StoreLayout.WAL_PREFIX + "HEAD";
    /** The format written. */
    public static final int FORMAT = 1;

    private static final int LIMIT = 64 * 1024;
    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final ObjectMapper JSON = BoundedJson.mapper();

    private WalHead() {}

    /**
     * What a head says.
     *
     * @param systemIdentifier the cluster whose segment it names, or null when the push could not tell
     * @param timeline         the segment's timeline
     * @param walFile          the newest segment pushed, e.g. {@code 000000010000000000000007}
     * @param archivedAt       when the head was written
     */
    public record Head(String systemIdentifier, long timeline, String walFile, Instant archivedAt) {
        /** Checks the fields. */
        public Head {
            Objects.requireNonNull(walFile, "walFile");
            Objects.requireNonNull(archivedAt, "archivedAt");
        }

        /** True when this head names a later segment than {@code segment} (timeline, then number: the name's order). */
        public boolean isAfter(String segment) {
            return segment == null || walFile.compareTo(segment) > 0;
        }
    }

    /** What a reader found. */
    public enum State {
        /** A head whose signature checks out (or, with a store that trusts itself, any well-formed head). */
        VALID,
        /** No head: an archive written before heads existed, one that is empty (a deleted head is judged MISSING). */
        ABSENT,
        /** A head that is garbled, not authenticated, or of a cluster it cannot be: tampered or damaged. */
        INVALID,
        /** A head whose signature cannot be checked here (no key of its kind is configured). */
        UNCHECKED,
        /**
         * No head, although the newest segment's authenticated manifest records {@value WalHead#KEPT} (the archive
         * keeps a head): deleted, with or without its tail ({@link #judge}); only a judged status has it.
         */
        MISSING
    }

    /**
     * The source fact a WAL manifest of a segment holds (true) once the archive keeps a head: an absent head of an
     * archive whose newest segment says so was deleted.
     */
    public static final String KEPT = "headKept";
    /** A valid head further behind the newest segment of its timeline than this many segments … */
    static final int STALE_SEGMENTS = 4;
    /** … and written this long before that segment was committed is not advancing. */
    static final java.time.Duration STALE_AGE = java.time.Duration.ofMinutes(15);

    /**
     * How long an absent head is read again before an archive whose manifests say it keeps one is judged
     * {@link State#MISSING}: far longer than a push takes to replace it (one delete, one small put).
     */
    static final java.time.Duration REPLACE_WAIT = java.time.Duration.ofSeconds(5);

    /** How often {@link #REPLACE_WAIT} reads the head again. */
    private static final java.time.Duration REPLACE_POLL = java.time.Duration.ofMillis(200);

    /**
     * A head as read from a store.
     *
     * @param state  what was found
     * @param head   the head ({@link State#VALID}, {@link State#UNCHECKED}; for {@link State#INVALID} when it parsed),
     *               or null
     * @param reason why it is invalid or unchecked, what an absent one means, else null
     */
    public record Status(State state, Head head, String reason) {
        /** The head that counts: only a {@link State#VALID} one. */
        public Head valid() {
            return state == State.VALID ? head : null;
        }

        /** This head, judged invalid for {@code why}. */
        Status invalid(String why) {
            return new Status(State.INVALID, head, why);
        }

        /** {@code valid: 000000010000000000000007 (timeline 1, archived 2026-…)}, {@code absent}, … */
        public String describe() {
            String what = head == null
                    ? ""
                    : " " + head.walFile() + " (archived " + head.archivedAt()
                            + (head.systemIdentifier() == null ? "" : ", cluster " + head.systemIdentifier()) + ")";
            return state.name().toLowerCase(java.util.Locale.ROOT) + what + (reason == null ? "" : ": " + reason);
        }
    }

    /**
     * Reads and checks the head of the archive in {@code sink} with {@code trust}'s authenticator; a store that trusts
     * itself ({@link BackupTrust#checks()} false) takes a well-formed head as valid, as it takes manifests.
     *
     * @throws StorageException when the store cannot be read
     */
    public static Status read(Sink sink, BackupTrust trust) {
        Objects.requireNonNull(trust, "trust");
        byte[] bytes;
        try (InputStream in = sink.open(KEY)) {
            bytes = in.readNBytes(LIMIT + 1);
        } catch (NotFoundException e) {
            return new Status(
                    State.ABSENT,
                    null,
                    "an archive written before heads existed, or the head was deleted: a deleted tail of the archive"
                            + " cannot be found (docs/pitr.md)");
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot read the WAL archive's head " + KEY + " in " + sink.location() + ": " + e.getMessage()
                            + ". Check that the store is reachable and readable.",
                    KEY,
                    sink.location(),
                    e);
        }
        if (bytes.length > LIMIT) {
            return new Status(State.INVALID, null, "it is larger than " + LIMIT + " bytes: not one this library wrote");
        }
        Head head;
        byte[] signature;
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n == null || !n.isObject()) {
                throw new IllegalArgumentException("not a JSON object");
            }
            if (n.path("format").asInt(-1) != FORMAT) {
                throw new IllegalArgumentException("its format is " + n.get("format") + ", not " + FORMAT);
            }
            String file = n.path("walFile").asText("");
            if (!SEGMENT.matcher(file).matches()) {
                throw new IllegalArgumentException("walFile '" + file + "' is not a WAL segment's name");
            }
            long timeline = n.path("timeline").asLong(-1);
            if (timeline != Long.parseLong(file.substring(0, 8), 16)) {
                throw new IllegalArgumentException("its timeline " + n.get("timeline") + " is not " + file + "'s");
            }
            JsonNode id = n.get("systemIdentifier");
            if (id != null && !id.isNull() && !(id.isTextual() && id.asText().matches("[0-9]{1,20}"))) {
                throw new IllegalArgumentException("systemIdentifier " + id + " is not a decimal number in quotes");
            }
            head = new Head(
                    id == null || id.isNull() ? null : id.asText(),
                    timeline,
                    file,
                    Instant.parse(n.path("archivedAt").asText("")));
            signature = n.hasNonNull("signature")
                    ? Base64.getDecoder().decode(n.get("signature").asText())
                    : null;
        } catch (IOException | RuntimeException e) {
            return new Status(State.INVALID, null, "it cannot be read as a head (" + e.getMessage() + ")");
        }
        if (!trust.checks()) {
            return new Status(State.VALID, head, null);
        }
        if (signature == null) {
            return new Status(State.INVALID, head, "it has no signature");
        }
        Authenticator a = trust.authenticator().orElse(null);
        if (a == null) {
            return new Status(
                    State.UNCHECKED, head, "no key is configured here to check its signature (set the key file)");
        }
        try {
            a.verify(signedContent(head), signature, KEY);
            return new Status(State.VALID, head, null);
        } catch (IntegrityException e) {
            return new Status(State.INVALID, head, e.getMessage());
        } catch (ConfigurationException e) {
            return new Status(State.UNCHECKED, head, e.getMessage());
        }
    }

    /**
     * The verdict on an archive whose signed head names a later segment than the newest one present (counted): its
     * tail was deleted or lost.
     *
     * @param headSegment    the segment the head names
     * @param headArchivedAt when the head was written
     * @param newestPresent  the newest segment the archive holds (authenticated), or null when none
     */
    public record TailMissing(String headSegment, Instant headArchivedAt, String newestPresent) {
        /** One sentence for reports. */
        public String describe() {
            return "the WAL archive lost its tail: its signed head (" + KEY + ") names " + headSegment + ", archived "
                    + headArchivedAt + ", but the newest segment present is "
                    + (newestPresent == null ? "none" : newestPresent)
                    + ": the segments after it were deleted or lost";
        }
    }

    /**
     * A head as judged against an archive's listing.
     *
     * @param stale why a valid head is not advancing ({@link #STALE_SEGMENTS}, {@link #STALE_AGE}), else null
     */
    record Judged(Status status, TailMissing tail, String stale) {
        Judged(Status status, TailMissing tail) {
            this(status, tail, null);
        }
    }

    /**
     * Reads the head of {@code sink} and judges it against the archive: a valid head of {@code cluster} (or of no
     * recorded cluster) naming a later segment than {@code newestPresent} that the store does not hold now, or holds
     * without a trusted manifest, is a {@link TailMissing}. A valid head of another cluster is invalid, unless that
     * cluster is the newest base backup's ({@code newestBaseCluster}: a store two clusters archive into, checked for
     * the older one), which is only noted. An unchecked head is noted. An absent one is only its state, unless the
     * authenticated manifest of {@code newestPresent} records {@value #KEPT}: then it is {@link State#MISSING}. A
     * valid head more than {@link #STALE_SEGMENTS} segments behind {@code newestOfItsTimeline} and written more than
     * {@link #STALE_AGE} before that segment's manifest was completed is stale (not advancing).
     *
     * @param inListing           whether a file of that name was committed in the listing the check counted
     * @param newestOfItsTimeline the newest segment counted on a timeline, or null when none
     * @param size                the segment size
     */
    static Judged judge(
            Sink sink,
            BackupTrust trust,
            String cluster,
            String newestBaseCluster,
            String newestPresent,
            java.util.function.Predicate<String> inListing,
            java.util.function.LongFunction<String> newestOfItsTimeline,
            long size,
            java.util.List<String> notes) {
        Status s = read(sink, trust);
        if (s.state() == State.ABSENT) {
            com.jiffoo.backup.BackupManifest m = manifestOf(sink, trust, newestPresent, cluster);
            if (m == null || !Boolean.TRUE.equals(m.sourceFacts().get(KEPT))) {
                return new Judged(s, null);
            }
            // a push replaces the head by deleting it and writing the new one: read again before calling it deleted
            s = awaitReplacement(sink, trust);
            if (s.state() == State.ABSENT) {
                return new Judged(
                        new Status(
                                State.MISSING,
                                null,
                                "the archive's signed head is missing although the archive keeps one (the signed"
                                        + " manifest of " + newestPresent + " says so, and it stayed missing for "
                                        + REPLACE_WAIT.toSeconds() + " s): deleted?"),
                        null);
            }
        }
        Head h = s.head();
        switch (s.state()) {
            case UNCHECKED -> {
                notes.add("the archive's head cannot be checked: " + s.reason());
                return new Judged(s, null);
            }
            case ABSENT, INVALID, MISSING -> {
                return new Judged(s, null);
            }
            case VALID -> {}
        }
        if (cluster != null && h.systemIdentifier() != null && !cluster.equals(h.systemIdentifier())) {
            if (h.systemIdentifier().equals(newestBaseCluster)) {
                notes.add("the archive's head names " + h.walFile() + " of the cluster " + h.systemIdentifier()
                        + " (the newest base backup's), not of " + cluster + ": it does not tell where this"
                        + " cluster's WAL ends");
                return new Judged(s, null);
            }
            return new Judged(
                    s.invalid("it names " + h.walFile() + " of the cluster " + h.systemIdentifier() + ", not of "
                            + cluster + " whose WAL is checked: another cluster's head, copied or planted"),
                    null);
        }
        if (!h.isAfter(newestPresent)) {
            return new Judged(s, null, stale(sink, trust, h, newestOfItsTimeline.apply(h.timeline()), cluster, size));
        }
        if (!inListing.test(h.walFile())) {
            // pushed after the listing was read (the head is written after its segment)?
            try {
                if (WalArchive.manifest(sink, trust, h.walFile(), cluster) != null) {
                    notes.add("the head names " + h.walFile() + ", committed after the archive was listed");
                    return new Judged(s, null);
                }
            } catch (IntegrityException e) {
                // there, but not trusted: as good as missing
            }
        }
        return new Judged(s, new TailMissing(h.walFile(), h.archivedAt(), newestPresent));
    }

    /**
     * The head read again every {@link #REPLACE_POLL} until it is there or {@link #REPLACE_WAIT} has passed: a push
     * replacing it ({@link #advance}) deletes the old head before it writes the new one, and a reader in between must
     * not take the moment for a deletion.
     */
    private static Status awaitReplacement(Sink sink, BackupTrust trust) {
        long deadline = System.nanoTime() + REPLACE_WAIT.toNanos();
        Status s;
        do {
            try {
                Thread.sleep(REPLACE_POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return read(sink, trust);
            }
            s = read(sink, trust);
        } while (s.state() == State.ABSENT && System.nanoTime() < deadline);
        return s;
    }

    /** Why {@code h} is not advancing, or null: see {@link #judge}. */
    private static String stale(Sink sink, BackupTrust trust, Head h, String newest, String cluster, long size) {
        if (newest == null
                || WalSegment.parse(newest, size).number()
                                - WalSegment.parse(h.walFile(), size).number()
                        <= STALE_SEGMENTS) {
            return null;
        }
        com.jiffoo.backup.BackupManifest m = manifestOf(sink, trust, newest, cluster);
        if (m == null
                || java.time.Duration.between(h.archivedAt(), m.completedAt()).compareTo(STALE_AGE) <= 0) {
            return null;
        }
        return "the archive head is not advancing: it names " + h.walFile() + ", archived " + h.archivedAt()
                + ", but " + newest + " was committed at " + m.completedAt() + " (the backup host may lack delete"
                + " permission on " + KEY + ": docs/s3.md); a deleted tail of the archive goes unnoticed";
    }

    /** The authenticated manifest of {@code segment}, or null when it is gone or not trusted. */
    private static com.jiffoo.backup.BackupManifest manifestOf(
            Sink sink, BackupTrust trust, String segment, String cluster) {
        if (segment == null) {
            return null;
        }
        try {
            return WalArchive.manifest(sink, trust, segment, cluster);
        } catch (IntegrityException e) {
            return null;
        }
    }

    /**
     * Makes {@code segment} the head of the archive in {@code sink} when it is newer than the stored head (or that one
     * is absent, not trusted, or another cluster's). Never throws for the store: a failure is logged as a warning.
     *
     * @param segment          a whole segment just committed (or found archived) in {@code sink}
     * @param systemIdentifier its cluster as its manifest records it, or null
     */
    static void advance(
            Sink sink, BackupTrust trust, Authenticator signer, String segment, String systemIdentifier, Instant now) {
        try {
            Status stored = read(sink, trust);
            Head current = stored.valid();
            boolean sameCluster = current != null
                    && (systemIdentifier == null || systemIdentifier.equals(current.systemIdentifier()));
            if (sameCluster && !new Head(null, 0, segment, now).isAfter(current.walFile())) {
                return;
            }
            if (stored.state() != State.ABSENT && current == null) {
                log.warn("replacing the WAL archive's head in {}: {}", sink.location(), stored.describe());
            }
            Head head = new Head(systemIdentifier, Long.parseLong(segment.substring(0, 8), 16), segment, now);
            byte[] bytes = encode(head, signer);
            if (stored.state() != State.ABSENT) {
                sink.delete(KEY);
            }
            try (SinkOutput out = sink.create(KEY)) {
                out.write(bytes);
                out.commit();
            }
            log.debug("the WAL archive's head in {} is now {}", sink.location(), segment);
        } catch (ObjectExistsException e) {
            log.info(
                    "the WAL archive's head in {} was written by another push at the same time; {} is archived, the"
                            + " head may name an older segment until the next push",
                    sink.location(),
                    segment);
        } catch (IOException | RuntimeException e) {
            log.warn(
                    "{} is archived, but the WAL archive's head in {} could not be updated ({}): deleting the newest"
                            + " WAL may go unnoticed until the next push updates it",
                    segment,
                    sink.location(),
                    e.getMessage());
        }
    }

    /** The object's bytes: the signed content with its signature as a last member. */
    static byte[] encode(Head head, Authenticator signer) {
        byte[] content = signedContent(head);
        ObjectNode n = members(head);
        n.put("signature", Base64.getEncoder().encodeToString(signer.sign(content)));
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The bytes the signature covers: the members in order, compact. */
    static byte[] signedContent(Head head) {
        try {
            return JSON.writeValueAsString(members(head)).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ObjectNode members(Head head) {
        ObjectNode n = JSON.createObjectNode();
        n.put("format", FORMAT);
        n.put("systemIdentifier", head.systemIdentifier());
        n.put("timeline", head.timeline());
        n.put("walFile", head.walFile());
        n.put("archivedAt", head.archivedAt().toString());
        return n;
    }
}
