package com.jiffoo.backup.bench;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Shows that memory does not depend on backup size: backs up a generated stream of N GiB (default 2), encrypted
 * with OpenPGP (passphrase mode) into a local directory store, restores it through the full restore pipeline into
 * a target that hashes what it receives, and compares that hash with the generator's. Prints wall time, throughput,
 * the JVM's peak heap use and the process's peak RSS. Run it with a small heap to prove the point:
 *
 * <pre>
 * ./mvnw -q -B -ntp -DskipTests package -pl benchmarks -am
 * java -Xmx64m -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.BoundedMemoryRun 2 /var/tmp/bench
 * </pre>
 */
public final class BoundedMemoryRun {
    private static final double MIB = 1024.0 * 1024.0;

    private BoundedMemoryRun() {}

    public static void main(String[] args) throws Exception {
        double gib = args.length > 0 ? Double.parseDouble(args[0]) : 2;
        Path work = args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("jiffoo-bench-");
        Files.createDirectories(work);
        long size = (long) (gib * 1024 * 1024 * 1024);
        Path keyFile = work.resolve("bench.key");
        Files.deleteIfExists(keyFile);
        PassphraseKeyFile.generate(keyFile);
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
        Path storeDir = work.resolve("store");
        System.out.printf(
                "max heap %.0f MiB, %d CPUs, data %.2f GiB of incompressible bytes%n",
                Runtime.getRuntime().maxMemory() / MIB, Runtime.getRuntime().availableProcessors(), gib);

        try (LocalDirectorySink store = LocalDirectorySink.create(storeDir)) {
            Measure.backupAndRestore(store, pgp, size);
        } finally {
            try (Stream<Path> walk = Files.walk(work)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
