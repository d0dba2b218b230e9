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
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * A file-tree backup end to end, against the source alone and the runbook's shell pipeline, on a generated tree of
 * mixed content (half compressible text, half incompressible "images"):
 * <ol>
 *   <li>{@code DirectorySource} to /dev/null (tar + compression only, one core): the floor of our pipeline;</li>
 *   <li>our backup (tar + compression on one thread, OpenPGP + SHA-256 + local store on another);</li>
 *   <li>{@code tar czf - DIR | gpg --symmetric --cipher-algo AES256 > f; sha256sum f}, the runbook's way;</li>
 *   <li>our restore of the backup into a new directory.</li>
 * </ol>
 *
 * <pre>
 * java -Xmx64m -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.FilesBackupRun 512 /var/tmp/bench
 * </pre>
 */
public final class FilesBackupRun {
    private static final String[] WORDS = ("order customer product price shipping invoice payment refund cart "
            + "discount coupon address warehouse stock category review rating image thumbnail session token user "
            + "account email phone status pending paid shipped delivered cancelled currency amount tax total").split(" ");

    private FilesBackupRun() {
    }

    public static void main(String[] args) throws Exception {
        long mib = args.length > 0 ? Long.parseLong(args[0]) : 512;
        Path work = Files.createDirectories(Path.of(args.length > 1 ? args[1] : "/var/tmp/jiffoo-files-bench"));
        Path tree = work.resolve("tree");
        try {
            generateTree(tree, mib * 1024 * 1024);
            Path keyFile = work.resolve("k.key");
            Files.deleteIfExists(keyFile);
            PassphraseKeyFile.generate(keyFile);
            OpenPgpTransform pgp = OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(keyFile)).build();
            System.out.printf("tree of %d MiB (half text, half random), %d CPUs%n", mib,
                    Runtime.getRuntime().availableProcessors());
            for (Compression c : List.of(Compression.GZIP, Compression.ZSTD)) {
                for (int round = 1; round <= 2; round++) {
                    DirectorySource source = DirectorySource.builder(tree).compression(c).build();
                    long t = System.nanoTime();
                    source.writeTo(OutputStream.nullOutputStream());
                    print(c.id() + " source alone (tar+" + c.id() + ", 1 thread)", mib, t, round);

                    Path storeDir = work.resolve("store");
                    try (LocalDirectorySink store = LocalDirectorySink.create(storeDir)) {
                        t = System.nanoTime();
                        BackupManifest m = BackupPipeline.builder().source(source).encryption(pgp).sink(store)
                                .naming((s, at) -> s.baseName() + "_" + System.nanoTime()).build().run();
                        print(c.id() + " our backup (+OpenPGP+SHA-256+store)", mib, t, round);

                        t = System.nanoTime();
                        RestorePipeline.builder().sink(store).decryption(pgp)
                                .target(DirectoryRestoreTarget.builder(work.resolve("restored")).replaceExisting(true)
                                        .build()).build().restore(m.objectKey());
                        print(c.id() + " our restore", mib, t, round);
                    }
                    delete(storeDir);
                    delete(work.resolve("restored"));
                }
            }
            for (int round = 1; round <= 2; round++) {
                Path out = work.resolve("shell.tar.gz.gpg");
                Files.deleteIfExists(out);
                long t = System.nanoTime();
                sh("tar czf - -C '" + tree + "' . | gpg --homedir '" + Files.createDirectories(work.resolve("gnupg"))
                        + "' --batch --pinentry-mode loopback --passphrase-file '" + keyFile
                        + "' --symmetric --cipher-algo AES256 > '" + out + "' && sha256sum '" + out + "' > /dev/null");
                print("shell: tar czf | gpg --symmetric; sha256sum", mib, t, round);
                Files.deleteIfExists(out);
            }
        } finally {
            delete(tree);
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
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(dir.resolve("f" + i
                    + (i % 2 == 0 ? ".txt" : ".jpg"))), 1 << 16)) {
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
        Process p = new ProcessBuilder("bash", "-c", "set -o pipefail; " + script).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
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

    private static void print(String what, long mib, long startNanos, int round) {
        double s = (System.nanoTime() - startNanos) / 1e9;
        System.out.printf("round %d  %-46s %6.2f s %7.1f MiB/s%n", round, what, s, mib / s);
    }
}
