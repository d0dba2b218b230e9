package com.jiffoo.backup.testutil;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Drives the real {@code gpg} command (GnuPG 2.2+) for interoperability tests, with its own {@code GNUPGHOME} under
 * a directory the caller gives (a JUnit {@code @TempDir}). Every call runs {@code gpg --batch --pinentry-mode
 * loopback} with no key servers; passphrases go through {@code --passphrase-file}, never the command line.
 * {@link #close()} stops the gpg-agent started for that home ({@code gpgconf --kill all}).
 *
 * <pre>{@code
 * try (GpgCli gpg = GpgCli.create(tempDir)) {
 *     GpgCli.Key key = gpg.generateCurve25519Key("ops@example.com", passFile);
 *     gpg.exportPublicKey(key, tempDir.resolve("pub.asc"), true);
 *     gpg.decrypt(encrypted, plain, passFile).orThrow();
 * }
 * }</pre>
 */
public final class GpgCli implements AutoCloseable {

    /** The gpg binary; override with the system property {@code jiffoo.gpg}. */
    public static final String GPG = System.getProperty("jiffoo.gpg", "gpg");

    private static final long TIMEOUT_SECONDS = 120;

    private final Path home;

    /** The outcome of one gpg run. */
    public record Result(List<String> command, int exitCode, byte[] stdout, String stderr) {
        /** True when gpg exited with 0. */
        public boolean ok() {
            return exitCode == 0;
        }

        /** stdout as UTF-8 text. */
        public String out() {
            return new String(stdout, StandardCharsets.UTF_8);
        }

        /** Returns this result, or throws an AssertionError with the exit code and stderr when gpg failed. */
        public Result orThrow() {
            if (!ok()) {
                throw new AssertionError("gpg failed with exit code " + exitCode + ": " + command + "\n" + stderr);
            }
            return this;
        }
    }

    /** A key pair generated in this home. */
    public record Key(String userId, String fingerprint) {
        /** The last 16 hex digits of the fingerprint. */
        public String keyId() {
            return fingerprint.substring(fingerprint.length() - 16);
        }
    }

    private GpgCli(Path home) {
        this.home = home;
    }

    /** True when a gpg binary can be run. */
    public static boolean available() {
        try {
            Process p = new ProcessBuilder(GPG, "--version")
                    .redirectErrorStream(true)
                    .start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Creates a fresh {@code GNUPGHOME} at {@code dir/gnupg} (mode 0700) with no key server access.
     *
     * @param dir a temporary directory; keep its path short (gpg-agent's socket path is limited to ~100 bytes)
     */
    public static GpgCli create(Path dir) {
        try {
            Path home = dir.resolve("gnupg");
            Files.createDirectories(
                    home, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Files.writeString(
                    home.resolve("gpg.conf"),
                    "no-auto-key-retrieve\nno-auto-key-locate\n" + "keyserver-options no-auto-key-retrieve\n");
            Files.writeString(home.resolve("gpg-agent.conf"), "allow-loopback-pinentry\n");
            return new GpgCli(home);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The {@code GNUPGHOME} directory. */
    public Path home() {
        return home;
    }

    /** Runs {@code gpg --homedir HOME --batch --pinentry-mode loopback --no-tty ARGS}, stdin empty. */
    public Result gpg(String... args) {
        return gpg(null, args);
    }

    /** Like {@link #gpg(String...)} with {@code stdin} fed to gpg. */
    public Result gpg(byte[] stdin, String... args) {
        List<String> cmd = new ArrayList<>(List.of(
                GPG, "--homedir", home.toString(), "--batch", "--pinentry-mode", "loopback", "--no-tty", "--yes"));
        cmd.addAll(Arrays.asList(args));
        return run(cmd, stdin);
    }

    private static Result run(List<String> cmd, byte[] stdin) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd);
            Process p = pb.start();
            CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
            CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            try (var in = p.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin);
                }
            }
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timeout after " + TIMEOUT_SECONDS + " s: " + cmd);
            }
            return new Result(
                    List.copyOf(cmd), p.exitValue(), out.join(), new String(err.join(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static byte[] readAll(InputStream in) {
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Generates an RSA-3072 signing primary key with an RSA-3072 encryption subkey, protected by the passphrase. */
    public Key generateRsaKey(String userId, Path passphraseFile) {
        gpg("--passphrase-file", passphraseFile.toString(), "--quick-gen-key", userId, "rsa3072", "sign,cert", "never")
                .orThrow();
        Key key = new Key(userId, fingerprint(userId));
        gpg(
                        "--passphrase-file",
                        passphraseFile.toString(),
                        "--quick-add-key",
                        key.fingerprint(),
                        "rsa3072",
                        "encr",
                        "never")
                .orThrow();
        return key;
    }

    /**
     * Generates an Ed25519 primary key with a legacy ECDH Curve25519 ({@code cv25519}) encryption subkey, as
     * {@code gpg --quick-gen-key USER future-default} does, protected by the passphrase.
     *
     * @param expire gpg's expiry ({@code never}, {@code 1d}, ...) for both keys
     */
    public Key generateCurve25519Key(String userId, Path passphraseFile, String expire) {
        gpg("--passphrase-file", passphraseFile.toString(), "--quick-gen-key", userId, "ed25519", "sign,cert", expire)
                .orThrow();
        Key key = new Key(userId, fingerprint(userId));
        gpg(
                        "--passphrase-file",
                        passphraseFile.toString(),
                        "--quick-add-key",
                        key.fingerprint(),
                        "cv25519",
                        "encr",
                        expire)
                .orThrow();
        return key;
    }

    /** {@link #generateCurve25519Key(String, Path, String)} that never expires. */
    public Key generateCurve25519Key(String userId, Path passphraseFile) {
        return generateCurve25519Key(userId, passphraseFile, "never");
    }

    /** Generates an Ed25519 key that can only sign (no encryption subkey). */
    public Key generateSigningOnlyKey(String userId, Path passphraseFile) {
        gpg("--passphrase-file", passphraseFile.toString(), "--quick-gen-key", userId, "ed25519", "sign,cert", "never")
                .orThrow();
        return new Key(userId, fingerprint(userId));
    }

    /** Revokes the key with the revocation certificate gpg made when generating it. */
    public void revoke(Key key) {
        try {
            Path rev = home.resolve("openpgp-revocs.d").resolve(key.fingerprint() + ".rev");
            String cert = Files.readString(rev)
                    .replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----");
            gpg(cert.getBytes(StandardCharsets.US_ASCII), "--import").orThrow();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The fingerprint of the (only) key with this user id. */
    public String fingerprint(String userId) {
        String listing =
                gpg("--with-colons", "--list-keys", "=" + userId).orThrow().out();
        for (String line : listing.split("\n")) {
            if (line.startsWith("fpr:")) {
                return line.split(":")[9];
            }
        }
        throw new AssertionError("no fingerprint for " + userId + " in\n" + listing);
    }

    /** Writes {@code gpg --export [--armor] FPR} to {@code out}. */
    public Path exportPublicKey(Key key, Path out, boolean armor) {
        List<String> args = new ArrayList<>(List.of("--output", out.toString()));
        if (armor) {
            args.add("--armor");
        }
        args.addAll(List.of("--export", key.fingerprint()));
        gpg(args.toArray(String[]::new)).orThrow();
        return out;
    }

    /** Writes {@code gpg --export-secret-keys [--armor] FPR} to {@code out}, unlocking with the passphrase file. */
    public Path exportSecretKey(Key key, Path out, boolean armor, Path passphraseFile) {
        List<String> args =
                new ArrayList<>(List.of("--passphrase-file", passphraseFile.toString(), "--output", out.toString()));
        if (armor) {
            args.add("--armor");
        }
        args.addAll(List.of("--export-secret-keys", key.fingerprint()));
        gpg(args.toArray(String[]::new)).orThrow();
        return out;
    }

    /**
     * {@code gpg --symmetric --cipher-algo AES256 --passphrase-file KEY [extra] -o out in}; pass
     * {@code "--compress-algo", "none"} in {@code extra} to turn off gpg's default compression.
     */
    public Result encryptSymmetric(Path in, Path out, Path keyFile, String... extra) {
        List<String> args = new ArrayList<>(
                List.of("--passphrase-file", keyFile.toString(), "--symmetric", "--cipher-algo", "AES256"));
        args.addAll(Arrays.asList(extra));
        args.addAll(List.of("--output", out.toString(), in.toString()));
        return gpg(args.toArray(String[]::new));
    }

    /** {@code gpg -e -r RECIPIENT -o out in}, trusting the recipient's key ({@code --trust-model always}). */
    public Result encryptTo(String recipient, Path in, Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("--trust-model", "always", "--encrypt", "--recipient", recipient));
        args.addAll(Arrays.asList(extra));
        args.addAll(List.of("--output", out.toString(), in.toString()));
        return gpg(args.toArray(String[]::new));
    }

    /** {@code gpg --passphrase-file KEY -d -o out in}: the key file is the passphrase, or a secret key's passphrase. */
    public Result decrypt(Path in, Path out, Path keyFile) {
        return gpg("--passphrase-file", keyFile.toString(), "--output", out.toString(), "--decrypt", in.toString());
    }

    /** {@code gpg --list-packets} of a message (decrypting with the key file, to list the inner packets too). */
    public Result listPackets(Path in, Path keyFile) {
        return gpg("--passphrase-file", keyFile.toString(), "--list-packets", in.toString());
    }

    /** Stops the gpg-agent (and any other daemon) of this home. */
    @Override
    public void close() {
        run(List.of("gpgconf", "--homedir", home.toString(), "--kill", "all"), null);
    }
}
