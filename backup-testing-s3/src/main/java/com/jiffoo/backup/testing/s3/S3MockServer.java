package com.jiffoo.backup.testing.s3;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Adobe's S3Mock ({@code com.adobe.testing:s3mock}, version {@value #VERSION}, its executable jar from Maven Central),
 * run as a child JVM on a free port: an S3 server that implements the Object Lock API (buckets created with Object
 * Lock, GetObjectLockConfiguration, Put/GetObjectRetention) and checks {@code Content-MD5}, which S3Proxy and s3rver
 * do not. It neither applies the {@code x-amz-object-lock-*} headers of a PutObject or CreateMultipartUpload nor
 * refuses to delete a locked object: tests set retention with PutObjectRetention and check the write headers on the
 * wire ({@link TappingProxy}). Its HTTP port listens on every interface (S3Mock has no setting for that); its
 * objects live in a directory of the caller's. No bucket is created; credentials are not checked.
 *
 * <p>The jar: the system property {@code jiffoo.s3mock.jar} (a module's failsafe sets it to the copy
 * maven-dependency-plugin makes), else the local Maven repository's.
 */
public final class S3MockServer implements S3Endpoint, AutoCloseable {
    /** The S3Mock version the build copies. */
    public static final String VERSION = "5.2.0";

    private final Process process;
    private final int port;
    private final Path log;
    private boolean closed;

    private S3MockServer(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** The executable jar: {@code jiffoo.s3mock.jar}, else {@code ~/.m2/repository/.../s3mock-VERSION-exec.jar}. */
    public static Path jar() {
        String property = System.getProperty("jiffoo.s3mock.jar");
        if (property != null && !property.isBlank()) {
            return Path.of(property);
        }
        return Path.of(
                System.getProperty("user.home"),
                ".m2",
                "repository",
                "com",
                "adobe",
                "testing",
                "s3mock",
                VERSION,
                "s3mock-" + VERSION + "-exec.jar");
    }

    /**
     * Starts S3Mock with its objects under {@code dir} and waits (up to 4 minutes: it is a Spring Boot application, slow
     * to start on a busy machine) until it answers.
     *
     * @throws IllegalStateException when the jar is missing or the server does not start
     */
    public static S3MockServer start(Path dir) throws IOException, InterruptedException {
        Objects.requireNonNull(dir, "dir");
        Path jar = jar();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("No S3Mock jar at " + jar + ": run the module's tests through Maven"
                    + " (failsafe copies it), or fetch it: ./mvnw dependency:get"
                    + " -Dartifact=com.adobe.testing:s3mock:" + VERSION + ":jar:exec");
        }
        Files.createDirectories(dir.resolve("store"));
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        Path log = dir.resolve("s3mock.log");
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-Xmx384m",
                        "-XX:TieredStopAtLevel=1",
                        "-jar",
                        jar.toString(),
                        "--server.port=0",
                        "--server.address=127.0.0.1",
                        "--com.adobe.testing.s3mock.httpPort=" + port,
                        "--com.adobe.testing.s3mock.vectors.httpPort=0",
                        "--com.adobe.testing.s3mock.vectors.httpsPort=0",
                        "--com.adobe.testing.s3mock.store.root=" + dir.resolve("store"),
                        "--spring.main.banner-mode=off")
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        S3MockServer server = new S3MockServer(p, port, log);
        Instant deadline = Instant.now().plus(Duration.ofMinutes(4));
        while (Instant.now().isBefore(deadline)) {
            if (!p.isAlive()) {
                throw new IllegalStateException("S3Mock exited with " + p.exitValue() + " while starting: "
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            if (server.answers()) {
                return server;
            }
            Thread.sleep(250);
        }
        server.close();
        throw new IllegalStateException("S3Mock did not answer on port " + port + " within 4 minutes: "
                + Files.readString(log, StandardCharsets.UTF_8));
    }

    /** Whether a ListBuckets request gets an HTTP 200. */
    private boolean answers() {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(5000);
            s.getOutputStream()
                    .write(("GET / HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = s.getInputStream();
            byte[] head = in.readNBytes(12);
            return new String(head, StandardCharsets.ISO_8859_1).startsWith("HTTP/1.1 200");
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** Any key: S3Mock checks no credentials. */
    @Override
    public String accessKey() {
        return "s3mock-access";
    }

    /** Any secret: S3Mock checks no credentials. */
    @Override
    public String secretKey() {
        return "s3mock-secret";
    }

    /** None: the tests create their buckets (with or without Object Lock). */
    @Override
    public String bucket() {
        throw new UnsupportedOperationException("S3MockServer creates no bucket; create one with the S3 client");
    }

    /** The port its HTTP connector listens on. */
    public int port() {
        return port;
    }

    /** What the server printed, for a failing test's message. */
    public String log() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    /** One server for the test class that registers it; see {@link PerClass}. */
    public static PerClass perClass() {
        return new PerClass();
    }

    /**
     * A JUnit 5 extension ({@code @RegisterExtension static}) that starts one S3Mock before the class's tests, with
     * its objects in a temporary directory, and stops it and removes the directory after them.
     */
    public static final class PerClass extends PerClassServer<S3MockServer> {
        private PerClass() {
            super("S3Mock", "s3mock-");
        }

        @Override
        S3MockServer start(Path dir) throws Exception {
            return S3MockServer.start(dir);
        }
    }

    /** Stops the server. Idempotent. */
    @Override
    public synchronized void close() throws InterruptedException {
        if (closed) {
            return;
        }
        closed = true;
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public String toString() {
        return "S3MockServer{" + endpoint() + "}";
    }
}
