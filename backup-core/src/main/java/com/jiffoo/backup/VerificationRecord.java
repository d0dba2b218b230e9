package com.jiffoo.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.jiffoo.backup.internal.BoundedJson;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * The outcome of one verification of one backup, as {@link BackupVerifier} records it in the store next to the
 * backup, so that a monitor knows when each backup was last proven good (or found bad).
 *
 * <p>A record is a small JSON object stored under {@link StoreLayout#newVerificationKey}, e.g.
 * {@code database/db_backup_20260111_020000.sql.gpg.verified-20260111T040000123Z-3f9a2c.json}. Store objects are
 * write-once, so every verification adds a record; the verifier keeps the newest {@value #RECORDS_KEPT} per backup
 * and retention deletes them with their backup.
 *
 * @param objectKey      the verified backup's data key
 * @param backupId       the backup's id
 * @param verifiedAt     when the verification finished
 * @param deep           true for a deep verification (decrypted, plaintext and inner format checked)
 * @param passed         true when every check passed
 * @param errorCode      the failure's {@link ErrorCode} name, {@code null} when passed
 * @param message        what failed and what to do, {@code null} when passed
 * @param elapsed        how long it took
 * @param host           the host that verified
 */
public record VerificationRecord(
        String objectKey,
        String backupId,
        Instant verifiedAt,
        boolean deep,
        boolean passed,
        String errorCode,
        String message,
        Duration elapsed,
        String host) {
    /** How many records the verifier keeps per backup; older ones are deleted when a new one is written. */
    public static final int RECORDS_KEPT = 10;

    private static final ObjectMapper MAPPER = BoundedJson.mapper();
    /** Checks the required fields. */
    public VerificationRecord {
        Objects.requireNonNull(objectKey, "objectKey");
        Objects.requireNonNull(verifiedAt, "verifiedAt");
        Objects.requireNonNull(elapsed, "elapsed");
    }

    /** A passed verification. */
    static VerificationRecord passed(VerificationResult r, String host) {
        return new VerificationRecord(
                r.manifest().objectKey(),
                r.manifest().id(),
                r.verifiedAt(),
                r.deep(),
                true,
                null,
                null,
                r.elapsed(),
                host);
    }

    /** A new key for this record ({@link StoreLayout#newVerificationKey}). */
    String newKey() {
        return StoreLayout.newVerificationKey(objectKey, verifiedAt);
    }

    /**
     * True when this verification checks at least what {@code other} checks: a deep verification covers deep and
     * quick ones, a quick verification only quick ones (it never decrypts, so it cannot clear what a deep one found).
     */
    public boolean covers(VerificationRecord other) {
        return deep || !other.deep;
    }

    /**
     * The verdict that stands among the records of one backup: a failure stands until a later verification that
     * {@linkplain #covers covers} it passes, so a later passing quick verification does not clear a failed deep one,
     * while a later passing deep one clears any failure. Among several failures still standing, the newest. When no
     * failure stands, the newest record (a pass).
     *
     * <table>
     *   <caption>earlier, then later record of the same backup</caption>
     *   <tr><th>earlier</th><th>later</th><th>stands</th></tr>
     *   <tr><td>deep failed</td><td>quick passed</td><td>deep failed</td></tr>
     *   <tr><td>deep failed</td><td>deep passed</td><td>deep passed</td></tr>
     *   <tr><td>quick failed</td><td>quick or deep passed</td><td>the pass</td></tr>
     *   <tr><td>any passed</td><td>any failed</td><td>the failure</td></tr>
     * </table>
     *
     * @param records the records of one backup, in any order
     * @return the standing record, empty when there is none
     */
    public static java.util.Optional<VerificationRecord> standing(java.util.Collection<VerificationRecord> records) {
        List<VerificationRecord> newestFirst = new ArrayList<>(records);
        newestFirst.sort(Comparator.comparing(VerificationRecord::verifiedAt).reversed());
        List<VerificationRecord> laterPasses = new ArrayList<>();
        for (VerificationRecord r : newestFirst) {
            if (r.passed()) {
                laterPasses.add(r);
            } else if (laterPasses.stream().noneMatch(p -> p.covers(r))) {
                return java.util.Optional.of(r);
            }
        }
        return newestFirst.stream().findFirst();
    }

    /** "deep" or "quick". */
    public String mode() {
        return deep ? "deep" : "quick";
    }

    /** The record as JSON. */
    public byte[] toJson() {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("formatVersion", 1);
        n.put("objectKey", objectKey);
        n.put("backupId", backupId);
        n.put("verifiedAt", verifiedAt.toString());
        n.put("mode", mode());
        n.put("result", passed ? "passed" : "failed");
        if (!passed) {
            n.put("errorCode", errorCode);
            n.put("message", message);
        }
        n.put("elapsedMillis", elapsed.toMillis());
        n.put("host", host);
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(n);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise the verification record of " + objectKey, e);
        }
    }

    /**
     * The record as JSON with its signature embedded as a {@code "signature"} field (base64); the signature is over
     * {@link #toJson()}, which a reader rebuilds from the parsed fields.
     */
    public byte[] toSignedJson(byte[] signature) {
        try {
            ObjectNode n = (ObjectNode) MAPPER.readTree(toJson());
            n.put("signature", java.util.Base64.getEncoder().encodeToString(signature));
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(n);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise the verification record of " + objectKey, e);
        }
    }

    /** The signature embedded in a record's JSON, or {@code null} when it has none (or is not JSON). */
    public static byte[] signatureOf(byte[] json) {
        try {
            JsonNode sig = MAPPER.readTree(json).get("signature");
            return sig == null || !sig.isTextual()
                    ? null
                    : java.util.Base64.getDecoder().decode(sig.asText());
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }

    /**
     * Parses a record.
     *
     * @throws IntegrityException when it is not a verification record
     */
    public static VerificationRecord fromJson(byte[] json, String key) {
        try {
            JsonNode n = MAPPER.readTree(json);
            String result = n.path("result").asText();
            if (n.path("formatVersion").asInt() != 1 || !(result.equals("passed") || result.equals("failed"))) {
                throw new IOException("not a version 1 verification record");
            }
            return new VerificationRecord(
                    n.path("objectKey").asText(),
                    n.path("backupId").asText(null),
                    Instant.parse(n.path("verifiedAt").asText()),
                    n.path("mode").asText().equals("deep"),
                    result.equals("passed"),
                    n.path("errorCode").asText(null),
                    n.path("message").asText(null),
                    Duration.ofMillis(n.path("elapsedMillis").asLong()),
                    n.path("host").asText(null));
        } catch (IOException | RuntimeException e) {
            throw new IntegrityException(
                    "The verification record " + key + " cannot be read (" + e.getMessage()
                            + "); it was changed by hand. Delete it and verify the backup again.",
                    key,
                    null,
                    e);
        }
    }
}
