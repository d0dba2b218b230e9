package com.jiffoo.backup.s3;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.StoreProvider;
import com.jiffoo.backup.store.StoreSettings;
import java.net.URI;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;

/**
 * Opens {@code s3://bucket/prefix} stores as an {@link S3Sink}: AWS S3, or any S3-compatible server at an endpoint.
 *
 * <p>Settings (URI query parameter in brackets, which wins): {@code S3_ENDPOINT} ({@code endpoint}; then path-style
 * requests and the request settings such servers accept: checksums when required, no {@code aws-chunked}),
 * {@code AWS_REGION} ({@code region}), {@code AWS_PROFILE} ({@code profile}), {@code S3_PATH_STYLE}
 * ({@code pathStyle}), {@code S3_CHUNKED_ENCODING}, {@code AWS_REQUEST_CHECKSUM_CALCULATION} and
 * {@code AWS_RESPONSE_CHECKSUM_VALIDATION} ({@code when_supported} or {@code when_required}). Credentials:
 * {@code AWS_ACCESS_KEY_ID} and {@code AWS_SECRET_ACCESS_KEY} (+ {@code AWS_SESSION_TOKEN}), else the profile, else
 * the SDK's default chain (web identity, instance roles); a profile named in the URI ({@code ?profile=NAME}) wins
 * over the keys, so that each store of a backup and its copies can use its own account. E.g.
 * {@code s3://jiffoo-backups/prod?endpoint=http://127.0.0.1:9000&region=us-east-1}.
 *
 * <p>Object Lock ({@link S3ObjectLock}): {@code S3_OBJECT_LOCK} ({@code objectLock}: {@code compliance} or
 * {@code governance}) and {@code S3_OBJECT_LOCK_DAYS} ({@code objectLockDays}), at least {@code RETENTION_DAYS}
 * (default 30) plus one backup interval ({@code MAX_BACKUP_AGE_HOURS}, default 24 h), else the store is refused
 * when it is opened; e.g. {@code s3://jiffoo-backups/prod?objectLock=compliance&objectLockDays=31}.
 */
public final class S3StoreProvider implements StoreProvider {
    @Override
    public Set<String> schemes() {
        return Set.of("s3");
    }

    @Override
    public Map<String, String> queryParameters() {
        return Map.of(
                "endpoint",
                "S3_ENDPOINT",
                "region",
                "AWS_REGION",
                "profile",
                "AWS_PROFILE",
                "pathStyle",
                "S3_PATH_STYLE",
                "objectLock",
                "S3_OBJECT_LOCK",
                "objectLockDays",
                "S3_OBJECT_LOCK_DAYS");
    }

    @Override
    public Sink open(URI uri, StoreSettings s) {
        S3Sink.Builder b = builder(uri, s);
        b.objectLock(objectLock(s));
        return b.build();
    }

    /**
     * Opens {@code s3://bucket/prefix} as an {@link S3Bucket}: the source of {@code backup files --from} or the
     * target of {@code restore files --to}, with the same settings as a store (endpoint, region, credentials, path
     * style, checksums; not Object Lock).
     */
    @Override
    public com.jiffoo.backup.store.ObjectBucket openBucket(URI uri, StoreSettings s) {
        return S3Sink.bucket(builder(uri, s));
    }

    private static S3Sink.Builder builder(URI uri, StoreSettings s) {
        Optional<URI> endpoint = s.httpUrl("S3_ENDPOINT");
        S3Sink.Builder b = S3Sink.builder()
                .uri("s3://" + uri.getRawAuthority()
                        + Optional.ofNullable(uri.getRawPath()).orElse(""));
        s.get("AWS_REGION").ifPresent(b::region);
        endpoint.ifPresent(b::endpointOverride);
        s.get("AWS_REQUEST_CHECKSUM_CALCULATION")
                .ifPresent(v -> b.requestChecksumCalculation(
                        whenSupported("AWS_REQUEST_CHECKSUM_CALCULATION", v)
                                ? RequestChecksumCalculation.WHEN_SUPPORTED
                                : RequestChecksumCalculation.WHEN_REQUIRED));
        s.get("AWS_RESPONSE_CHECKSUM_VALIDATION")
                .ifPresent(v -> b.responseChecksumValidation(
                        whenSupported("AWS_RESPONSE_CHECKSUM_VALIDATION", v)
                                ? ResponseChecksumValidation.WHEN_SUPPORTED
                                : ResponseChecksumValidation.WHEN_REQUIRED));
        s.bool("S3_CHUNKED_ENCODING").ifPresent(b::chunkedEncoding);
        b.pathStyleAccess(s.bool("S3_PATH_STYLE").orElse(endpoint.isPresent()));
        credentials(s, profileInUri(uri)).ifPresent(b::credentialsProvider);
        return b;
    }

    /** The launcher's default of {@code RETENTION_DAYS}, the prune's. */
    static final int DEFAULT_RETENTION_DAYS = 30;

    /** The backup interval assumed when {@code MAX_BACKUP_AGE_HOURS} is not set: the runbook's daily backup. */
    static final int DEFAULT_INTERVAL_HOURS = 24;

