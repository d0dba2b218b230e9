package com.jiffoo.backup.bench;

import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.s3.S3Sink;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * Upload throughput and peak heap of a backup to S3: a generated stream of N GiB (default 2), OpenPGP-encrypted
 * (passphrase mode), through {@link BackupPipeline} into an {@link S3Sink} on an in-process S3Proxy whose blob store
 * is a directory (default under /var/tmp), at a given part size; then a restore through {@link RestorePipeline}
 * into a target that hashes the plaintext, compared with the generator's hash. Heap figures include S3Proxy's own,
 * since it runs in the same JVM.
 *
 * <pre>
 * ./mvnw -q -B -ntp -DskipTests package -pl benchmarks -am
 * java -Xmx128m -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.S3BackupRun 2 8 /var/tmp/jiffoo-s3-bench
 * java -Xmx128m -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.S3BackupRun 2 32 /var/tmp/jiffoo-s3-bench
 * </pre>
 *
 * With {@code -Ds3=endpoint,accessKey,secretKey,bucket} it uses an S3Proxy in another JVM ({@link S3ProxyServe})
 * instead, so the heap figures are the backup side's alone.
 *
 * <p>Arguments: GiB of data, part size in MiB, work directory, parts in flight (default 4), SDK request checksums
 * ({@code true} by default, see {@link S3Sink.Builder#requestChecksums}).
 */
public final class S3BackupRun {
    private static final double MIB = 1024.0 * 1024.0;

    private S3BackupRun() {}

    /** Runs the measurement; see the class comment for the arguments. */
    public static void main(String[] args) throws Exception {
        double gib = args.length > 0 ? Double.parseDouble(args[0]) : 2;
        long partMiB = args.length > 1 ? Long.parseLong(args[1]) : 8;
        Path work = Path.of(args.length > 2 ? args[2] : "/var/tmp/jiffoo-s3-bench");
        int inFlight = args.length > 3 ? Integer.parseInt(args[3]) : S3Sink.DEFAULT_PARTS_IN_FLIGHT;
        boolean checksums = args.length <= 4 || Boolean.parseBoolean(args[4]);
        long size = (long) (gib * 1024 * 1024 * 1024);
        Files.createDirectories(work);
        Path keyFile = work.resolve("bench.key");
        Files.deleteIfExists(keyFile);
        PassphraseKeyFile.generate(keyFile);
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
        System.out.printf(
                "max heap %.0f MiB, %d CPUs, data %.2f GiB, part size %d MiB, %d parts in flight, "
                        + "SDK checksums %s%n",
                Runtime.getRuntime().maxMemory() / MIB,
                Runtime.getRuntime().availableProcessors(),
                gib,
                partMiB,
                inFlight,
                checksums ? "on" : "off");
        // -Ds3=endpoint,accessKey,secretKey,bucket uses a server in another JVM (S3ProxyServe), so this heap
        // holds only the backup side; without it an S3Proxy runs in this JVM
        String[] ext = System.getProperty("s3", "").isEmpty()
                ? null
                : System.getProperty("s3").split(",");
        try (S3ProxyServer server = ext != null ? null : S3ProxyServer.startFilesystem(work.resolve("blobs"));
                S3Sink sink = S3Sink.builder()
                        .uri("s3://" + (ext != null ? ext[3] : server.bucket()) + "/bench")
                        .endpointOverride(java.net.URI.create(
                                ext != null ? ext[0] : server.endpoint().toString()))
                        .pathStyleAccess(true)
                        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(
                                ext != null ? ext[1] : server.accessKey(), ext != null ? ext[2] : server.secretKey())))
                        .partSize(partMiB << 20)
                        .partsInFlight(inFlight)
                        .requestChecksums(checksums)
                        .build()) {
            Measure.backupAndRestore(sink, pgp, size);
            System.out.printf(
                    "open multipart uploads: %d%n",
                    server == null ? -1 : server.openMultipartUploads().size());
        } finally {
            try (Stream<Path> walk = Files.walk(work)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
