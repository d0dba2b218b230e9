package com.jiffoo.backup.bench;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.Compression;
import com.jiffoo.backup.files.DirectoryRestoreTarget;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * A file-tree backup end to end, against the source alone and the runbook's shell pipeline, on a generated tree of
 * mixed content (half compressible text, half incompressible "images"). The variants of one round run one after the
 * other (A B C ..., the starting variant rotating from round to round), so that load from other processes on a
 * shared machine falls on all of them alike; the summary gives each variant's median and range, and its speed
 * relative to the shell pipeline of the same round.
 * <ol>
 *   <li>{@code tar czf - DIR | gpg --symmetric --cipher-algo AES256 > f; sha256sum f}, the runbook's way;</li>
 *   <li>for each gzip thread count: {@code DirectorySource} to /dev/null (tar + gzip only; not with
 *       {@code -Dalone=false}), and our backup
 *       (tar + gzip, then OpenPGP + SHA-256 + local store on another thread);</li>
 *   <li>the same for zstd (level 3);</li>
 *   <li>after the rounds, once: our restore of the last gzip and zstd backups into a new directory.</li>
 * </ol>
 *
 * <pre>
 * java -Xmx64m [-Drounds=5] [-Dthreads=1,2] [-Dzstd=true] [-Dalone=true] -cp benchmarks/target/benchmarks.jar \
 *      com.jiffoo.backup.bench.FilesBackupRun 512 /var/tmp/bench
 * </pre>
 * A first round (warm-up: JIT, page cache) runs every variant and is not counted.
 */
public final class FilesBackupRun {
    private static final String[] WORDS = ("order customer product price shipping invoice payment refund cart "
                    + "discount coupon address warehouse stock category review rating image thumbnail session token user "
                    + "account email phone status pending paid shipped delivered cancelled currency amount tax total")
            .split(" ");
    private static final String SHELL = "shell: tar czf | gpg --symmetric; sha256sum";

    private FilesBackupRun() {}

    public static void main(String[] args) throws Exception {
        long mib = args.length > 0 ? Long.parseLong(args[0]) : 512;
        Path work = Files.createDirectories(Path.of(args.length > 1 ? args[1] : "/var/tmp/jiffoo-files-bench"));
        int rounds = Integer.getInteger("rounds", 5);
        List<Integer> threads = Arrays.stream(System.getProperty(
                                "threads", "1," + Runtime.getRuntime().availableProcessors())
                        .split(","))
                .map(String::trim)
                .map(Integer::valueOf)
                .distinct()
                .toList();
        boolean zstd = Boolean.parseBoolean(System.getProperty("zstd", "true"));
        boolean alone = Boolean.parseBoolean(System.getProperty("alone", "true"));
        Path tree = work.resolve("tree");
        Path storeDir = work.resolve("store");
        try {
            generateTree(tree, mib * 1024 * 1024);
            Path keyFile = work.resolve("k.key");
            Files.deleteIfExists(keyFile);
            PassphraseKeyFile.generate(keyFile);
            OpenPgpTransform pgp = OpenPgpTransform.builder()
                    .passphrase(PassphraseKeyFile.read(keyFile))
                    .build();
            Path gnupg = Files.createDirectories(work.resolve("gnupg"));
            System.out.printf(
                    "tree of %d MiB (half text, half random), %d CPUs, %d rounds + 1 warm-up, " + "gzip threads %s%n",
                    mib, Runtime.getRuntime().availableProcessors(), rounds, threads);

            Map<String, BackupManifest> lastBackup = new LinkedHashMap<>();
            Map<String, Long> sizes = new LinkedHashMap<>();
            Map<String, Callable<Long>> variants = new LinkedHashMap<>();
            variants.put(SHELL, () -> {
                Path out = work.resolve("shell.tar.gz.gpg");
                sh("tar czf - -C '" + tree + "' . | gpg --homedir '" + gnupg + "' --batch --pinentry-mode loopback"
                        + " --passphrase-file '" + keyFile + "' --symmetric --cipher-algo AES256 > '" + out
                        + "' && sha256sum '" + out + "' > /dev/null");
                long size = Files.size(out);
                Files.delete(out);
                return size;
            });
            List<DirectorySource> sources = new ArrayList<>();
            for (int t : threads) {
                sources.add(DirectorySource.builder(tree).compressionThreads(t).build());
            }
            if (zstd) {
                sources.add(DirectorySource.builder(tree)
                        .compression(Compression.ZSTD)
                        .build());
            }
            for (DirectorySource source : sources) {
                String name =
                        source.compression() == Compression.GZIP ? "gzip-6 x" + source.compressionThreads() : "zstd-3";
                if (alone) {
                    variants.put(name + " source alone", () -> {
                        CountingOutputStream out = new CountingOutputStream();
                        source.writeTo(out);
                        return out.count;
                    });
                }
                variants.put(name + " our backup", () -> {
                    try (LocalDirectorySink store = LocalDirectorySink.create(storeDir)) {
                        BackupManifest m = BackupPipeline.builder()
                                .source(source)
                                .encryption(pgp)
                                .sink(store)
                                .naming((s, at) -> s.baseName() + "_" + System.nanoTime())
                                .build()
                                .run();
                        BackupManifest previous = lastBackup.put(name, m);
                        if (previous != null) {
                            store.delete(previous.objectKey());
                        }
                        return m.objectSize();
                    }
                });
            }

            List<String> names = new ArrayList<>(variants.keySet());
            Map<String, List<Double>> seconds = new LinkedHashMap<>();
            names.forEach(n -> seconds.put(n, new ArrayList<>()));
            for (int round = 0; round <= rounds; round++) {
                for (int i = 0; i < names.size(); i++) {
                    String name = names.get((i + round) % names.size());
                    long t = System.nanoTime();
                    long size = variants.get(name).call();
                    double s = (System.nanoTime() - t) / 1e9;
                    System.out.printf(
                            "round %d%s  %-44s %6.2f s %7.1f MiB/s  out %,d bytes%n",
                            round, round == 0 ? " (warm-up)" : "", name, s, mib / s, size);
                    if (round > 0) {
                        seconds.get(name).add(s);
                    }
                    sizes.put(name, size);
                }
            }
            summary(mib, names, seconds, sizes);

            try (LocalDirectorySink store = LocalDirectorySink.create(storeDir)) {
                for (Map.Entry<String, BackupManifest> e : lastBackup.entrySet()) {
                    long t = System.nanoTime();
                    RestorePipeline.builder()
                            .sink(store)
                            .decryption(pgp)
                            .target(DirectoryRestoreTarget.builder(work.resolve("restored"))
                                    .replaceExisting(true)
                                    .build())
                            .build()
                            .restore(e.getValue().objectKey());
                    double s = (System.nanoTime() - t) / 1e9;
                    System.out.printf("%-44s %6.2f s %7.1f MiB/s%n", e.getKey() + " our restore", s, mib / s);
                }
            }
        } finally {
            delete(storeDir);
            delete(work.resolve("restored"));
            delete(tree);
        }
    }

