package com.jiffoo.backup.bench;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.Compression;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PostgresRestoreTarget;
import com.jiffoo.backup.postgres.PostgresSource;
import com.jiffoo.backup.s3.S3Sink;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;
import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.GcInfo;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * One operation per JVM, for {@code benchmarks/run-all.sh}: the script wraps each call in {@code /usr/bin/time}
 * (wall, CPU, peak RSS of the whole process, JVM start included, as for the other tools in the table) and reads the
 * last line this prints:
 * <pre>RESULT op_seconds=12.34 peak_heap_mib=41.0 live_heap_mib=6.2 out_bytes=123 key=database/db_backup_...</pre>
 * {@code peak_heap_mib} is the largest heap use seen just before a collection (or at the end, if larger): the true
 * peak of heap used, up to allocations that never triggered a collection. {@code live_heap_mib} is the largest heap
 * use just after a collection: what the run really kept.
 *
 * <pre>
 * CompareRun tree DIR MIB                                   generate the mixed file tree (reused when present)
 * CompareRun db-backup DB LEVEL STORE KEYFILE               PostgresSource -Z LEVEL + OpenPGP + LocalDirectorySink
 * CompareRun db-backup-s3 DB LEVEL ENDPOINT,ACCESS,SECRET,BUCKET KEYFILE       ... into S3Sink (S3ProxyServe)
 * CompareRun files-backup DIR gzip|zstd STORE KEYFILE       DirectorySource + OpenPGP + LocalDirectorySink
 * CompareRun db-restore STORE OBJECT_KEY NEWDB JOBS KEYFILE SPOOLDIR    RestorePipeline into a new database
 * CompareRun generated-backup MIB STORE KEYFILE             a generated incompressible stream (memory rows)
 * </pre>
 * The PostgreSQL server comes from the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD).
 */
public final class CompareRun {
    private static final double MIB = 1024.0 * 1024.0;
    private static final AtomicLong PEAK = new AtomicLong();
    private static final AtomicLong LIVE = new AtomicLong();

