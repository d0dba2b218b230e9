package com.jiffoo.backup.crypto;

import com.jiffoo.backup.ConfigurationException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.Channels;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A passphrase read from a key file, the way {@code gpg --passphrase-file} reads it: the passphrase is the file's
 * first line, up to its {@code \n}: a {@code \r} before it belongs to the passphrase, as gpg reads it. The runbook
 * makes such a file with {@code openssl rand -base64 32 > backup.key && chmod 600 backup.key}, or with
 * {@link #generate(Path)}.
 *
 * <p>A key file readable or writable by group or others (any of the POSIX bits {@code 077}) is refused unless
 * {@link #read(Path, boolean)} is called with {@code allowInsecurePermissions = true}. On file systems without
 * POSIX permissions the check is skipped.
 *
 * <p>The passphrase is held as a {@code char[]} and handed out only as a copy by {@link #passphrase()};
 * {@link #toString()} shows the path, never the passphrase. Immutable and thread-safe.
 *
 * <pre>{@code
 * PassphraseKeyFile key = PassphraseKeyFile.read(Path.of("/etc/jiffoo/backup.key"));
 * OpenPgpTransform pgp = OpenPgpTransform.builder().passphrase(key).build();
 * }</pre>
 */
public final class PassphraseKeyFile {
    private static final Logger LOG = LoggerFactory.getLogger(PassphraseKeyFile.class);

    /** Number of random bytes {@link #generate(Path)} writes (base64-encoded). */
    public static final int GENERATED_KEY_BYTES = 32;

    private static final Set<PosixFilePermission> GROUP_OR_OTHER = EnumSet.of(
            PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ,
            PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_EXECUTE);

    private final Path path;
    private final char[] passphrase;

    private PassphraseKeyFile(Path path, char[] passphrase) {
        this.path = path;
        this.passphrase = passphrase;
    }

    /**
     * Reads a key file, refusing it when group or others have any permission on it.
     *
     * <pre>{@code PassphraseKeyFile key = PassphraseKeyFile.read(Path.of("backup.key"));}</pre>
     *
     * @param file the key file
     * @return the key file's passphrase
     * @throws ConfigurationException when the file is missing, unreadable, empty, or readable by group or others
     */
    public static PassphraseKeyFile read(Path file) {
        return read(file, false);
    }

    /**
     * Reads a key file.
     *
     * <pre>{@code PassphraseKeyFile key = PassphraseKeyFile.read(Path.of("backup.key"), true); // e.g. a k8s secret}</pre>
     *
     * @param file                     the key file
     * @param allowInsecurePermissions true to accept a file that group or others may access (logged as a warning)
     * @return the key file's passphrase
     * @throws ConfigurationException when the file is missing, unreadable or empty, or (unless allowed) readable by
     *                                group or others
     */
    public static PassphraseKeyFile read(Path file, boolean allowInsecurePermissions) {
        Objects.requireNonNull(file, "file");
        Path abs = file.toAbsolutePath();
        if (Files.isDirectory(abs)) {
            throw new ConfigurationException("key file " + abs + " is a directory; give the path of the key file "
                    + "itself (a file whose first line is the passphrase)");
        }
        checkPermissions(abs, allowInsecurePermissions);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(abs);
        } catch (NoSuchFileException e) {
            throw new ConfigurationException(
                    "key file " + abs + " does not exist; fix the path, or create a key with "
                            + "`openssl rand -base64 32 > " + abs + " && chmod 600 " + abs + "` (and keep a copy of it "
                            + "somewhere safe: without it no backup can be read)",
                    e);
        } catch (AccessDeniedException e) {
            throw new ConfigurationException(
                    "key file " + abs + " cannot be read by this user (permission denied); "
                            + "run the backup as the key file's owner or fix its ownership",
                    e);
        } catch (IOException e) {
            throw new ConfigurationException("key file " + abs + " cannot be read: " + e.getMessage(), e);
        }
        try {
            int end = 0;
            while (end < bytes.length && bytes[end] != '\n') {
                end++;
            }
            // exactly gpg's rule (--passphrase-file reads up to the first '\n'): a '\r' before it belongs to the
            // passphrase, so files with Windows line endings open the same backups with us and with gpg
            int lineEnd = end;
            int visible = end;
            while (visible > 0 && bytes[visible - 1] == '\r') {
                visible--;
            }
            if (visible == 0) {
                throw new ConfigurationException(
                        "key file " + abs + (bytes.length == 0 ? " is empty" : "'s first " + "line is empty")
                                + "; the passphrase is the first line of the key file (create one with "
                                + "`openssl rand -base64 32 > " + abs + "`)");
            }
            if (visible != lineEnd) {
                LOG.warn(
                        "key file {} has a Windows line ending: the '\\r' is part of the passphrase, as gpg"
                                + " --passphrase-file reads it; keep the file exactly as it is (converting it with dos2unix"
                                + " would change the passphrase)",
                        abs);
            }
            char[] chars = decodeUtf8(bytes, lineEnd, abs);
            if (chars.length < 16) {
                LOG.warn(
                        "key file {} holds a short passphrase ({} characters); use a random one such as "
                                + "`openssl rand -base64 32` makes",
                        abs,
                        chars.length);
            }
            return new PassphraseKeyFile(abs, chars);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    private static char[] decodeUtf8(byte[] bytes, int length, Path file) {
        try {
            CharBuffer cb = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, 0, length));
            char[] chars = new char[cb.remaining()];
            cb.get(chars);
            Arrays.fill(cb.array(), '\0');
            return chars;
        } catch (CharacterCodingException e) {
            throw new ConfigurationException(
                    "key file " + file + " is not UTF-8 text; its first line must be the "
                            + "passphrase (e.g. what `openssl rand -base64 32` prints)",
                    e);
        }
    }

    private static void checkPermissions(Path file, boolean allowInsecure) {
        PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (view == null || !Files.exists(file)) {
            return; // not POSIX, or missing (reported when read)
        }
        Set<PosixFilePermission> perms;
        try {
            perms = view.readAttributes().permissions();
        } catch (IOException e) {
            return; // reported when read
        }
        Set<PosixFilePermission> loose = EnumSet.noneOf(PosixFilePermission.class);
        loose.addAll(perms);
        loose.retainAll(GROUP_OR_OTHER);
        if (loose.isEmpty()) {
            return;
        }
        String mode = PosixFilePermissions.toString(perms) + " (" + octal(perms) + ")";
        if (allowInsecure) {
            LOG.warn(
                    "key file {} is accessible by group or others (mode {}); accepted because insecure "
                            + "permissions were allowed explicitly",
                    file,
                    mode);
            return;
        }
        throw new ConfigurationException("key file " + file + " is accessible by group or others (mode " + mode
                + "); run `chmod 600 " + file + "` (or allow insecure permissions explicitly if another control "
                + "protects it)");
    }

    private static String octal(Set<PosixFilePermission> perms) {
        int mode = 0;
        for (PosixFilePermission p : perms) {
            mode |= 1 << (8 - p.ordinal());
        }
        return String.format("%03o", mode);
    }

    /**
     * Creates a new key file holding 32 random bytes, base64-encoded, and a newline (what
     * {@code openssl rand -base64 32} prints). The file is created with mode {@code 0600} from the start and
     * appears complete or not at all; an existing file is never overwritten.
     *
     * <pre>{@code PassphraseKeyFile key = PassphraseKeyFile.generate(Path.of("/etc/jiffoo/backup.key"));}</pre>
     *
     * @param file where to create the key file; its directory must exist
     * @return the new key file's passphrase
     * @throws ConfigurationException when the file exists already or cannot be created
     */
    public static PassphraseKeyFile generate(Path file) {
        Objects.requireNonNull(file, "file");
        Path abs = file.toAbsolutePath();
        if (Files.exists(abs, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw refuseOverwrite(abs, null);
        }
        byte[] random = new byte[GENERATED_KEY_BYTES];
        new SecureRandom().nextBytes(random);
        byte[] line = (Base64.getEncoder().encodeToString(random) + "\n").getBytes(StandardCharsets.US_ASCII);
        Arrays.fill(random, (byte) 0);
        Path dir = abs.getParent();
        boolean posix = Files.getFileAttributeView(dir, PosixFileAttributeView.class) != null;
        FileAttribute<?>[] attrs = posix
                ? new FileAttribute<?>[] {
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))
                }
                : new FileAttribute<?>[0];
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp", attrs);
            try (OutputStream out = Channels.newOutputStream(
                    Files.newByteChannel(tmp, EnumSet.of(StandardOpenOption.WRITE, StandardOpenOption.SYNC)))) {
                out.write(line);
            }
            try {
                Files.createLink(abs, tmp); // atomic, fails if abs exists
            } catch (UnsupportedOperationException e) {
                Files.move(tmp, abs); // no REPLACE_EXISTING: fails if abs exists
                tmp = null;
            }
        } catch (FileAlreadyExistsException e) {
            throw refuseOverwrite(abs, e);
        } catch (IOException e) {
            throw new ConfigurationException(
                    "cannot create key file " + abs + ": " + e.getMessage()
                            + "; check that its directory exists and is writable",
                    e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    LOG.warn("could not delete temporary file {}", tmp, e);
                }
            }
        }
        LOG.info("created key file {}; keep a copy of it somewhere safe: without it no backup can be read", abs);
        try {
            return read(abs, !posix);
        } finally {
            Arrays.fill(line, (byte) 0);
        }
    }

    private static ConfigurationException refuseOverwrite(Path file, Throwable cause) {
        return new ConfigurationException(
                "key file " + file + " already exists; refusing to overwrite it (the "
                        + "backups made with it could no longer be read). Remove it yourself or choose another path",
                cause);
    }

    /** The key file's absolute path. */
    public Path path() {
        return path;
    }

    /** A copy of the passphrase; the caller should clear it ({@code Arrays.fill(p, '\0')}) after use. */
    public char[] passphrase() {
        return passphrase.clone();
    }

    /** Shows the path only, never the passphrase. */
    @Override
    public String toString() {
        return "PassphraseKeyFile{" + path + "}";
    }
}
