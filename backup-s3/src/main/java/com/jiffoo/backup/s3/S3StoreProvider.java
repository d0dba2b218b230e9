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
                "S3_PATH_STYLE");
    }

    @Override
    public Sink open(URI uri, StoreSettings s) {
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
        return b.build();
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
