package com.jiffoo.backup.bench;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.internal.Sha256;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Shows that memory does not depend on backup size: backs up a generated stream of N GiB (default 2), encrypted
 * with OpenPGP (passphrase mode) into a local directory store, restores it through the full restore pipeline into
 * a target that hashes what it receives, and compares that hash with the generator's. Prints wall time, throughput,
 * the JVM's peak heap use and the process's peak RSS. Run it with a small heap to prove the point:
 *
 * <pre>
 * mvn -q -B -ntp -DskipTests package -pl benchmarks -am
 * java -Xmx64m -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.BoundedMemoryRun 2 /var/tmp/bench
 * </pre>
 */
public final class BoundedMemoryRun {
    private static final double MIB = 1024.0 * 1024.0;

    private BoundedMemoryRun() {
    }

    public static void main(String[] args) throws Exception {
        double gib = args.length > 0 ? Double.parseDouble(args[0]) : 2;
        Path work = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("jiffoo-bench-");
        Files.createDirectories(work);
        long size = (long) (gib * 1024 * 1024 * 1024);
        Path keyFile = work.resolve("bench.key");
        Files.deleteIfExists(keyFile);
        PassphraseKeyFile.generate(keyFile);
        OpenPgpTransform pgp = OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(keyFile)).build();
        Path storeDir = work.resolve("store");
        System.out.printf("max heap %.0f MiB, %d CPUs, data %.2f GiB of incompressible bytes%n",
                Runtime.getRuntime().maxMemory() / MIB, Runtime.getRuntime().availableProcessors(), gib);

        try (LocalDirectorySink store = LocalDirectorySink.create(storeDir)) {
            GeneratedSource source = new GeneratedSource("bench", size, 20260111L);
            Measure.resetPeaks();
            long t0 = System.nanoTime();
            BackupManifest m = BackupPipeline.builder().source(source).encryption(pgp).sink(store).build().run();
            Measure.report("backup ", size, System.nanoTime() - t0);

            Measure.HashingTarget target = new Measure.HashingTarget();
            Measure.resetPeaks();
            t0 = System.nanoTime();
            RestorePipeline.builder().sink(store).decryption(pgp).target(target).build().restore(m.objectKey());
            Measure.report("restore", size, System.nanoTime() - t0);

            String expected;
            try (InputStream in = source.stream()) {
                MessageDigest d = Sha256.newDigest();
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0) {
                    d.update(buf, 0, n);
                }
                expected = Sha256.hex(d.digest());
            }
            System.out.printf("stored %d bytes; restored %d bytes, sha256 %s; generator's sha256 %s -> %s%n",
                    m.objectSize(), target.bytes, target.sha256, expected,
                    expected.equals(target.sha256) ? "MATCH" : "MISMATCH");
            System.out.printf("peak RSS of the process: %s%n", Measure.vmHwm());
            if (!expected.equals(target.sha256)) {
                System.exit(1);
            }
        } finally {
            try (Stream<Path> walk = Files.walk(work)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
