package com.jiffoo.backup.bench;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.Transform;
import com.jiffoo.backup.internal.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Map;

/** What the end-to-end harnesses measure the same way: heap-pool peaks, the process's peak RSS, a hashing target. */
final class Measure {
    private static final double MIB = 1024.0 * 1024.0;

    private Measure() {}

    static void resetPeaks() {
        System.gc();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
    }

    static void report(String what, long bytes, long nanos) {
        long peakHeap = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peakHeap += pool.getPeakUsage().getUsed();
            }
        }
        double secs = nanos / 1e9;
        System.out.printf(
                "%s %.1f s, %.1f MiB/s, peak heap used %.1f MiB (sum of pool peaks)%n",
                what, secs, bytes / MIB / secs, peakHeap / MIB);
    }

    static String vmHwm() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return line.substring(6).trim();
                }
            }
        } catch (IOException e) {
            return "unknown (" + e + ")";
        }
        return "unknown";
    }

    /** Hashes the plaintext it receives and keeps nothing. */
    static final class HashingTarget implements RestoreTarget {
        volatile String sha256;
        volatile long bytes;

        @Override
        public String describe() {
            return "hashing target";
        }

        @Override
        public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
            MessageDigest d = Sha256.newDigest();
            byte[] buf = new byte[1 << 16];
            long total = 0;
            int n;
            while ((n = plaintext.read(buf)) >= 0) {
                d.update(buf, 0, n);
                total += n;
            }
            String hex = Sha256.hex(d.digest());
            long count = total;
            return new StagedRestore() {
                @Override
                public Map<String, Object> facts() {
                    return Map.of("bytes", count);
                }

                @Override
                public void commit() {
                    sha256 = hex;
                    bytes = count;
                }

                @Override
                public void close() {}
            };
        }
    }

    /**
     * Backs up a generated stream of {@code size} bytes into {@code sink} and restores it into a hashing target,
     * reporting time and heap of each, and whether the restored bytes hash like the generator's.
     *
     * @return the backup's manifest, or exits the JVM with status 1 when the hashes differ
     */
    static BackupManifest backupAndRestore(Sink sink, Transform encryption, long size) throws IOException {
        com.jiffoo.backup.testutil.GeneratedSource source =
                new com.jiffoo.backup.testutil.GeneratedSource("bench", size, 20260111L);
        resetPeaks();
        long t0 = System.nanoTime();
        BackupManifest m = BackupPipeline.builder()
                .source(source)
                .encryption(encryption)
                .sink(sink)
                .build()
                .run();
        report("backup ", size, System.nanoTime() - t0);

        HashingTarget target = new HashingTarget();
        resetPeaks();
        t0 = System.nanoTime();
        RestorePipeline.builder()
                .sink(sink)
                .decryption(encryption)
                .target(target)
                .build()
                .restore(m.objectKey());
        report("restore", size, System.nanoTime() - t0);

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
        System.out.printf(
                "stored %d bytes; restored %d bytes, sha256 %s; generator's sha256 %s -> %s%n",
                m.objectSize(),
                target.bytes,
                target.sha256,
                expected,
                expected.equals(target.sha256) ? "MATCH" : "MISMATCH");
        System.out.printf("peak RSS of the process: %s%n", vmHwm());
        if (!expected.equals(target.sha256)) {
            System.exit(1);
        }
        return m;
    }
}
