package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.minio.MinioSink;
import com.jiffoo.backup.s3.S3BackupUri;
import com.jiffoo.backup.s3.S3Sink;
import com.jiffoo.backup.store.LocalDirectorySink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Which store the settings name, and where one backup named on the command line lives.
 *
 * <p>The store: {@code --store}, else {@code S3_BUCKET} ({@code s3://bucket/prefix} or a bare bucket name), else
 * {@code BACKUP_DIR} (a local directory). An S3 store goes through {@link S3Sink} to AWS, or to any S3-compatible
 * endpoint with {@code S3_ENDPOINT} (path-style, and request settings such servers accept: see
 * {@code requestSettings}); with {@code MINIO_ENDPOINT} it goes through {@link MinioSink}
 * instead. Credentials: {@code AWS_ACCESS_KEY_ID}/{@code AWS_SECRET_ACCESS_KEY} (+ {@code AWS_SESSION_TOKEN}),
 * else {@code AWS_PROFILE}, else the SDK's default chain (web identity, instance roles); MinIO needs the keys.
 */
final class Stores {
    private static final Logger log = LoggerFactory.getLogger(Stores.class);

    static final String NO_STORE = "no store configured: set S3_BUCKET=s3://bucket/prefix or"
            + " BACKUP_DIR=/var/backups/jiffoo, or pass --store";

    /** The stores open in this process, closed by the shutdown hook when the process is stopped mid-way. */
    private static final java.util.Set<Sink> OPEN = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** One backup: the store it lives in and its key there. */
    record Located(Sink sink, String key) {
    }

    private Stores() {
    }

    /** The configured store. */
    static Sink open(Settings s) {
        return track(select(s));
    }

    private static Sink select(Settings s) {
        Optional<String> store = s.get("STORE");
        if (store.isPresent()) {
            String v = store.get();
            return v.startsWith("s3://") ? remote(s, v) : local(Path.of(v.startsWith("file:") ? v.substring(5) : v));
        }
        Optional<String> bucket = s.get("S3_BUCKET");
        if (bucket.isPresent()) {
            s.get("BACKUP_DIR").ifPresent(dir -> log.info("S3_BUCKET and BACKUP_DIR are both set: using S3_BUCKET;"
                    + " BACKUP_DIR ({}) is not needed (backups stream straight to the bucket)", dir));
            String v = bucket.get();
            return remote(s, v.startsWith("s3://") ? v : "s3://" + v);
        }
        return s.get("BACKUP_DIR").map(dir -> local(Path.of(dir)))
                .orElseThrow(() -> new ConfigurationException(NO_STORE + "."));
    }

    /**
     * Where the backup {@code ref} lives: an {@code s3://bucket/prefix/kind/file} URI (in that bucket, with the
     * configured endpoint and credentials), a local file path (with its {@code .sha256} and {@code .manifest.json}
     * next to it), or a key such as {@code database/db_backup_20260111_020000.sql.gpg} in the configured store.
     */
    static Located locate(Settings s, String ref) {
        if (ref.startsWith("minio://")) {
            // the location a MinIO store prints (list, backup --json): minio://host:port/bucket/prefix/kind/file
            ref = minioToS3(s, ref);
        }
        if (ref.startsWith("s3://")) {
            S3BackupUri uri = S3BackupUri.parse(ref);
            return new Located(track(remote(s, uri.storeUri())), uri.key());
        }
        Path path = Path.of(ref.startsWith("file:") ? ref.substring(5) : ref);
        if (ref.startsWith("/") || ref.startsWith(".") || ref.startsWith("file:") || Files.isRegularFile(path)) {
            BackupFileSink sink = BackupFileSink.open(path);
            return new Located(track(sink), sink.objectKey());
        }
        return new Located(open(s), ref);
    }

    private static String minioToS3(Settings s, String ref) {
        String rest = ref.substring("minio://".length());
        int slash = rest.indexOf('/');
        String endpoint = s.get("MINIO_ENDPOINT").orElseThrow(() -> new ConfigurationException("the backup " + ref
                + " is in a MinIO store: set MINIO_ENDPOINT (and the MinIO keys in AWS_ACCESS_KEY_ID and"
                + " AWS_SECRET_ACCESS_KEY), or name it as s3://bucket/prefix/…"));
        String authority = java.net.URI.create(endpoint).getRawAuthority();
        if (slash <= 0 || !rest.substring(0, slash).equals(authority)) {
            throw new ConfigurationException("the backup " + ref + " is not in the MinIO store at MINIO_ENDPOINT ("
                    + endpoint + "); set MINIO_ENDPOINT to that server, or name the backup as s3://bucket/prefix/….");
        }
        return "s3://" + rest.substring(slash + 1);
    }

    private static Sink track(Sink sink) {
        OPEN.add(sink);
        return sink;
    }

    /** Closes a store opened here. */
    static void close(Sink sink) throws java.io.IOException {
        OPEN.remove(sink);
        sink.close();
    }

    /**
     * Closes every store still open, from a shutdown hook (SIGTERM, Ctrl-C): an S3 or MinIO writer then fails and
     * aborts its multipart upload, a restore's reads fail and its target is dropped, so a stopped run leaves no
     * half-written state behind that the store would keep.
     */
    static void closeAll() {
        for (Sink sink : OPEN) {
            try {
                close(sink);
            } catch (java.io.IOException | RuntimeException e) {
                log.warn("closing {} on shutdown failed: {}", sink.location(), e.toString());
            }
        }
    }

    private static Sink local(Path dir) {
        Path abs = dir.toAbsolutePath();
        if (!Files.isDirectory(abs)) {
            throw new ConfigurationException("the backup directory " + abs + " (BACKUP_DIR or --store) does not exist;"
                    + " create it (`install -d -m 700 " + abs + "`) or set BACKUP_DIR to an existing directory.");
        }
        return LocalDirectorySink.create(abs);
    }

    private static Sink remote(Settings s, String uri) {
        Optional<String> minio = s.get("MINIO_ENDPOINT");
        Optional<String> endpoint = s.get("S3_ENDPOINT");
        if (minio.isPresent() && endpoint.isPresent()) {
            throw new ConfigurationException("S3_ENDPOINT and MINIO_ENDPOINT are both set: set MINIO_ENDPOINT to use"
                    + " the MinIO client, or S3_ENDPOINT to use the AWS SDK with an S3-compatible store, not both.");
        }
        if (minio.isPresent()) {
            return minio(s, minio.get(), uri);
        }
        S3Sink.Builder b = S3Sink.builder();
        try {
            b.uri(uri);
        } catch (ConfigurationException e) {
            throw new ConfigurationException("S3_BUCKET (or --store): " + e.getMessage()
                    + " Set S3_BUCKET=s3://bucket/prefix, e.g. S3_BUCKET=s3://jiffoo-backups/prod.", e);
        }
        s.get("AWS_REGION").ifPresent(b::region);
        if (endpoint.isPresent()) {
            b.endpointOverride(endpointUri("S3_ENDPOINT", endpoint.get()));
        }
        requestSettings(s, b, endpoint.isPresent());
        Optional<String> id = s.get("AWS_ACCESS_KEY_ID");
        Optional<String> secret = s.get("AWS_SECRET_ACCESS_KEY");
        if (id.isPresent() != secret.isPresent()) {
            throw new ConfigurationException((id.isPresent() ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID")
                    + " is not set although " + (id.isPresent() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY")
                    + " is: set both, or neither to use AWS_PROFILE or the instance's role.");
        }
        if (id.isPresent()) {
            Optional<String> token = s.get("AWS_SESSION_TOKEN");
            b.credentialsProvider(StaticCredentialsProvider.create(token.isPresent()
                    ? AwsSessionCredentials.create(id.get(), secret.get(), token.get())
                    : AwsBasicCredentials.create(id.get(), secret.get())));
        } else {
            s.get("AWS_PROFILE").ifPresent(p -> b.credentialsProvider(ProfileCredentialsProvider.create(p)));
        }
        return b.build();
    }

    /**
     * The AWS SDK's request settings. Unset, AWS S3 keeps the SDK's defaults (which also read the two
     * {@code AWS_*_CHECKSUM_*} variables and the profile) and an {@code S3_ENDPOINT} gets the settings that work with
     * servers lacking {@code aws-chunked} and the newer checksum headers: checksums when required, no chunked
     * encoding, path-style.
     */
    private static void requestSettings(Settings s, S3Sink.Builder b, boolean customEndpoint) {
        s.get("AWS_REQUEST_CHECKSUM_CALCULATION").ifPresent(v -> b.requestChecksumCalculation(
                whenSupportedOrRequired("AWS_REQUEST_CHECKSUM_CALCULATION", v)
                        ? RequestChecksumCalculation.WHEN_SUPPORTED : RequestChecksumCalculation.WHEN_REQUIRED));
        s.get("AWS_RESPONSE_CHECKSUM_VALIDATION").ifPresent(v -> b.responseChecksumValidation(
                whenSupportedOrRequired("AWS_RESPONSE_CHECKSUM_VALIDATION", v)
                        ? ResponseChecksumValidation.WHEN_SUPPORTED : ResponseChecksumValidation.WHEN_REQUIRED));
        s.bool("S3_CHUNKED_ENCODING").ifPresent(b::chunkedEncoding);
        b.pathStyleAccess(s.bool("S3_PATH_STYLE").orElse(customEndpoint));
    }

    /** True for {@code when_supported}, false for {@code when_required} (the SDK's spelling, any case). */
    private static boolean whenSupportedOrRequired(String name, String value) {
        return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "when_supported" -> true;
            case "when_required" -> false;
            default -> throw new ConfigurationException(name + " is '" + value + "'; set it to when_required (for"
                    + " S3-compatible servers) or when_supported (the AWS SDK's default for AWS S3).");
        };
    }

    private static Sink minio(Settings s, String endpoint, String uri) {
        endpointUri("MINIO_ENDPOINT", endpoint);
        String rest = uri.substring("s3://".length());
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1).replaceAll("/+$", "");
        String id = s.require("AWS_ACCESS_KEY_ID", "MINIO_ENDPOINT needs the MinIO access key in AWS_ACCESS_KEY_ID"
                + " and its secret in AWS_SECRET_ACCESS_KEY");
        String secret = s.require("AWS_SECRET_ACCESS_KEY", "MINIO_ENDPOINT needs the MinIO secret key in"
                + " AWS_SECRET_ACCESS_KEY");
        MinioSink.Builder b = MinioSink.builder().endpoint(endpoint).bucket(bucket).credentials(id, secret.toCharArray());
        if (!prefix.isEmpty()) {
            b.prefix(prefix);
        }
        s.get("AWS_REGION").ifPresent(b::region);
        return b.build();
    }

    private static URI endpointUri(String name, String value) {
        try {
            URI u = URI.create(value);
            if (u.getScheme() != null && u.getHost() != null
                    && (u.getScheme().equals("http") || u.getScheme().equals("https"))) {
                return u;
            }
        } catch (IllegalArgumentException e) {
            // below
        }
        throw new ConfigurationException(name + " is '" + value + "', which is not an http(s) URL; set it like "
                + name + "=https://minio.internal:9000.");
    }
}
