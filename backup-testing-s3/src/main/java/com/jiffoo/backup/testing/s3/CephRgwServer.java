package com.jiffoo.backup.testing.s3;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Ceph's RADOS Gateway (Debian's {@code radosgw}, Ceph 16), an S3 server that <em>enforces</em> Object Lock: a
 * locked object version cannot be deleted before its date (COMPLIANCE), or only with
 * {@code x-amz-bypass-governance-retention} (GOVERNANCE). It runs on a throwaway Ceph cluster on {@code 127.0.0.1}
 * made by {@code ceph-rgw.sh} (beside this class): one monitor, one OSD keeping objects in memory, no cephx, one
 * S3 user with random keys. Starting takes some 15 s.
 *
 * <p>Needs the Debian packages {@code radosgw ceph-mon ceph-osd ceph-common} ({@code .ci/run} installs them); tests
 * call {@link #assumeAvailable()} first and are skipped, with the reason, when they are missing.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final CephRgwServer.PerClass RGW = CephRgwServer.perClass(); // skips the class without the packages
 * ... RGW.server().endpoint(), accessKey(), secretKey()
 * }</pre>
 *
 * <p>The cluster stops, and its directory goes, when {@link #close()} is called or when this JVM's end closes the
 * script's standard input. Thread-safe.
 */
public final class CephRgwServer implements AutoCloseable {
    private static final List<String> TOOLS =
            List.of("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "ceph-authtool", "monmaptool");

    private final Process process;
    private final URI endpoint;
    private final String accessKey;
    private final String secretKey;
    private boolean closed;

    private CephRgwServer(Process process, int port, String accessKey, String secretKey) {
        this.process = process;
        this.endpoint = URI.create("http://127.0.0.1:" + port);
        this.accessKey = accessKey;
        this.secretKey = secretKey;
    }

    /** Why the gateway cannot run here (which programs are missing), or empty when it can. */
    public static Optional<String> unavailable() {
        List<String> missing = TOOLS.stream().filter(t -> !Processes.onPath(t)).toList();
        if (missing.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(String.join(", ", missing) + " not installed: Ceph's RADOS Gateway (the S3 server that"
                + " enforces Object Lock) needs apt-get install radosgw ceph-mon ceph-osd ceph-common, or run .ci/run");
    }

    /** Skips the calling test, naming what is missing, when the gateway cannot run here. */
    public static void assumeAvailable() {
        Optional<String> why = unavailable();
        Assumptions.assumeTrue(why.isEmpty(), () -> "skipped: " + why.orElse(""));
    }

    /**
     * Starts a cluster with its files under {@code dir} (which must not exist yet; removed at the end) and waits
     * until the gateway answers.
     *
     * @throws IllegalStateException when the programs are missing or the cluster does not start within 3 minutes
     */
    public static CephRgwServer start(Path dir) throws IOException, InterruptedException {
        unavailable().ifPresent(why -> {
            throw new IllegalStateException(why);
        });
        Path script = Files.createTempFile("ceph-rgw", ".sh");
        try (InputStream in = CephRgwServer.class.getResourceAsStream("ceph-rgw.sh")) {
            if (in == null) {
                throw new IllegalStateException("ceph-rgw.sh is missing beside CephRgwServer");
            }
            Files.write(script, in.readAllBytes());
        }
        String access =
                "JIFFOO" + HexFormat.of().formatHex(Processes.randomBytes(7)).toUpperCase(java.util.Locale.ROOT);
        String secret = HexFormat.of().formatHex(Processes.randomBytes(20));
        int monPort = Processes.freePort();
        int rgwPort = Processes.freePort();
        Process p = new ProcessBuilder(
                        "bash",
                        script.toString(),
                        dir.toAbsolutePath().toString(),
                        Integer.toString(monPort),
                        Integer.toString(rgwPort),
                        access,
                        secret)
                .redirectErrorStream(true)
                .start();
        CountDownLatch started = new CountDownLatch(1);
        Thread watchdog = new Thread(
                () -> {
                    try {
                        if (!started.await(3, TimeUnit.MINUTES)) {
                            p.getOutputStream().close(); // the script stops its daemons and ends
                        }
                    } catch (InterruptedException | IOException ignored) {
                        // the JVM is ending
                    }
                },
                "ceph-rgw-start-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            List<String> seen = new ArrayList<>();
            String line;
            while ((line = out.readLine()) != null) {
                if (line.equals("RGW-READY")) {
                    started.countDown();
                    Thread drain = new Thread(() -> Processes.drain(out), "ceph-rgw-output");
                    drain.setDaemon(true);
                    drain.start();
                    return new CephRgwServer(p, rgwPort, access, secret);
                }
                seen.add(line);
            }
            started.countDown();
            p.waitFor(30, TimeUnit.SECONDS);
            throw new IllegalStateException("the Ceph cluster for the RADOS Gateway did not start (exit "
                    + (p.isAlive() ? "none" : p.exitValue()) + "): " + String.join("\n", seen));
        } finally {
            Files.deleteIfExists(script); // bash has read it by the time it prints or ends
        }
    }

    /** The gateway's base URI, {@code http://127.0.0.1:PORT}; clients must use path-style access. */
    public URI endpoint() {
        return endpoint;
    }

    /** The S3 user's access key id (random per start). */
    public String accessKey() {
        return accessKey;
    }

    /** The S3 user's secret key (random per start). */
    public String secretKey() {
        return secretKey;
    }

    /** One cluster for the test class that registers it; see {@link PerClass}. */
    public static PerClass perClass() {
        return new PerClass();
    }

    /**
     * A JUnit 5 extension ({@code @RegisterExtension static}) that starts one cluster before the class's tests and
     * stops it after them. The class is skipped, with the reason, when the Ceph packages are missing.
     */
    public static final class PerClass extends PerClassServer<CephRgwServer> {
        private PerClass() {
            super("the RADOS Gateway", "ceph-rgw-");
        }

        @Override
        void assumeAvailable() {
            CephRgwServer.assumeAvailable();
        }

        @Override
        CephRgwServer start(Path dir) throws Exception {
            return CephRgwServer.start(dir.resolve("cluster"));
        }

        @Override
        void deleteDirectory(Path dir) throws Exception {
            Files.deleteIfExists(dir.resolve("cluster")); // the script removed what was in it
            Files.deleteIfExists(dir);
        }
    }

    /** Stops the cluster (the script kills its daemons and removes its directory). Idempotent. */
    @Override
    public synchronized void close() throws InterruptedException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // the script already ended
        }
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public String toString() {
        return "CephRgwServer{" + endpoint + "}";
    }
}
