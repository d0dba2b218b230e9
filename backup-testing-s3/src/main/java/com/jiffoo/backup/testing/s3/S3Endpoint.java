package com.jiffoo.backup.testing.s3;

import java.net.URI;

/** What a client needs to reach a test S3 server: {@link S3ProxyServer}, {@link S3rverServer}. */
public interface S3Endpoint {
    /** The endpoint, {@code http://127.0.0.1:PORT}; clients must use path-style access. */
    URI endpoint();

    /** The access key id. */
    String accessKey();

    /** The secret access key. */
    String secretKey();

    /** The bucket the server created. */
    String bucket();
}
