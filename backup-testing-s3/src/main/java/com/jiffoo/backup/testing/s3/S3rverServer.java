package com.jiffoo.backup.testing.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.StorageException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The npm package {@code s3rver} ({@value #VERSION}), an S3 server written independently of S3Proxy, run by node on
 * {@code 127.0.0.1} on a free port with its objects as files under a directory, for tests of the S3 and MinIO sinks
 * against a second implementation. It checks SigV4 signatures (access key and secret {@code S3RVER}) but does not
 * decode {@code aws-chunked} request bodies: it stores their framing as data, as some S3-compatible servers do.
 * It has no {@code ListMultipartUploads} and ignores {@code If-None-Match} on writes. Node runs with
 * {@code --openssl-legacy-provider}: s3rver's listing continuation tokens use DES, which OpenSSL 3 only has there.
 *
 * <p>It is installed with npm into {@link #home()} ({@code S3RVER_HOME}, else
 * {@code ~/.cache/jiffoo-backup/s3rver-VERSION}); {@code .ci/run} does that, and {@link #start(Path)} does it on
 * first use when npm is there. Tests call {@link #assumeAvailable()} first: they are skipped, with the reason, only
 * when node or npm is missing.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final S3rverServer.PerClass S3RVER = S3rverServer.perClass(); // skips the class without node/npm
 * ...
 * S3rverServer s3 = S3RVER.server();
 * URI endpoint = s3.endpoint();   // http://127.0.0.1:PORT, path-style
 * ... s3.accessKey(), s3.secretKey(), s3.bucket(), s3.storedFile(key)
 * }</pre>
 *
 * <p>The server stops when {@link #close()} is called or when this JVM's end closes its standard input. Thread-safe.
 */
public final class S3rverServer implements S3Endpoint, AutoCloseable {
    /** The s3rver version installed and run. */
    public static final String VERSION = "3.7.1";

    /** Starts the server from s3rver's library: exits when stdin ends (the JVM is gone), prints the bound port. */
    private static final String LAUNCHER = String.join(
            "\n",
            "const S3rver = require(process.argv[1]);",
            "const server = new S3rver({address: '127.0.0.1', port: 0, silent: true, directory: process.argv[2],",
            "  vhostBuckets: false, configureBuckets: [{name: process.argv[3], configs: []}]});",
            "server.run().then(a => console.log('S3RVER-PORT ' + a.port),",
            "  e => { console.error(String(e)); process.exit(1); });",
            "process.stdin.on('end', () => process.exit(0));",
            "process.stdin.resume();");

    private final Process process;
    private final Path dataDir;
    private final String bucket;
    private final URI endpoint;
    private boolean closed;

    private S3rverServer(Process process, Path dataDir, String bucket, int port) {
        this.process = process;
        this.dataDir = dataDir;
        this.bucket = bucket;
        this.endpoint = URI.create("http://127.0.0.1:" + port);
    }

    /** Where s3rver is installed: {@code S3RVER_HOME}, else {@code ~/.cache/jiffoo-backup/s3rver-VERSION}. */
    public static Path home() {
        String env = System.getenv("S3RVER_HOME");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("user.home"), ".cache", "jiffoo-backup", "s3rver-" + VERSION);
    }

    /** Why s3rver cannot run here (node or npm missing), or empty when it can. */
    public static Optional<String> unavailable() {
        if (Files.isRegularFile(library())) {
            return Processes.onPath("node")
                    ? Optional.empty()
                    : Optional.of("node is not installed (s3rver is in " + home()
                            + "); install nodejs (apt-get install nodejs) or run .ci/run");
        }
        if (!Processes.onPath("node") || !Processes.onPath("npm")) {
            return Optional.of("node and npm are needed to install and run s3rver " + VERSION
                    + " (the second S3 implementation); install them (apt-get install nodejs npm) or run .ci/run");
        }
        return Optional.empty();
    }

    /** Skips the calling test, naming what is missing, when s3rver cannot run here. */
    public static void assumeAvailable() {
        Optional<String> why = unavailable();
        Assumptions.assumeTrue(why.isEmpty(), () -> "skipped: " + why.orElse(""));
    }

    /**
     * Installs s3rver into {@link #home()} when it is not there yet (npm, under a file lock so concurrent test JVMs
     * install once), then starts it with its objects under {@code dataDir} and one bucket.
     *
     * @throws IllegalStateException when node or npm is missing, the install fails, or the server does not start
     */
    public static S3rverServer start(Path dataDir) throws IOException, InterruptedException {
        Objects.requireNonNull(dataDir, "dataDir");
        unavailable().ifPresent(why -> {
            throw new IllegalStateException(why);
        });
        install();
        Files.createDirectories(dataDir);
        String bucket = "jiffoo-s3rver-" + HexFormat.of().formatHex(Processes.randomBytes(4));
        ProcessBuilder pb = new ProcessBuilder(
                        "node",
                        "--openssl-legacy-provider",
                        "-e",
                        LAUNCHER,
                        library().getParent().getParent().toString(),
                        dataDir.toAbsolutePath().toString(),
                        bucket)
                .redirectErrorStream(true);
        Process p = pb.start();
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
        Thread watchdog = new Thread(
                () -> {
                    try {
                        if (!started.await(60, TimeUnit.SECONDS)) {
                            p.destroyForcibly(); // a server that never says its port ends the read below
                        }
                    } catch (InterruptedException ignored) {
                        // the JVM is ending
                    }
                },
                "s3rver-start-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        List<String> seen = new ArrayList<>();
        String line;
        while ((line = out.readLine()) != null) {
            if (line.startsWith("S3RVER-PORT ")) {
                started.countDown();
                int port =
                        Integer.parseInt(line.substring("S3RVER-PORT ".length()).trim());
                Thread drain = new Thread(() -> Processes.drain(out), "s3rver-output");
                drain.setDaemon(true);
                drain.start();
                return new S3rverServer(p, dataDir.toAbsolutePath(), bucket, port);
            }
            seen.add(line);
        }
        started.countDown();
        p.waitFor(10, TimeUnit.SECONDS);
        throw new IllegalStateException("s3rver did not start within 60 s (exit "
                + (p.isAlive() ? "none" : p.exitValue()) + "): " + String.join("\n", seen));
    }

    private static void install() throws IOException, InterruptedException {
        if (Files.isRegularFile(library())) {
            return;
        }
        Path home = home();
        Files.createDirectories(home);
        try (FileChannel lockFile = FileChannel.open(
                        home.resolve(".install.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock ignored = lockFile.lock()) {
            if (Files.isRegularFile(library())) {
                return;
            }
            Process npm = new ProcessBuilder(
                            "npm",
                            "install",
                            "--no-audit",
                            "--no-fund",
                            "--no-save",
                            "--loglevel=error",
                            "--prefix",
                            home.toString(),
                            "s3rver@" + VERSION)
                    .redirectErrorStream(true)
                    .start();
            String output = new String(npm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!npm.waitFor(5, TimeUnit.MINUTES) || npm.exitValue() != 0 || !Files.isRegularFile(library())) {
                npm.destroyForcibly();
                throw new IllegalStateException(
                        "npm could not install s3rver " + VERSION + " into " + home + ": " + output.strip());
            }
        }
    }

    /** s3rver's main module, {@code lib/s3rver.js}. */
    private static Path library() {
        return home().resolve("node_modules/s3rver/lib/s3rver.js");
    }

    /** The server's base URI, {@code http://127.0.0.1:PORT}; clients must use path-style access. */
    public URI endpoint() {
        return endpoint;
    }

    /** The access key id s3rver accepts. */
    public String accessKey() {
        return "S3RVER";
    }

    /** The secret key s3rver accepts (its documented default account: not a secret). */
    public String secretKey() {
        return "S3RVER";
    }

    /** The bucket created at start. */
    public String bucket() {
        return bucket;
    }

    /** The file in which s3rver keeps the object {@code key} of {@link #bucket()} (it may not exist). */
    public Path storedFile(String key) {
        return dataDir.resolve(bucket).resolve(key + "._S3rver_object");
    }

    /** The keys of the objects s3rver keeps on disk in {@link #bucket()} under {@code prefix}, sorted. */
    public List<String> storedKeys(String prefix) throws IOException {
        Path root = dataDir.resolve(bucket);
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (java.util.stream.Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile)
                    .map(f -> root.relativize(f).toString())
                    .filter(k -> k.endsWith("._S3rver_object"))
                    .map(k -> k.substring(0, k.length() - "._S3rver_object".length()))
                    .filter(k -> k.startsWith(prefix))
                    .sorted()
                    .toList();
        }
    }

    /**
     * Runs the referee {@code sha256sum -c} with {@code sidecar} (a {@code .sha256} file's bytes) on the file s3rver
     * keeps for {@code key}, copied under the name the sidecar gives, and returns its output.
     *
     * @throws AssertionError when sha256sum does not accept it
     */
    public String sha256sumCheck(String key, byte[] sidecar) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("sha256sum-check");
        try {
            String name = key.substring(key.lastIndexOf('/') + 1);
            Files.copy(storedFile(key), dir.resolve(name));
            Files.write(dir.resolve(name + ".sha256"), sidecar);
            Process p = new ProcessBuilder("sha256sum", "-c", name + ".sha256")
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError("sha256sum -c refused the stored " + key + ": " + out);
            }
            return out;
        } finally {
            com.jiffoo.backup.internal.LocalPaths.deleteTree(dir);
        }
    }

    /**
     * Checks, with the referees, a backup that {@code sink} (rooted at {@code prefix} in {@link #bucket()}) committed:
     * the file s3rver keeps for the data object has the manifest's size, and {@code sha256sum -c} accepts it with the
     * sidecar read from the store.
     *
     * @throws AssertionError when either does not hold
     */
    public void assertStoredAsCommitted(com.jiffoo.backup.Sink sink, String prefix, com.jiffoo.backup.BackupManifest m)
            throws IOException, InterruptedException {
        String key = prefix + "/" + m.objectKey();
        long size = Files.size(storedFile(key));
        if (size != m.objectSize()) {
            throw new AssertionError(
                    "s3rver keeps " + size + " bytes for " + key + ", the manifest says " + m.objectSize());
        }
        try (java.io.InputStream sidecar = sink.open(m.sha256Key())) {
            sha256sumCheck(key, sidecar.readAllBytes());
        }
    }

    /**
     * Runs {@code backup}, whose bodies reach this server in {@code aws-chunked} framing (which s3rver stores as
     * data), and checks the outcome every S3-like sink promises: the check after the upload fails the run with a
     * {@link StorageException} (exit code 4) whose message names the framing, the {@code size} sent,
     * {@code hints} (how to fix it with this sink) and that nothing was committed; and s3rver keeps no object under
     * {@code prefix} in {@link #bucket()}.
     *
     * @throws AssertionError when any of that does not hold
     */
    public void assertStoredFramingIsCaught(BackupPipeline backup, long size, String prefix, String... hints)
            throws IOException {
        StorageException e = assertThrows(StorageException.class, backup::run);
        assertEquals(ErrorCode.STORAGE, e.code());
        assertEquals(4, e.code().exitCode());
        List<String> expected = new ArrayList<>(List.of("aws-chunked", "but " + size + " were sent"));
        expected.addAll(List.of(hints));
        expected.add("Nothing was committed");
        for (String part : expected) {
            if (!e.getMessage().contains(part)) {
                throw new AssertionError("the message does not say \"" + part + "\": " + e.getMessage(), e);
            }
        }
        List<String> left = storedKeys(prefix + "/");
        if (!left.isEmpty()) {
            throw new AssertionError("s3rver keeps " + left + " under " + prefix + "/ after the failed run");
        }
    }

    /** One server for the test class that registers it; see {@link PerClass}. */
    public static PerClass perClass() {
        return new PerClass();
    }

    /**
     * A JUnit 5 extension ({@code @RegisterExtension static}) that starts one s3rver before the class's tests, with
     * its objects in a temporary directory, and stops it and removes the directory after them. The class is skipped,
     * with the reason, when node or npm is missing.
     */
    public static final class PerClass extends PerClassServer<S3rverServer> {
        private PerClass() {
            super("s3rver", "s3rver-");
        }

        @Override
        void assumeAvailable() {
            S3rverServer.assumeAvailable();
        }

        @Override
        S3rverServer start(Path dir) throws Exception {
            return S3rverServer.start(dir);
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
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public String toString() {
        return "S3rverServer{" + endpoint + ", bucket " + bucket + "}";
    }
}
