package com.jiffoo.backup.bench;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.internal.Sha256;
import com.jiffoo.backup.testutil.GeneratedSource;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPEncryptedDataGenerator;
import org.bouncycastle.openpgp.PGPLiteralData;
import org.bouncycastle.openpgp.PGPLiteralDataGenerator;
import org.bouncycastle.openpgp.operator.bc.BcPBEKeyEncryptionMethodGenerator;
import org.bouncycastle.openpgp.operator.bc.BcPGPDataEncryptorBuilder;
import org.bouncycastle.openpgp.operator.bc.BcPGPDigestCalculatorProvider;

import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Date;
import java.util.List;

/**
 * Throughput of the OpenPGP stage alone, on one core, against the alternatives: Bouncy Castle's lightweight (Bc)
 * engine, and the {@code gpg} CLI ({@code --symmetric --cipher-algo AES256 -z 0}, the runbook's pipeline minus
 * compression) on the same bytes; plus SHA-256 for reference. Incompressible generated data, to and from files in
 * the work directory (page cache).
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar com.jiffoo.backup.bench.CryptoThroughput 1024 /var/tmp/bench
 * </pre>
 */
public final class CryptoThroughput {
    private CryptoThroughput() {
    }

    public static void main(String[] args) throws Exception {
        long mib = args.length > 0 ? Long.parseLong(args[0]) : 1024;
        Path work = Files.createDirectories(Path.of(args.length > 1 ? args[1] : "/var/tmp/jiffoo-crypto-bench"));
        long size = mib * 1024 * 1024;
        Path keyFile = work.resolve("k.key");
        Files.deleteIfExists(keyFile);
        PassphraseKeyFile.generate(keyFile);
        OpenPgpTransform pgp = OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(keyFile)).build();
        Path plain = work.resolve("plain.bin");
        Path ours = work.resolve("ours.gpg");
        Path theirs = work.resolve("gpg.gpg");
        try {
            try (InputStream in = GeneratedSource.stream(size, 1); OutputStream out = Files.newOutputStream(plain)) {
                in.transferTo(out);
            }
            for (int round = 1; round <= 2; round++) { // round 1 warms up the JIT and the page cache
                System.out.printf("-- round %d, %d MiB%n", round, mib);
                long t = System.nanoTime();
                MessageDigest d = Sha256.newDigest();
                try (InputStream in = Files.newInputStream(plain)) {
                    byte[] buf = new byte[1 << 16];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        d.update(buf, 0, n);
                    }
                }
                print("SHA-256 (MessageDigest)", mib, t);

                t = System.nanoTime();
                try (InputStream in = Files.newInputStream(plain);
                     OutputStream out = pgp.encode(new BufferedOutputStream(Files.newOutputStream(ours), 1 << 16))) {
                    in.transferTo(out);
                }
                print("encrypt, ours (Jce/SunJCE)", mib, t);

                t = System.nanoTime();
                try (InputStream in = pgp.decode(Files.newInputStream(ours))) {
                    in.transferTo(OutputStream.nullOutputStream());
                }
                print("decrypt, ours (Jce/SunJCE)", mib, t);

                t = System.nanoTime();
                bcLightweightEncrypt(plain, work.resolve("bc.gpg"), PassphraseKeyFile.read(keyFile).passphrase());
                print("encrypt, BC lightweight engine", mib, t);

                Files.deleteIfExists(theirs);
                t = System.nanoTime();
                run(List.of("gpg", "--homedir", Files.createDirectories(work.resolve("gnupg")).toString(), "--batch",
                        "--pinentry-mode", "loopback", "--passphrase-file", keyFile.toString(), "--symmetric",
                        "--cipher-algo", "AES256", "-z", "0", "-o", theirs.toString(), plain.toString()));
                print("encrypt, gpg --symmetric -z 0", mib, t);

                t = System.nanoTime();
                run(List.of("gpg", "--homedir", work.resolve("gnupg").toString(), "--batch", "--pinentry-mode",
                        "loopback", "--passphrase-file", keyFile.toString(), "-o", "/dev/null", "--yes", "-d",
                        ours.toString()));
                print("decrypt ours, gpg -d", mib, t);
            }
        } finally {
            for (String f : new String[] {"plain.bin", "ours.gpg", "gpg.gpg", "bc.gpg"}) {
                Files.deleteIfExists(work.resolve(f));
            }
        }
    }

    private static void bcLightweightEncrypt(Path in, Path out, char[] passphrase) throws Exception {
        PGPEncryptedDataGenerator gen = new PGPEncryptedDataGenerator(
                new BcPGPDataEncryptorBuilder(SymmetricKeyAlgorithmTags.AES_256).setWithIntegrityPacket(true));
        gen.addMethod(new BcPBEKeyEncryptionMethodGenerator(passphrase,
                new BcPGPDigestCalculatorProvider().get(HashAlgorithmTags.SHA256), 0xFF));
        try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(out), 1 << 16);
             OutputStream enc = gen.open(file, new byte[1 << 16]);
             OutputStream lit = new PGPLiteralDataGenerator().open(enc, PGPLiteralData.BINARY, "", new Date(),
                     new byte[1 << 16]);
             InputStream src = Files.newInputStream(in)) {
            src.transferTo(lit);
        }
    }

    private static void run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("failed: " + cmd);
        }
    }

    private static void print(String what, long mib, long startNanos) {
        double s = (System.nanoTime() - startNanos) / 1e9;
        System.out.printf("%-34s %6.2f s %8.1f MiB/s%n", what, s, mib / s);
    }
}
