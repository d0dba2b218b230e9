package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.internal.StoreOverlap;
import com.jiffoo.backup.store.ObjectBucket;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The bucket of {@code backup files --from} and {@code restore files --to} ({@code s3://bucket/prefix} or
 * {@code minio://host:port/bucket/prefix}), opened with its own settings: when any {@code UPLOADS_*} setting is set
 * ({@code UPLOADS_S3_ENDPOINT}, {@code UPLOADS_AWS_ACCESS_KEY_ID}, ...), the bucket reads only those (the uploads
 * live in another account or server than the backups); otherwise the store's own settings ({@code S3_ENDPOINT},
 * {@code AWS_ACCESS_KEY_ID}, ...); then the bucket needs its own credentials ({@code UPLOADS_AWS_ACCESS_KEY_ID} and
 * {@code UPLOADS_AWS_SECRET_ACCESS_KEY}, or {@code UPLOADS_AWS_PROFILE}) and refuses to open without them, rather than
 * letting the SDK find the store's keys in the environment. A location with user information
 * ({@code minio://user:secret@host/...}) is refused. A {@code minio://} bucket is reached with the AWS SDK (MinIO speaks S3) at
 * {@code http://host:port} (https when {@code MINIO_ENDPOINT}, or {@code UPLOADS_MINIO_ENDPOINT}, names that host
 * with https), path-style.
 */
final class Buckets {
    /** The prefix of the bucket's own settings. */
    static final String PREFIX = "UPLOADS_";

    /** The settings a bucket reads, each also as {@code UPLOADS_<name>}. */
    static final List<String> NAMES = List.of(
            "S3_ENDPOINT",
            "MINIO_ENDPOINT",
            "AWS_REGION",
            "AWS_PROFILE",
            "S3_PATH_STYLE",
            "S3_CHUNKED_ENCODING",
            "AWS_REQUEST_CHECKSUM_CALCULATION",
            "AWS_RESPONSE_CHECKSUM_VALIDATION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN");

    private Buckets() {}

    /** Whether {@code location} names a bucket (and not a directory). */
    static boolean isBucket(String location) {
        return location.startsWith("s3://") || location.startsWith("minio://");
    }

    /**
     * Opens the bucket {@code location} names; {@code where} names the flag or setting for messages.
     *
     * @throws ConfigurationException naming it when the URI or a setting is wrong
     */
    static ObjectBucket open(Settings s, String location, String where) {
        StoreSettings view = settings(s);
        String uri = location;
        if (location.startsWith("minio://")) {
            // read from the raw text: a secret with a '/' ends the URI's authority early
            if (location.matches("(?s)minio://[^?#]*@.*")) {
                throw new ConfigurationException(where + " is '" + StoreProviders.redact(location)
                        + "', with user information before the host; a bucket location must not hold credentials:"
                        + " set UPLOADS_AWS_ACCESS_KEY_ID and UPLOADS_AWS_SECRET_ACCESS_KEY (or UPLOADS_AWS_PROFILE)"
                        + " and name the bucket as minio://host:port/bucket/prefix.");
            }
            URI u;
            try {
                u = new URI(location);
            } catch (java.net.URISyntaxException e) {
                throw new ConfigurationException(where + " is '" + StoreProviders.redact(location)
                        + "', which is no valid URI (" + e.getReason() + ", at index " + e.getIndex()
                        + "); name a MinIO bucket as minio://host:port/bucket/prefix.");
            }
            if (u.getHost() == null
                    || u.getPath() == null
                    || u.getPath().replaceAll("^/+", "").isEmpty()) {
                throw new ConfigurationException(where + " is '" + StoreProviders.redact(location)
                        + "'; name a MinIO bucket as minio://host:port/bucket/prefix.");
            }
            String scheme = view.httpUrl("MINIO_ENDPOINT")
                    .filter(m -> m.getHost().equalsIgnoreCase(u.getHost()))
                    .map(URI::getScheme)
                    .orElse("http");
            String endpoint = scheme + "://" + u.getRawAuthority();
            uri = "s3:/" + u.getRawPath() + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery());
            StoreSettings base = view;
            view = name -> switch (name) {
                case "S3_ENDPOINT" -> Optional.of(endpoint);
                case "S3_PATH_STYLE" -> Optional.of("true");
                default -> base.get(name);
            };
        } else if (!location.startsWith("s3://")) {
            throw new ConfigurationException(where + " is '" + StoreProviders.redact(location)
                    + "', which is no bucket; name it as s3://bucket/prefix or minio://host:port/bucket/prefix.");
        }
        try {
            return StoreProviders.openBucket(uri, view);
        } catch (ConfigurationException e) {
            throw new ConfigurationException(
                    "the bucket " + StoreProviders.redact(location) + " (" + where + "): " + e.getMessage(), e);
        }
    }

    /**
     * The settings the bucket reads: the {@code UPLOADS_} ones alone when any is set, else the store's. Other names
     * (retention and so on) are not read by a bucket and answer empty.
     */
    static StoreSettings settings(Settings s) {
        boolean own = NAMES.stream().anyMatch(n -> s.get(PREFIX + n).isPresent());
        if (own
                && s.get(PREFIX + "AWS_PROFILE").isEmpty()
                && (s.get(PREFIX + "AWS_ACCESS_KEY_ID").isEmpty()
                        || s.get(PREFIX + "AWS_SECRET_ACCESS_KEY").isEmpty())) {
            throw new ConfigurationException("an UPLOADS_* setting is set, so the bucket reads only its own settings,"
                    + " but it has no credentials of its own: set UPLOADS_AWS_ACCESS_KEY_ID and"
                    + " UPLOADS_AWS_SECRET_ACCESS_KEY, or UPLOADS_AWS_PROFILE (the bucket never falls back to the"
                    + " store's AWS_ACCESS_KEY_ID or the SDK's default credentials).");
        }
        Map<String, Boolean> known = new java.util.HashMap<>();
        NAMES.forEach(n -> known.put(n, true));
        return name -> known.containsKey(name) ? s.get(own ? PREFIX + name : name) : Optional.empty();
    }

    /**
     * Refuses a bucket that is, holds or lies inside one of {@code stores} (the store and its copies): a restore
     * {@code --replace} there would delete the backups, and a backup of it would hold the store's own objects (each
     * backup all the earlier ones). The library's own check ({@link StoreOverlap}, which the pipelines run too),
     * here with the flag or setting named: the same server, the same bucket, one prefix holding the other.
     *
     * @param where the flag or setting naming the bucket, for the message
     * @throws ConfigurationException (exit 2) saying what overlaps and what to do
     */
    static void refuseOverlap(List<Sink> stores, ObjectBucket bucket, String where, StoreOverlap.Use use) {
        StoreOverlap.refuse(
                use,
                stores,
                Optional.empty(),
                Optional.of(bucket.bucketLocation()),
                "the bucket " + bucket.location() + " (" + where + ")");
    }

    /**
     * {@link #refuseOverlap(List, ObjectBucket, String, StoreOverlap.Use)} against the configured store and its copies,
     * opened for it (none when no store is configured: a restore from a backup named by its URI).
     */
    static void refuseOverlap(Settings s, ObjectBucket bucket, String where, StoreOverlap.Use use) {
        if (Stores.configuredLocation(s).isEmpty()) {
            return;
        }
        List<Sink> stores = Stores.openAll(s);
        try {
            refuseOverlap(stores, bucket, where, use);
        } finally {
            CliCommand.close(stores);
        }
    }
}
