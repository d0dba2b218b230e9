package com.jiffoo.backup.bench;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.testutil.GeneratedSource;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Throughput of the OpenPGP stage alone, one core, file to file (page cache), against the {@code gpg} CLI
 * ({@code --symmetric --cipher-algo AES256 -z 0}: the runbook's pipeline minus compression) and against the
 * {@link BcJceBaseline} (the same message through Bouncy Castle's JCE operators, as before our own AES-CFB). The
 * compared runs are interleaved, ours, baseline and gpg in turn, the order reversed every round, so that load from
 * other processes falls on all of them alike; a first round warms the JIT and the page cache and is not counted.
 * Encryption also runs to {@code /dev/null}, which leaves out the cost of writing the file (page cache, writeback).
 * Each step is timed by the wall clock and by CPU time (this thread's, or gpg's from the kernel's children
 * accounting), and the summary gives the median and range per step and of the ratio ours / gpg per round.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.CryptoThroughput 1024 /var/tmp/bench 5
 * </pre>
 * Arguments: MiB of generated incompressible data (1024), work directory, counted rounds (5).
 */
public final class CryptoThroughput {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /** Linux's USER_HZ, the unit of the children CPU times in /proc/self/stat. */
    private static final double CLOCK_TICKS = 100;

    private final long mib;
    private final Path work;
    private final Path keyFile;
    private final OpenPgpTransform pgp;
    private final char[] passphrase;
    private final Map<String, List<double[]>> results = new LinkedHashMap<>();

    private CryptoThroughput(long mib, Path work) throws IOException {
        this.mib = mib;
        this.work = work;
        this.keyFile = work.resolve("k.key");
        Files.deleteIfExists(keyFile);
        PassphraseKeyFile.generate(keyFile);
        this.pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
        this.passphrase = PassphraseKeyFile.read(keyFile).passphrase();
    }

    public static void main(String[] args) throws Exception {
        long mib = args.length > 0 ? Long.parseLong(args[0]) : 1024;
        Path work = Files.createDirectories(Path.of(args.length > 1 ? args[1] : "/var/tmp/jiffoo-crypto-bench"));
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        new CryptoThroughput(mib, work).run(rounds);
    }

    private void run(int rounds) throws Exception {
        Path plain = work.resolve("plain.bin");
        try {
            try (InputStream in = GeneratedSource.stream(mib << 20, 1);
                    OutputStream out = Files.newOutputStream(plain)) {
                in.transferTo(out);
            }
            Files.createDirectories(work.resolve("gnupg"));
            List<Step> encrypt = List.of(
                    new Step("encrypt, ours", () -> encryptOurs(plain, work.resolve("ours.gpg"))),
                    new Step("encrypt, baseline (BC JCE)", () -> encryptBaseline(plain, work.resolve("base.gpg"))),
                    new Step(
                            "encrypt, gpg",
                            () -> gpg(
                                    "--symmetric",
                                    "--cipher-algo",
                                    "AES256",
                                    "-z",
                                    "0",
                                    "-o",
                                    work.resolve("gpg.gpg").toString(),
                                    plain.toString())),
                    new Step("encrypt to /dev/null, ours", () -> encryptOurs(plain, Path.of("/dev/null"))),
                    new Step(
                            "encrypt to /dev/null, gpg",
                            () -> gpg(
                                    "--symmetric",
                                    "--cipher-algo",
                                    "AES256",
                                    "-z",
                                    "0",
                                    "-o",
                                    "/dev/null",
                                    plain.toString())));
            List<Step> decrypt = List.of(
                    new Step("decrypt ours.gpg, ours", () -> decryptOurs(work.resolve("ours.gpg"))),
                    new Step("decrypt ours.gpg, baseline (BC JCE)", () -> decryptBaseline(work.resolve("ours.gpg"))),
                    new Step(
                            "decrypt ours.gpg, gpg -d",
                            () -> gpg(
                                    "-o",
                                    "/dev/null",
                                    "-d",
                                    work.resolve("ours.gpg").toString())),
                    new Step("decrypt gpg.gpg, ours", () -> decryptOurs(work.resolve("gpg.gpg"))));
            for (int round = 0; round <= rounds; round++) {
                System.out.printf(Locale.ROOT, "-- round %d%s, %d MiB%n", round, round == 0 ? " (warm-up)" : "", mib);
                for (List<Step> steps : List.of(encrypt, decrypt)) {
                    List<Step> order = new ArrayList<>(steps);
                    if (round % 2 == 0) {
                        Collections.reverse(order);
                    }
                    for (Step s : order) {
                        double[] t = s.time();
                        System.out.printf(
                                Locale.ROOT,
                                "%-38s %6.2f s wall %7.1f MiB/s   %6.2f s cpu %7.1f MiB/s%n",
                                s.name,
                                t[0],
                                mib / t[0],
                                t[1],
                                mib / t[1]);
                        if (round > 0) {
                            results.computeIfAbsent(s.name, k -> new ArrayList<>())
                                    .add(t);
                        }
                    }
                }
            }
            summary();
        } finally {
            for (String f : new String[] {"plain.bin", "ours.gpg", "base.gpg", "gpg.gpg"}) {
                Files.deleteIfExists(work.resolve(f));
            }
        }
    }

    private void summary() {
        System.out.printf(
                Locale.ROOT,
                "-- summary over %d rounds: median [min - max] MiB/s%n",
                results.values().iterator().next().size());
        for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
            System.out.printf(
                    Locale.ROOT,
                    "%-38s wall %s   cpu %s%n",
                    e.getKey(),
                    stats(e.getValue(), 0, null),
                    stats(e.getValue(), 1, null));
        }
        ratio("encrypt, ours", "encrypt, gpg");
        ratio("encrypt to /dev/null, ours", "encrypt to /dev/null, gpg");
        ratio("encrypt, baseline (BC JCE)", "encrypt, gpg");
        ratio("decrypt ours.gpg, ours", "decrypt ours.gpg, baseline (BC JCE)");
    }

    /** The per-round ratio of the throughputs of {@code a} and {@code b}. */
    private void ratio(String a, String b) {
        List<double[]> x = results.get(a);
        List<double[]> y = results.get(b);
        System.out.printf(Locale.ROOT, "ratio %s / %s: wall %s   cpu %s%n", a, b, stats(x, 0, y), stats(x, 1, y));
    }

    /** Median [min - max] of {@code mib / t[i]}, or of the ratio to {@code over}'s throughput in the same round. */
    private String stats(List<double[]> times, int i, List<double[]> over) {
        double[] v = new double[times.size()];
        for (int r = 0; r < v.length; r++) {
            v[r] = over == null ? mib / times.get(r)[i] : over.get(r)[i] / times.get(r)[i];
        }
        Arrays.sort(v);
        double median = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        String f = over == null ? "%.1f [%.1f - %.1f]" : "%.2f [%.2f - %.2f]";
        return String.format(Locale.ROOT, f, median, v[0], v[v.length - 1]);
    }

    private void encryptOurs(Path in, Path out) throws IOException {
        try (InputStream src = Files.newInputStream(in);
                OutputStream enc = pgp.encode(new BufferedOutputStream(Files.newOutputStream(out), 1 << 16))) {
            src.transferTo(enc);
        }
    }

    private void encryptBaseline(Path in, Path out) throws IOException {
        try (InputStream src = Files.newInputStream(in);
                OutputStream enc = BcJceBaseline.encrypt(
                        new BufferedOutputStream(Files.newOutputStream(out), 1 << 16), passphrase)) {
            src.transferTo(enc);
        }
    }

    private void decryptOurs(Path in) throws IOException {
        try (InputStream dec = pgp.decode(Files.newInputStream(in))) {
            dec.transferTo(OutputStream.nullOutputStream());
        }
    }

    private void decryptBaseline(Path in) throws IOException {
        try (InputStream raw = Files.newInputStream(in);
                InputStream dec = BcJceBaseline.decrypt(raw, passphrase)) {
            dec.transferTo(OutputStream.nullOutputStream());
        }
    }

    private void gpg(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                "gpg",
                "--homedir",
                work.resolve("gnupg").toString(),
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase-file",
                keyFile.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("failed: " + cmd);
        }
    }

    /** The CPU seconds of this process's waited-for children (utime + stime), from /proc/self/stat. */
    private static double childrenCpuSeconds() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / CLOCK_TICKS; // fields 16 and 17 of stat
    }

    /** Something to time. */
    private interface Action {
        void run() throws Exception;
    }

    /** A named action; {@link #time()} gives wall and CPU seconds. */
    private record Step(String name, Action action) {
        double[] time() throws Exception {
            double children = childrenCpuSeconds();
            long cpu = THREADS.getCurrentThreadCpuTime();
            long wall = System.nanoTime();
            action.run();
            double wallS = (System.nanoTime() - wall) / 1e9;
            double cpuS = (THREADS.getCurrentThreadCpuTime() - cpu) / 1e9 + childrenCpuSeconds() - children;
            return new double[] {wallS, cpuS};
        }
    }
}
