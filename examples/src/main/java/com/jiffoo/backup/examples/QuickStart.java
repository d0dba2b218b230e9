package com.jiffoo.backup.examples;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.DirectoryRestoreTarget;
import com.jiffoo.backup.files.DirectorySource;
import com.jiffoo.backup.files.TarListCheck;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A real backup and restore on the embedded defaults: a sample directory (or the one given) is backed up as an
 * OpenPGP-encrypted {@code .tar.gz.gpg} into a local directory store with a generated key file, verified, restored
 * into another directory and compared file by file.
 *
 * <pre>
 * java -jar examples/target/jiffoo-backup-quickstart.jar [SOURCE_DIR [WORK_DIR]]
 * </pre>
 *
 * WORK_DIR (default {@code ./jiffoo-backup-demo}) receives {@code backup.key}, {@code store/} and {@code restored/}.
 */
public final class QuickStart {
    private QuickStart() {}

    /**
     * Runs the demo; exits 1 when the restored tree differs, and with the error's exit code (2 for a bad setting or
     * path, ...) and a one-line {@code error: ...} message, no stack trace, when a step fails.
     */
    public static void main(String[] args) throws IOException {
        try {
            run(args);
        } catch (BackupException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(e.code().exitCode());
        } catch (IOException | java.io.UncheckedIOException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(ErrorCode.STORAGE.exitCode());
        }
    }

    private static void run(String[] args) throws IOException {
        Path work = Path.of(args.length > 1 ? args[1] : "jiffoo-backup-demo").toAbsolutePath();
        Files.createDirectories(work);
        Path sourceDir = args.length > 0 ? Path.of(args[0]).toAbsolutePath() : makeSample(work.resolve("sample"));
        if (!Files.isDirectory(sourceDir)) {
            throw new ConfigurationException(sourceDir + " is not a directory: give the directory to back up as the"
                    + " first argument, or none for the sample tree.");
        }
        Path keyFile = work.resolve("backup.key");
        if (!Files.exists(keyFile)) {
            PassphraseKeyFile.generate(keyFile); // like `openssl rand -base64 32 > backup.key`, mode 0600
            System.out.println("generated key file  " + keyFile);
        }
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();

        try (LocalDirectorySink store = LocalDirectorySink.create(work.resolve("store"))) {
            BackupManifest m = BackupPipeline.builder()
                    .source(DirectorySource.builder(sourceDir).build())
                    .encryption(pgp)
                    .sink(store)
                    .build()
                    .run();
            System.out.printf(
                    "backed up           %s -> %s/%s (%d bytes, sha256 %s)%n",
                    sourceDir, store.root(), m.objectKey(), m.objectSize(), m.objectSha256());

            BackupVerifier.builder()
                    .sink(store)
                    .transforms(List.of(pgp))
                    .innerCheck(TarListCheck.create())
                    .build()
                    .verify(m.objectKey(), true);
            System.out.println("verified (deep)     checksums, OpenPGP integrity, plaintext hash and every tar entry");

            // links restored as links, as tar does, also absolute ones (/usr/share/zoneinfo has them); nothing is
            // ever written through a link. This backup was made here a moment ago, so its links are the tree's own.
            Path restored = work.resolve("restored");
            RestoreResult r = RestorePipeline.builder()
                    .sink(store)
                    .decryption(pgp)
                    .target(DirectoryRestoreTarget.builder(restored)
                            .replaceExisting(true)
                            .allowSymlinksOutsideTarget(true)
                            .build())
                    .build()
                    .restore(m.objectKey());
            System.out.println("restored            " + restored + " " + r.facts());

            List<String> diff = compare(sourceDir, restored);
            if (!diff.isEmpty()) {
                System.out.println("DIFFERENCES: " + diff);
                System.exit(1);
            }
            System.out.println("compared            restored tree is identical to " + sourceDir);
            Path data = store.root().resolve(m.objectKey());
            System.out.println();
            System.out.println("Emergency restore with standard tools only (no Java):");
            System.out.println("  (cd " + data.getParent() + " && sha256sum -c " + data.getFileName() + ".sha256)");
            System.out.println("  set -o pipefail; mkdir -p /tmp/restore && gpg --batch --pinentry-mode loopback"
                    + " --passphrase-file " + keyFile + " -d " + data + " | tar xz -C /tmp/restore");
            System.out.println("  # that the manifest (" + data.getFileName() + ".manifest.json) is authentic:"
                    + " its .sig is an HMAC keyed from " + keyFile.getFileName() + ", checked with python3 or openssl"
                    + " as docs/security.md shows");
        }
    }

    /** A small tree with the awkward cases: binary, empty, unicode, deep paths, symlinks, empty dirs. */
    private static Path makeSample(Path dir) throws IOException {
        if (Files.exists(dir)) {
            return dir;
        }
        Files.createDirectories(dir.resolve("uploads/2026/01"));
        Files.createDirectories(dir.resolve("empty-dir"));
        Files.writeString(dir.resolve("README.txt"), "jiffoo-backup sample tree\n");
        byte[] bin = new byte[1 << 20];
        new Random(42).nextBytes(bin);
        Files.write(dir.resolve("uploads/2026/01/photo.jpg"), bin);
        Files.write(dir.resolve("empty.bin"), new byte[0]);
        Files.writeString(dir.resolve("uploads/données-日本語.txt"), "unicode names\n", StandardCharsets.UTF_8);
        Path deep = dir.resolve("a".repeat(60) + "/" + "b".repeat(60) + "/" + "c".repeat(60));
        Files.createDirectories(deep);
        Files.writeString(deep.resolve("deep.txt"), "a path longer than 100 characters\n");
        Files.createSymbolicLink(dir.resolve("latest-upload"), Path.of("uploads/2026/01/photo.jpg"));
        System.out.println("created sample tree " + dir);
        return dir;
    }

    /** Differences between two trees: paths, types, bytes and link targets. */
    static List<String> compare(Path a, Path b) throws IOException {
        TreeMap<String, String> left = describe(a);
        TreeMap<String, String> right = describe(b);
        if (left.equals(right)) {
            return List.of();
        }
        java.util.ArrayList<String> diff = new java.util.ArrayList<>();
        for (String k : left.keySet()) {
            if (!left.get(k).equals(right.get(k))) {
                diff.add(k);
            }
        }
        for (String k : right.keySet()) {
            if (!left.containsKey(k)) {
                diff.add(k);
            }
        }
        return diff;
    }

    private static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(OutputStream.nullOutputStream());
            return HexFormat.of()
                    .formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static TreeMap<String, String> describe(Path root) throws IOException {
        TreeMap<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                String rel = root.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    out.put(rel, "link " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, "dir");
                } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, "file " + sha256(p) + " " + Files.getPosixFilePermissions(p));
                } // sockets, devices and FIFOs are not backed up, and opening a FIFO would block
            }
        }
        return out;
    }
}
