package com.jiffoo.backup.bench;

import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.nio.file.Path;

/**
 * Runs an S3Proxy with a file-system blob store in its own JVM until its standard input closes, so a measurement's
 * heap holds only the backup side. Prints one line: {@code endpoint accessKey secretKey bucket}.
 *
 * <pre>
 * java -Xmx1g -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.S3ProxyServe /var/tmp/jiffoo-s3-blobs
 * </pre>
 */
public final class S3ProxyServe {
    private S3ProxyServe() {}

    /** Starts the server in {@code args[0]} (default /var/tmp/jiffoo-s3-blobs) and waits for stdin to close. */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "/var/tmp/jiffoo-s3-blobs");
        try (S3ProxyServer server = S3ProxyServer.startFilesystem(dir)) {
            System.out.println(
                    server.endpoint() + " " + server.accessKey() + " " + server.secretKey() + " " + server.bucket());
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait
            }
        }
    }
}
