package com.jiffoo.backup.s3;

import java.util.Objects;
import java.util.Optional;

/**
 * How S3 encrypts objects at rest, on top of the backup's own OpenPGP encryption: {@link #NONE} (the bucket's
 * default applies), {@link #SSE_S3} (S3-managed keys, {@code AES256}) or {@link #sseKms(String)} (a KMS key).
 * Immutable.
 */
public final class ServerSideEncryption {
    /** No header sent: the bucket's default encryption applies. */
    public static final ServerSideEncryption NONE = new ServerSideEncryption(null, null);
    /** SSE-S3: S3-managed keys ({@code x-amz-server-side-encryption: AES256}). */
    public static final ServerSideEncryption SSE_S3 =
            new ServerSideEncryption(software.amazon.awssdk.services.s3.model.ServerSideEncryption.AES256, null);

    private final software.amazon.awssdk.services.s3.model.ServerSideEncryption mode;
    private final String kmsKeyId;

    private ServerSideEncryption(software.amazon.awssdk.services.s3.model.ServerSideEncryption mode, String kmsKeyId) {
        this.mode = mode;
        this.kmsKeyId = kmsKeyId;
    }

    /**
     * SSE-KMS with the given key (an id, ARN or alias such as {@code alias/backups}); {@code null} means the
     * account's AWS-managed key {@code aws/s3}.
     */
    public static ServerSideEncryption sseKms(String kmsKeyId) {
        if (kmsKeyId != null && kmsKeyId.isBlank()) {
            throw new IllegalArgumentException("KMS key id must not be blank (use null for the aws/s3 key)");
        }
        return new ServerSideEncryption(
                software.amazon.awssdk.services.s3.model.ServerSideEncryption.AWS_KMS, kmsKeyId);
    }

    /** The S3 header value, empty for {@link #NONE}. */
    Optional<software.amazon.awssdk.services.s3.model.ServerSideEncryption> mode() {
        return Optional.ofNullable(mode);
    }

    /** The KMS key, when SSE-KMS names one. */
    public Optional<String> kmsKeyId() {
        return Optional.ofNullable(kmsKeyId);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ServerSideEncryption s
                && Objects.equals(mode, s.mode)
                && Objects.equals(kmsKeyId, s.kmsKeyId);
    }

    @Override
    public int hashCode() {
        return Objects.hash(mode, kmsKeyId);
    }

    @Override
    public String toString() {
        return mode == null ? "none" : kmsKeyId == null ? mode.toString() : mode + "(" + kmsKeyId + ")";
    }
}