    /**
     * The Object Lock asked for by {@code S3_OBJECT_LOCK} and {@code S3_OBJECT_LOCK_DAYS}, checked against the
     * retention: each object must stay locked at least {@code RETENTION_DAYS} (default 30, the prune's) plus one
     * backup interval ({@code MAX_BACKUP_AGE_HOURS}, the monitor's limit, default 24 h), so that every backup the
     * retention keeps is locked for as long as it is kept, and the newest one until the next backup exists.
     */
    static S3ObjectLock objectLock(StoreSettings s) {
        Optional<String> mode = s.get("S3_OBJECT_LOCK");
        Optional<String> days = s.get("S3_OBJECT_LOCK_DAYS");
        if (mode.isEmpty()) {
            if (days.isPresent()) {
                throw new ConfigurationException("S3_OBJECT_LOCK_DAYS is set but S3_OBJECT_LOCK is not: set"
                        + " S3_OBJECT_LOCK=compliance (or governance) to lock objects, or unset S3_OBJECT_LOCK_DAYS.");
            }
            return S3ObjectLock.NONE;
        }
        if (mode.get().trim().equalsIgnoreCase("none") || mode.get().trim().equalsIgnoreCase("off")) {
            return S3ObjectLock.NONE;
        }
        long lockDays = number(
                s,
                "S3_OBJECT_LOCK_DAYS",
                days.orElseThrow(() -> new ConfigurationException(
                        "S3_OBJECT_LOCK is set but S3_OBJECT_LOCK_DAYS is not: set it to how many days each object stays"
                                + " locked, at least RETENTION_DAYS plus one backup interval (e.g. 31 with RETENTION_DAYS=30"
                                + " and a daily backup).")));
        S3ObjectLock lock = S3ObjectLock.parse(mode.get(), lockDays);
        long retentionDays =
                s.get("RETENTION_DAYS").map(v -> number(s, "RETENTION_DAYS", v)).orElse((long) DEFAULT_RETENTION_DAYS);
        long intervalHours = s.get("MAX_BACKUP_AGE_HOURS")
                .map(v -> number(s, "MAX_BACKUP_AGE_HOURS", v))
                .orElse((long) DEFAULT_INTERVAL_HOURS);
        java.time.Duration needed = java.time.Duration.ofDays(retentionDays).plusHours(intervalHours);
        if (lock.period().compareTo(needed) < 0) {
            long neededDays = (needed.toHours() + 23) / 24;
            throw new ConfigurationException("S3_OBJECT_LOCK_DAYS is " + lockDays + ", shorter than RETENTION_DAYS ("
                    + retentionDays + ") plus one backup interval (MAX_BACKUP_AGE_HOURS, " + intervalHours
                    + " h): backups the retention keeps would stand unlocked before prune deletes them. Set"
                    + " S3_OBJECT_LOCK_DAYS to at least " + neededDays + ".");
        }
        return lock;
    }

    private static long number(StoreSettings s, String name, String value) {
        try {
            long n = Long.parseLong(value.trim());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new ConfigurationException(name + " is '" + value + "'; set it to a whole number of "
                + (name.endsWith("HOURS") ? "hours" : "days") + ".");
    }

    /**
     * Whether the URI names its own profile ({@code ?profile=NAME}): then that profile's credentials are used even
     * when {@code AWS_ACCESS_KEY_ID} is set, so that a copy in another account or region has its own credentials.
     */
    private static boolean profileInUri(URI uri) {
        String q = uri.getRawQuery();
        return q != null && java.util.Arrays.stream(q.split("&")).anyMatch(p -> p.startsWith("profile="));
    }

    private static Optional<AwsCredentialsProvider> credentials(StoreSettings s, boolean uriProfile) {
        if (uriProfile && s.get("AWS_PROFILE").isPresent()) {
            return s.get("AWS_PROFILE").map(ProfileCredentialsProvider::create);
        }
        Optional<String> id = s.get("AWS_ACCESS_KEY_ID");
        Optional<String> secret = s.get("AWS_SECRET_ACCESS_KEY");
        if (id.isPresent() != secret.isPresent()) {
            throw new ConfigurationException((id.isPresent() ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID")
                    + " is not set although " + (id.isPresent() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY")
                    + " is: set both, or neither to use AWS_PROFILE or the instance's role.");
        }
        if (id.isPresent()) {
            Optional<String> token = s.get("AWS_SESSION_TOKEN");
            return Optional.of(StaticCredentialsProvider.create(
                    token.isPresent()
                            ? AwsSessionCredentials.create(id.get(), secret.get(), token.get())
                            : AwsBasicCredentials.create(id.get(), secret.get())));
        }
        return s.get("AWS_PROFILE").map(ProfileCredentialsProvider::create);
    }

    /** True for {@code when_supported}, false for {@code when_required} (the SDK's spelling, any case). */
    private static boolean whenSupported(String name, String value) {
        return switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "when_supported" -> true;
            case "when_required" -> false;
            default ->
                throw new ConfigurationException(name + " is '" + value + "'; set it to when_required (for"
                        + " S3-compatible servers) or when_supported (the AWS SDK's default for AWS S3).");
        };
    }
}