    /** Per variant: median time and speed, the range of speeds, and the median and range of shell/variant. */
    private static void summary(
            long mib, List<String> names, Map<String, List<Double>> seconds, Map<String, Long> sizes) {
        List<Double> shell = seconds.get(SHELL);
        System.out.printf(
                "%n%-44s %8s %9s %17s %7s %15s %14s%n",
                "variant", "median", "MiB/s", "MiB/s min-max", "x shell", "x shell min-max", "output bytes");
        for (String name : names) {
            List<Double> s = seconds.get(name);
            List<Double> ratios = new ArrayList<>();
            for (int i = 0; i < s.size(); i++) {
                ratios.add(shell.get(i) / s.get(i));
            }
            System.out.printf(
                    "%-44s %7.2fs %9.1f %8.1f-%-8.1f %6.2fx %7.2f-%-7.2f %,14d%n",
                    name,
                    median(s),
                    mib / median(s),
                    mib / Collections.max(s),
                    mib / Collections.min(s),
                    median(ratios),
                    Collections.min(ratios),
                    Collections.max(ratios),
                    sizes.get(name));
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** Counts and drops what it is given. */
    private static final class CountingOutputStream extends OutputStream {
        long count;

        @Override
        public void write(int b) {
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            count += len;
        }
    }

    private static void generateTree(Path tree, long bytes) throws IOException {
        delete(tree);
        SplittableRandom random = new SplittableRandom(42);
        long written = 0;
        int i = 0;
        while (written < bytes) {
            Path dir = Files.createDirectories(tree.resolve("d" + (i % 16)).resolve("sub" + (i % 7)));
            long size = 64 * 1024 + random.nextLong(4 * 1024 * 1024);
            try (OutputStream out = new BufferedOutputStream(
                    Files.newOutputStream(dir.resolve("f" + i + (i % 2 == 0 ? ".txt" : ".jpg"))), 1 << 16)) {
                if (i % 2 == 0) {
                    StringBuilder sb = new StringBuilder();
                    for (long n = 0; n < size; ) {
                        sb.setLength(0);
                        for (int w = 0; w < 12; w++) {
                            sb.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
                        }
                        sb.append(random.nextInt(1_000_000)).append('\n');
                        byte[] line = sb.toString().getBytes(StandardCharsets.UTF_8);
                        out.write(line);
                        n += line.length;
                    }
                } else {
                    byte[] buf = new byte[1 << 16];
                    for (long n = 0; n < size; n += buf.length) {
                        random.nextBytes(buf);
                        out.write(buf);
                    }
                }
            }
            written += Files.size(dir.resolve("f" + i + (i % 2 == 0 ? ".txt" : ".jpg")));
            i++;
        }
    }

    private static void sh(String script) throws Exception {
        Process p = new ProcessBuilder("bash", "-c", "set -o pipefail; " + script)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("failed: " + script);
        }
    }

    private static void delete(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
