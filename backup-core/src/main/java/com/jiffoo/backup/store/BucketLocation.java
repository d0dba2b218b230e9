package com.jiffoo.backup.store;

import java.net.URI;
import java.util.Locale;
import java.util.Objects;

/**
 * Where the objects of a bucket and prefix are, in a form two of them can be compared by: the server, the bucket and
 * the prefix. A store in a bucket ({@link com.jiffoo.backup.Sink#bucketLocation()}) and a bucket a files backup reads
 * or a restore writes ({@link ObjectBucket#bucketLocation()}) each have one, so that a pipeline can refuse a bucket
 * that overlaps the store ({@link #overlaps}).
 *
 * <p>The rule: two locations overlap when they are on the same server, in the same bucket, and one prefix is the
 * other or lies under it, segment by segment ({@code a/b} holds {@code a/b/c} but not {@code a/bc}; the empty prefix
 * is the whole bucket). Two different servers never overlap. Normalised on construction:
 * <ul>
 * <li>the server is {@code host:port} in lower case, the port filled in from the scheme ({@code http} 80,
 *     {@code https} 443); the scheme and any path of the endpoint are left out (one host and port serves one
 *     protocol). Every {@code *.amazonaws.com} host is {@value #AWS} (bucket names are global across AWS regions), and
 *     every {@code *.amazonaws.com.cn} host {@value #AWS_CN}; {@code localhost}, {@code 127.x.x.x} and {@code ::1}
 *     are {@code localhost}. Other aliases of one server (two DNS names, an IP address and a name) are not
 *     recognised: they are different servers here;
 * <li>the bucket is compared without regard to case (S3 bucket names are lower case);
 * <li>the prefix loses its leading and trailing {@code /}, and runs of {@code /} compare as one (so {@code a//b} is
 *     taken as {@code a/b}: on the safe side, it may overlap where S3 would not).
 * </ul>
 *
 * @param server the server as {@code host:port}; build with {@link #of} from an endpoint URI
 * @param bucket the bucket's name
 * @param prefix the prefix in the bucket, {@code ""} for the whole bucket, without leading or trailing {@code /}
 */
public record BucketLocation(String server, String bucket, String prefix) {
    /** The server of every AWS S3 endpoint (of the {@code aws} partition). */
    public static final String AWS = "amazonaws.com";
    /** The server of every AWS S3 endpoint of the China partition. */
    public static final String AWS_CN = "amazonaws.com.cn";

    /**
     * Normalises the server to lower case and takes the prefix's leading and trailing {@code /} off; the bucket must
     * not be empty.
     */
    public BucketLocation {
        server = Objects.requireNonNull(server, "server").toLowerCase(Locale.ROOT);
        Objects.requireNonNull(bucket, "bucket");
        if (bucket.isEmpty()) {
            throw new IllegalArgumentException("a bucket location needs a bucket");
        }
        prefix = Objects.requireNonNull(prefix, "prefix").replaceAll("^/+|/+$", "");
    }

    /**
     * The location of {@code prefix} in {@code bucket} on the server at {@code endpoint}.
     *
     * @param endpoint an absolute URI ({@code http://127.0.0.1:9000}, {@code https://s3.eu-west-1.amazonaws.com}), or
     *                 {@code null} for AWS S3
     */
    public static BucketLocation of(String endpoint, String bucket, String prefix) {
        return new BucketLocation(server(endpoint), bucket, prefix);
    }

    /** {@code host:port} of an endpoint URI, as the class comment says; {@value #AWS} for {@code null}. */
    static String server(String endpoint) {
        if (endpoint == null || endpoint.isBlank()) {
            return AWS;
        }
        URI u = URI.create(endpoint.contains("://") ? endpoint : "https://" + endpoint);
        String host = u.getHost() == null ? u.getAuthority() : u.getHost();
        host = host == null ? "" : host.toLowerCase(Locale.ROOT).replaceAll("^\\[|]$", "");
        if (host.equals(AWS) || host.endsWith("." + AWS)) {
            return AWS;
        }
        if (host.equals(AWS_CN) || host.endsWith("." + AWS_CN)) {
            return AWS_CN;
        }
        if (host.equals("::1") || host.equals("0:0:0:0:0:0:0:1") || host.matches("127(\\.\\d{1,3}){3}")) {
            host = "localhost";
        }
        int port = u.getPort() >= 0 ? u.getPort() : "http".equalsIgnoreCase(u.getScheme()) ? 80 : 443;
        return host + ":" + port;
    }

    /** Whether this and {@code other} share objects: the same server and bucket, one prefix holding the other. */
    public boolean overlaps(BucketLocation other) {
        return holds(other) || other.holds(this);
    }

    /**
     * Whether every object of {@code other} is one of this location's: the same server and bucket, and its prefix is
     * this prefix or lies under it.
     */
    public boolean holds(BucketLocation other) {
        String mine = prefix.replaceAll("/+", "/");
        String theirs = other.prefix.replaceAll("/+", "/");
        return server.equals(other.server)
                && bucket.equalsIgnoreCase(other.bucket)
                && (mine.isEmpty() || theirs.equals(mine) || theirs.startsWith(mine + "/"));
    }

    /** {@code s3://bucket/prefix}, the location without its server. */
    public String uri() {
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
    }

    /** {@code s3://bucket/prefix on host:port}. */
    @Override
    public String toString() {
        return uri() + " on " + server;
    }
}
