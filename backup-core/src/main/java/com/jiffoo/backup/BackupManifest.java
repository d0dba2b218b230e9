package com.jiffoo.backup;

import com.jiffoo.backup.internal.ManifestJson;
import com.jiffoo.backup.store.StoreLayout;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The commit marker of a backup, stored last under {@link StoreLayout#manifestKey}: a backup exists only when its
 * manifest does. It records what was backed up, how it was encoded and the size and SHA-256 of both the stored
 * object and the plaintext, so that a reader can verify every byte.
 *
 * <p>Immutable and thread-safe. Built by {@link BackupPipeline}; read back with {@link #fromJson(byte[], String)}.
 */
public final class BackupManifest {

    /** The version of the manifest format this library writes. */
    public static final int FORMAT_VERSION = 1;

    private final int formatVersion;
    private final String id;
    private final String kind;
    private final Instant startedAt;
    private final Instant completedAt;
    private final String source;
    private final Map<String, Object> sourceFacts;
    private final List<Map<String, Object>> transforms;
    private final String objectKey;
    private final long objectSize;
    private final String objectSha256;
    private final long plaintextSize;
    private final String plaintextSha256;
    private final String libraryVersion;
    private final String host;
    private final BackupTrust.Authenticity authenticity;
    private final String signedBy;

    private BackupManifest(Builder b) {
        this.formatVersion = b.formatVersion;
        this.id = require(b.id, "id");
        this.kind = require(b.kind, "kind");
        this.startedAt = Objects.requireNonNull(b.startedAt, "startedAt");
        this.completedAt = Objects.requireNonNull(b.completedAt, "completedAt");
        this.source = b.source == null ? "" : b.source;
        this.sourceFacts = Collections.unmodifiableMap(new LinkedHashMap<>(b.sourceFacts));
        List<Map<String, Object>> ts = new ArrayList<>();
        for (Map<String, Object> t : b.transforms) {
            ts.add(Collections.unmodifiableMap(new LinkedHashMap<>(t)));
        }
        this.transforms = Collections.unmodifiableList(ts);
        this.objectKey = require(b.objectKey, "objectKey");
        this.objectSize = b.objectSize;
        this.objectSha256 = requireSha(b.objectSha256, "objectSha256");
        this.plaintextSize = b.plaintextSize;
        this.plaintextSha256 = requireSha(b.plaintextSha256, "plaintextSha256");
        this.libraryVersion = b.libraryVersion == null ? "unknown" : b.libraryVersion;
        this.host = b.host == null ? "unknown" : b.host;
        this.authenticity = b.authenticity;
        this.signedBy = b.signedBy;
        if (objectSize < 0 || plaintextSize < 0) {
            throw new IllegalArgumentException("sizes must be >= 0");
        }
    }

    private static String require(String v, String name) {
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException(name + " is required");
        }
        return v;
    }

    private static String requireSha(String v, String name) {
        if (v == null || !v.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException(name + " must be 64 lower-case hex digits, got " + v);
        }
        return v;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this manifest's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.formatVersion = formatVersion;
        b.id = id;
        b.kind = kind;
        b.startedAt = startedAt;
        b.completedAt = completedAt;
        b.source = source;
        b.sourceFacts.putAll(sourceFacts);
        b.transforms.addAll(transforms);
        b.objectKey = objectKey;
        b.objectSize = objectSize;
        b.objectSha256 = objectSha256;
        b.plaintextSize = plaintextSize;
        b.plaintextSha256 = plaintextSha256;
        b.libraryVersion = libraryVersion;
        b.host = host;
        b.authenticity = authenticity;
        b.signedBy = signedBy;
        return b;
    }

    /** Serialises to the stored JSON form (UTF-8, pretty-printed, stable field order). */
    public byte[] toJson() {
        return ManifestJson.write(this);
    }

    /**
     * Parses a stored manifest.
     *
     * @param json the manifest's bytes
     * @param key  the manifest's key, for the error message
     * @throws IntegrityException when the JSON is garbled, incomplete or of an unknown format version
     */
    public static BackupManifest fromJson(byte[] json, String key) {
        return ManifestJson.read(json, key);
    }

    /** The manifest format version. */
    public int formatVersion() {
        return formatVersion;
    }

    /** The backup's id, its file name without suffixes: {@code files_backup_20260111_030000}. */
    public String id() {
        return id;
    }

    /** The kind of data ({@code files}, {@code database}), also its folder in the store. */
    public String kind() {
        return kind;
    }

    /** When the backup started. */
    public Instant startedAt() {
        return startedAt;
    }

    /** When it was committed; retention and freshness order backups by this. */
    public Instant completedAt() {
        return completedAt;
    }

    /** How long the backup took. */
    public Duration duration() {
        return Duration.between(startedAt, completedAt);
    }

    /** The source's description (directory, database). */
    public String source() {
        return source;
    }

    /** Facts the source reported (file count, server version, ...). */
    public Map<String, Object> sourceFacts() {
        return sourceFacts;
    }

    /** The transforms applied, in encoding order, each as {@link Transform#describe()} gave it. */
    public List<Map<String, Object>> transforms() {
        return transforms;
    }

    /** True when one of the transforms encrypts. */
    public boolean encrypted() {
        return transforms.stream().anyMatch(t -> Boolean.TRUE.equals(t.get("encrypts")));
    }

    /** The stored data object's key. */
    public String objectKey() {
        return objectKey;
    }

    /** The stored data object's size in bytes. */
    public long objectSize() {
        return objectSize;
    }

    /** The stored data object's SHA-256, lower-case hex. */
    public String objectSha256() {
        return objectSha256;
    }

    /** The plaintext's size (the source's output before transforms). */
    public long plaintextSize() {
        return plaintextSize;
    }

    /** The plaintext's SHA-256, lower-case hex. */
    public String plaintextSha256() {
        return plaintextSha256;
    }

    /** The version of jiffoo-backup that wrote it. */
    public String libraryVersion() {
        return libraryVersion;
    }

    /** The host that wrote it. */
    public String host() {
        return host;
    }

    /** The key of this backup's manifest. */
    public String manifestKey() {
        return StoreLayout.manifestKey(objectKey);
    }

    /** The key of this backup's sidecar. */
    public String sha256Key() {
        return StoreLayout.sidecarKey(objectKey);
    }

    /** The key of this backup's manifest signature. */
    public String signatureKey() {
        return StoreLayout.signatureKey(objectKey);
    }

    /**
     * Every key of this backup except its verification records, in the order they are deleted: the manifest first
     * (so a half-deleted backup is invisible), then its signature, the sidecar and the data.
     */
    public java.util.List<String> keys() {
        return java.util.List.of(manifestKey(), signatureKey(), sha256Key(), objectKey);
    }

    /**
     * How this manifest was accepted when it was read from a store ({@link StoredBackups}); {@code NOT_CHECKED} for
     * one built or parsed without a {@link BackupTrust}. Not part of the stored JSON.
     */
    public BackupTrust.Authenticity authenticity() {
        return authenticity;
    }

    /** Who signed it, when {@link #authenticity()} is {@code AUTHENTICATED}. */
    public java.util.Optional<String> signedBy() {
        return java.util.Optional.ofNullable(signedBy);
    }

    /** This manifest, marked with how it was accepted. */
    BackupManifest withAuthenticity(BackupTrust.Authenticity a, String by) {
        Builder b = toBuilder();
        b.authenticity = Objects.requireNonNull(a, "a");
        b.signedBy = by;
        return b.build();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BackupManifest m && java.util.Arrays.equals(toJson(), m.toJson());
    }

    @Override
    public int hashCode() {
        return objectKey.hashCode() ^ objectSha256.hashCode();
    }

    @Override
    public String toString() {
        return "BackupManifest{" + objectKey + ", " + objectSize + " bytes, sha256=" + objectSha256 + ", completed "
                + completedAt + "}";
    }

    /** Builds a {@link BackupManifest}. Not thread-safe. */
    public static final class Builder {
        private int formatVersion = FORMAT_VERSION;
        private String id;
        private String kind;
        private Instant startedAt;
        private Instant completedAt;
        private String source;
        private final Map<String, Object> sourceFacts = new LinkedHashMap<>();
        private final List<Map<String, Object>> transforms = new ArrayList<>();
        private String objectKey;
        private long objectSize;
        private String objectSha256;
        private long plaintextSize;
        private String plaintextSha256;
        private String libraryVersion;
        private String host;
        private BackupTrust.Authenticity authenticity = BackupTrust.Authenticity.NOT_CHECKED;
        private String signedBy;

        private Builder() {}

        /** Sets the format version (readers only; writers use {@link #FORMAT_VERSION}). */
        public Builder formatVersion(int v) {
            this.formatVersion = v;
            return this;
        }

        /** Sets the id. */
        public Builder id(String v) {
            this.id = v;
            return this;
        }

        /** Sets the kind. */
        public Builder kind(String v) {
            this.kind = v;
            return this;
        }

        /** Sets the start time. */
        public Builder startedAt(Instant v) {
            this.startedAt = v;
            return this;
        }

        /** Sets the completion time. */
        public Builder completedAt(Instant v) {
            this.completedAt = v;
            return this;
        }

        /** Sets the source's description. */
        public Builder source(String v) {
            this.source = v;
            return this;
        }

        /** Replaces the source facts. */
        public Builder sourceFacts(Map<String, Object> v) {
            this.sourceFacts.clear();
            this.sourceFacts.putAll(v);
            return this;
        }

        /** Replaces the transform descriptions. */
        public Builder transforms(List<Map<String, Object>> v) {
            this.transforms.clear();
            this.transforms.addAll(v);
            return this;
        }

        /** Sets the stored object's key, size and SHA-256. */
        public Builder object(String key, long size, String sha256) {
            this.objectKey = key;
            this.objectSize = size;
            this.objectSha256 = sha256;
            return this;
        }

        /** Sets the plaintext's size and SHA-256. */
        public Builder plaintext(long size, String sha256) {
            this.plaintextSize = size;
            this.plaintextSha256 = sha256;
            return this;
        }

        /** Sets the library version. */
        public Builder libraryVersion(String v) {
            this.libraryVersion = v;
            return this;
        }

        /** Sets the host name. */
        public Builder host(String v) {
            this.host = v;
            return this;
        }

        /** Builds the manifest, checking required fields. */
        public BackupManifest build() {
            return new BackupManifest(this);
        }
    }
}