    private CompareRun() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        String op = args[0];
        if (op.equals("tree")) {
            need(args, 3);
            tree(Path.of(args[1]), Long.parseLong(args[2]));
            return;
        }
        watchHeap();
        long t0 = System.nanoTime();
        BackupManifest m = null;
        switch (op) {
            case "db-backup" -> {
                need(args, 5);
                try (LocalDirectorySink store = LocalDirectorySink.create(Path.of(args[3]))) {
                    m = dbBackup(args[1], Integer.parseInt(args[2]), store, Path.of(args[4]));
                }
            }
            case "db-backup-s3" -> {
                need(args, 5);
                String[] s3 = args[3].split(",");
                try (S3Sink sink = S3Sink.builder()
                        .uri("s3://" + s3[3] + "/bench")
                        .endpointOverride(URI.create(s3[0]))
                        .pathStyleAccess(true)
                        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(s3[1], s3[2])))
                        .build()) {
                    m = dbBackup(args[1], Integer.parseInt(args[2]), sink, Path.of(args[4]));
                }
            }
            case "files-backup" -> {
                need(args, 5);
                Compression c = switch (args[2]) {
                    case "gzip" -> Compression.GZIP;
                    case "zstd" -> Compression.ZSTD;
                    default -> throw new IllegalArgumentException("gzip or zstd, not " + args[2]);
                };
                try (LocalDirectorySink store = LocalDirectorySink.create(Path.of(args[3]))) {
                    m = BackupPipeline.builder()
                            .source(DirectorySource.builder(Path.of(args[1]))
                                    .compression(c)
                                    .build())
                            .encryption(pgp(Path.of(args[4])))
                            .sink(store)
                            .build()
                            .run();
                }
            }
            case "db-restore" -> {
                need(args, 7);
                PgConnection server = PgConnection.fromEnvironment().withDatabase("postgres");
                try (LocalDirectorySink store = LocalDirectorySink.create(Path.of(args[1]))) {
                    RestorePipeline.builder()
                            .sink(store)
                            .decryption(pgp(Path.of(args[5])))
                            .target(PostgresRestoreTarget.newDatabaseBuilder(server, args[3])
                                    .jobs(Integer.parseInt(args[4]))
                                    .spoolDirectory(Path.of(args[6]))
                                    .build())
                            .build()
                            .restore(args[2]);
                }
            }
            case "generated-backup" -> {
                need(args, 4);
                long size = Long.parseLong(args[1]) << 20;
                try (LocalDirectorySink store = LocalDirectorySink.create(Path.of(args[2]))) {
                    m = BackupPipeline.builder()
                            .source(new GeneratedSource("bench", size, 20260111L))
                            .encryption(pgp(Path.of(args[3])))
                            .sink(store)
                            .build()
                            .run();
                }
            }
            default -> usage();
        }
        long nanos = System.nanoTime() - t0;
        Thread.sleep(200); // GC notifications arrive on a service thread
        long now = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        PEAK.accumulateAndGet(now, Math::max);
        System.out.printf(
                Locale.ROOT,
                "RESULT op_seconds=%.3f peak_heap_mib=%.1f live_heap_mib=%.1f out_bytes=%d"
                        + " key=%s max_heap_mib=%.0f%n",
                nanos / 1e9,
                PEAK.get() / MIB,
                LIVE.get() / MIB,
                m == null ? -1 : m.objectSize(),
                m == null ? "-" : m.objectKey(),
                Runtime.getRuntime().maxMemory() / MIB);
    }

    private static BackupManifest dbBackup(String db, int level, Sink sink, Path keyFile) {
        PgConnection source = PgConnection.fromEnvironment().withDatabase(db);
        // -Djb.rowCounts=ESTIMATE|NONE measures what the exact in-snapshot row counts cost (default EXACT)
        PostgresSource.RowCounts counts = PostgresSource.RowCounts.valueOf(System.getProperty("jb.rowCounts", "EXACT"));
        return BackupPipeline.builder()
                .source(PostgresSource.builder(source)
                        .compressionLevel(level)
                        .rowCounts(counts)
                        .build())
                .encryption(pgp(keyFile))
                .sink(sink)
                .build()
                .run();
    }

    private static OpenPgpTransform pgp(Path keyFile) {
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
    }

    /** Records heap use before (peak) and after (live) every collection. */
    private static void watchHeap() {
        Set<String> heapPools = new HashSet<>();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                heapPools.add(pool.getName());
            }
        }
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ((NotificationEmitter) gc)
                    .addNotificationListener(
                            (n, h) -> {
                                if (!n.getType()
                                        .equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                                    return;
                                }
                                GcInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData())
                                        .getGcInfo();
                                PEAK.accumulateAndGet(sum(info.getMemoryUsageBeforeGc(), heapPools), Math::max);
                                LIVE.accumulateAndGet(sum(info.getMemoryUsageAfterGc(), heapPools), Math::max);
                            },
                            null,
                            null);
        }
    }

    private static long sum(Map<String, MemoryUsage> usage, Set<String> pools) {
        long s = 0;
        for (Map.Entry<String, MemoryUsage> e : usage.entrySet()) {
            if (pools.contains(e.getKey())) {
                s += e.getValue().getUsed();
            }
        }
        return s;
    }

    // ---- the file tree ------------------------------------------------------------------------------------------

    private static final String[] WORDS = ("order customer product price shipping invoice payment refund cart "
                    + "discount coupon address warehouse stock category review rating image thumbnail session token user "
                    + "account email phone status pending paid shipped delivered cancelled currency amount tax total")
            .split(" ");

    /**
     * A deterministic tree of about {@code mib} MiB: 40% text files (64 KiB-2 MiB, log-like lines), 40% "photos"
     * (256 KiB-4 MiB of random bytes behind a JPEG header: incompressible like real JPEGs), 20% small files
     * (256 B-16 KiB: JSON, CSV, text and a few binary) spread over many directories. Reused when a marker with the
     * same specification is present.
     */
    static void tree(Path dir, long mib) throws IOException {
        String spec = "jb-bench-tree v1 " + mib + " MiB";
        Path marker = dir.resolve(".jb-bench-tree");
        if (Files.exists(marker) && Files.readString(marker).equals(spec)) {
            System.out.println("tree " + dir + " reused (" + spec + ")");
            return;
        }
        if (Files.exists(dir)) {
            try (var walk = Files.walk(dir)) {
                walk.sorted(java.util.Comparator.reverseOrder())
                        .forEach(p -> p.toFile().delete());
            }
        }
        SplittableRandom random = new SplittableRandom(20260111L);
        long total = mib << 20;
        long[] budget = {total * 4 / 10, total * 4 / 10, total * 2 / 10};
        int files = 0;
        byte[] buf = new byte[1 << 16];
        StringBuilder sb = new StringBuilder();
        // text
        for (long written = 0; written < budget[0]; files++) {
            long size = 64 * 1024 + random.nextLong(2 * 1024 * 1024 - 64 * 1024);
            Path f = Files.createDirectories(dir.resolve("logs").resolve("y" + (2020 + files % 6)))
                    .resolve("app-" + files + ".log");
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(f), 1 << 16)) {
                written += text(out, size, random, sb);
            }
        }
        // "photos"
        for (long written = 0; written < budget[1]; files++) {
            long size = 256 * 1024 + random.nextLong(4 * 1024 * 1024 - 256 * 1024);
            Path f = Files.createDirectories(dir.resolve("media").resolve("album" + files % 12))
                    .resolve("IMG_" + files + ".jpg");
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(f), 1 << 16)) {
                out.write(
                        new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0});
                for (long n = 11; n < size; n += buf.length) {
                    random.nextBytes(buf);
                    out.write(buf, 0, (int) Math.min(buf.length, size - n));
                }
                out.write(new byte[] {(byte) 0xFF, (byte) 0xD9});
            }
            written += size + 2;
        }
        // many small files
        for (long written = 0; written < budget[2]; files++) {
            long size = 256 + random.nextLong(16 * 1024 - 256);
            int kind = random.nextInt(10);
            String ext = kind < 4 ? ".json" : kind < 7 ? ".csv" : kind < 9 ? ".txt" : ".bin";
            Path f = Files.createDirectories(
                            dir.resolve("src").resolve("m" + files % 40).resolve("p" + files % 23))
                    .resolve("item-" + files + ext);
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(f), 1 << 14)) {
                if (ext.equals(".bin")) {
                    byte[] b = new byte[(int) size];
                    random.nextBytes(b);
                    out.write(b);
                    written += size;
                } else if (ext.equals(".json")) {
                    long n = 0;
                    out.write('[');
                    while (n < size) {
                        String rec = "{\"id\":" + random.nextInt(1_000_000) + ",\"status\":\""
                                + WORDS[random.nextInt(WORDS.length)] + "\",\"amount\":"
                                + random.nextInt(100_000) / 100.0
                                + ",\"tags\":[\"" + WORDS[random.nextInt(WORDS.length)] + "\",\""
                                + WORDS[random.nextInt(WORDS.length)] + "\"]},\n";
                        byte[] b = rec.getBytes(StandardCharsets.UTF_8);
                        out.write(b);
                        n += b.length;
                    }
                    out.write(']');
                    written += n + 2;
                } else {
                    written += text(out, size, random, sb);
                }
            }
        }
        Files.writeString(marker, spec);
        System.out.printf("tree %s: %d files, %d MiB%n", dir, files, mib);
    }

    private static long text(OutputStream out, long size, SplittableRandom random, StringBuilder sb)
            throws IOException {
        long n = 0;
        while (n < size) {
            sb.setLength(0);
            sb.append("2026-01-").append(10 + random.nextInt(20)).append(" INFO ");
            for (int w = 0; w < 10; w++) {
                sb.append(WORDS[random.nextInt(WORDS.length)]).append(' ');
            }
            sb.append(random.nextInt(1_000_000)).append('\n');
            byte[] line = sb.toString().getBytes(StandardCharsets.UTF_8);
            out.write(line);
            n += line.length;
        }
        return n;
    }

    private static void need(String[] args, int n) {
        if (args.length < n) {
            usage();
        }
    }

    private static void usage() {
        System.err.println("usage: CompareRun tree|db-backup|db-backup-s3|files-backup|db-restore|generated-backup ..."
                + " (see the class comment)");
        System.exit(2);
    }
}
