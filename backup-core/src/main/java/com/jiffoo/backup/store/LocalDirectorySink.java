package com.jiffoo.backup.store;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.internal.Keys;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Sink} in a local directory (or a mounted volume). An object {@code a/b/c} is the file {@code root/a/b/c}.
 *
 * <p>Writes go to a temporary file {@code .tmp-<name>-<random>} in the object's directory; {@link SinkOutput#commit()}
 * flushes it to disk ({@code fsync}), publishes it atomically under its name (a hard link, which fails if the name
 * exists) and syncs the directory, so a crash never leaves a half object under a real name and two writers of one
 * key never overwrite each other. Temporary files are never listed. New files get the permissions set by
 * {@link Builder#filePermissions} ({@code rw-------} by default), new directories {@code rwx------}.
 *
 * <pre>{@code
 * try (Sink sink = LocalDirectorySink.create(Path.of("/var/backups/jiffoo"))) {
 *     ...
 * }
 * }</pre>
 *
 * <p>Thread-safe. {@link #close()} does nothing (there is nothing to free).
 */
public final class LocalDirectorySink implements Sink {
    private static final Logger log = LoggerFactory.getLogger(LocalDirectorySink.class);
    /** Name prefix of temporary files; keys may not have a segment starting with it. */
    static final String TMP_PREFIX = ".tmp-";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Path root;
    private final Set<PosixFilePermission> filePermissions;
    private final boolean posix;

    private LocalDirectorySink(Builder b) {
        this.root = b.root.toAbsolutePath().normalize();
        this.filePermissions = Set.copyOf(b.filePermissions);
        this.posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
        try {
            if (Files.exists(root) && !Files.isDirectory(root)) {
                throw new ConfigurationException("The backup directory " + root
                        + " exists but is not a directory; point the store at a directory.");
            }
            createDirectories(root);
        } catch (IOException e) {
            throw new ConfigurationException(
                    "Cannot create the backup directory " + root + ": " + e
                            + ". Create it by hand or choose a writable location.",
                    null,
                    root.toString(),
                    e);
        }
    }

    /** A sink in {@code root} with default settings; the directory is created when missing. */
    public static LocalDirectorySink create(Path root) {
        return builder(root).build();
    }

    /** A builder for a sink in {@code root}. */
    public static Builder builder(Path root) {
        return new Builder(root);
    }

    /** A builder holding this sink's settings. */
    public Builder toBuilder() {
        return new Builder(root).filePermissions(filePermissions);
    }

    /** The root directory. */
    public Path root() {
        return root;
    }

    @Override
    public java.util.Optional<Path> localRoot() {
        return java.util.Optional.of(root);
    }

    @Override
    public String location() {
        return "file:" + root;
    }

    /** The file of a key (checked to stay inside the root). */
    public Path pathOf(String key) {
        Keys.check(key);
        for (String segment : key.split("/")) {
            if (segment.startsWith(TMP_PREFIX)) {
                throw new ConfigurationException("The object key '" + key + "' has a segment starting with '"
                        + TMP_PREFIX + "', which this store reserves for temporary files.");
            }
        }
        Path p = root.resolve(key).normalize();
        if (!p.startsWith(root) || p.equals(root)) {
            throw new ConfigurationException("The object key '" + key + "' does not name a file inside " + root);
        }
        return p;
    }

    @Override
    public SinkOutput create(String key) throws IOException {
        Path target = pathOf(key);
        Path dir = target.getParent();
        createDirectories(dir);
        Path tmp = dir.resolve(
                TMP_PREFIX + target.getFileName() + "-" + HexFormat.of().formatHex(randomBytes()));
        FileChannel ch = posix
                ? FileChannel.open(
                        tmp,
                        EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                        PosixFilePermissions.asFileAttribute(filePermissions))
                : FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new FileOutput(key, target, tmp, ch);
    }

    @Override
    public InputStream open(String key) throws IOException {
        Path p = pathOf(key);
        try {
            return Files.newInputStream(p);
        } catch (NoSuchFileException e) {
            throw new NotFoundException(
                    "No object '" + key + "' in " + location() + ". List the store to see which backups exist.",
                    key,
                    location(),
                    e);
        }
    }

    /** Opens a range of the file: positions its channel at {@code offset} instead of reading up to it. */
    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        com.jiffoo.backup.internal.Support.checkRange(offset, length);
        Path p = pathOf(key);
        java.nio.channels.SeekableByteChannel ch;
        try {
            ch = Files.newByteChannel(p);
        } catch (NoSuchFileException e) {
            throw new NotFoundException(
                    "No object '" + key + "' in " + location() + ". List the store to see which backups exist.",
                    key,
                    location(),
                    e);
        }
        try {
            if (offset > ch.size()) {
                throw new java.io.EOFException(key + " in " + location() + " has " + ch.size() + " bytes, fewer than"
                        + " the offset " + offset);
            }
            ch.position(offset);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        InputStream in = java.nio.channels.Channels.newInputStream(ch);
        return com.jiffoo.backup.internal.Support.limit(in, length);
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        List<StoredObject> out = new ArrayList<>();
        walkFiles(prefix, false, (p, a) -> {
            String key = keyOf(p);
            if (key.startsWith(prefix)) {
                out.add(new StoredObject(key, a.size(), a.lastModifiedTime().toInstant()));
            }
        });
        out.sort(Comparator.comparing(StoredObject::key));
        return out;
    }

    /**
     * Calls {@code visit} for each regular file under the deepest directory {@code prefix} names: the temporary files
     * when {@code temporary}, else the others.
     */
    private void walkFiles(
            String prefix, boolean temporary, java.util.function.BiConsumer<Path, BasicFileAttributes> visit)
            throws IOException {
        int slash = prefix.lastIndexOf('/');
        Path start = slash < 0 ? root : root.resolve(prefix.substring(0, slash)).normalize();
        if (!start.startsWith(root) || !Files.isDirectory(start)) {
            return;
        }
        // walkFileTree, not Files.walk: a file another writer renames or deletes meanwhile (a temporary file being
        // published) is skipped, where Files.walk would fail the whole listing
        Files.walkFileTree(start, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path p, BasicFileAttributes a) {
                if (p.getFileName().toString().startsWith(TMP_PREFIX) == temporary && a.isRegularFile()) {
                    visit.accept(p, a);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path p, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }
        });
    }

    /**
     * Temporary files left by writers that never committed or discarded (a killed process); see
     * {@link #partialWrites}.
     */
    public List<Path> temporaryFiles() throws IOException {
        return partialWrites("").stream().map(w -> root.resolve(w.id())).toList();
    }

    /**
     * The temporary files {@code .tmp-<name>-<random>} of writes to keys starting with {@code prefix}; the id is the
     * file's path relative to the root, the last activity its modification time (a running write keeps it fresh).
     */
    @Override
    public List<PartialWrite> partialWrites(String prefix) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        List<PartialWrite> out = new ArrayList<>();
        walkFiles(prefix, true, (p, a) -> {
            String name = p.getFileName().toString();
            int dash = name.lastIndexOf('-');
            String dir = keyOf(p.getParent());
            String key = (dir.isEmpty() ? "" : dir + "/")
                    + name.substring(TMP_PREFIX.length(), Math.max(dash, TMP_PREFIX.length()));
            if (key.startsWith(prefix)) {
                out.add(new PartialWrite(key, keyOf(p), a.lastModifiedTime().toInstant()));
            }
        });
        out.sort(Comparator.comparing(PartialWrite::id));
        return out;
    }

    /** Deletes the temporary file {@link #partialWrites} listed. */
    @Override
    public void discard(PartialWrite write) throws IOException {
        Path p = root.resolve(write.id()).normalize();
        if (!p.startsWith(root) || !p.getFileName().toString().startsWith(TMP_PREFIX)) {
            throw new IllegalArgumentException("not a temporary file of " + location() + ": " + write.id());
        }
        if (Files.deleteIfExists(p)) {
            syncDirectory(p.getParent());
        }
    }

    private String keyOf(Path p) {
        StringBuilder sb = new StringBuilder();
        for (Path part : root.relativize(p)) {
            if (sb.length() > 0) {
                sb.append('/');
            }
            sb.append(part);
        }
        return sb.toString();
    }

    @Override
    public void delete(String key) throws IOException {
        Path p = pathOf(key);
        if (Files.deleteIfExists(p)) {
            syncDirectory(p.getParent());
        }
    }

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "LocalDirectorySink{" + root + "}";
    }

    private void createDirectories(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        if (posix) {
            FileAttribute<Set<PosixFilePermission>> attr =
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
            Files.createDirectories(dir, attr);
        } else {
            Files.createDirectories(dir);
        }
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[6];
        RANDOM.nextBytes(b);
        return b;
    }

    /** True when a hard link failed because the file system has none (EPERM), not for another reason. */
    private static boolean noHardLinks(FileSystemException e) {
        return e.getReason() != null && e.getReason().contains("not permitted");
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            log.debug("cannot fsync directory {}: {}", dir, e.toString());
        }
    }

    private final class FileOutput extends SinkOutput {
        private final String key;
        private final Path target;
        private final Path tmp;
        private final FileChannel channel;

        FileOutput(String key, Path target, Path tmp, FileChannel channel) {
            super(key);
            this.key = key;
            this.target = target;
            this.tmp = tmp;
            this.channel = channel;
        }

        @Override
        protected void writeBytes(byte[] b, int off, int len) throws IOException {
            ByteBuffer buf = ByteBuffer.wrap(b, off, len);
            while (buf.hasRemaining()) {
                channel.write(buf);
            }
        }

        @Override
        protected void publish() throws IOException {
            channel.force(true);
            channel.close();
            try {
                // a hard link publishes the file atomically and fails if the name exists: objects are write-once,
                // so two writers of the same key cannot overwrite each other
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException e) {
                throw new ObjectExistsException(key, location());
            } catch (UnsupportedOperationException | FileSystemException e) {
                if (e instanceof FileSystemException fse && !noHardLinks(fse)) {
                    throw fse;
                }
                // a file system without hard links (vfat, some FUSE): rename, refusing an existing name (not atomic)
                if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                    throw new ObjectExistsException(key, location());
                }
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.deleteIfExists(tmp);
            syncDirectory(target.getParent());
        }

        @Override
        protected void discard() throws IOException {
            try {
                channel.close();
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Builds a {@link LocalDirectorySink}. Not thread-safe. */
    public static final class Builder {
        private final Path root;
        private Set<PosixFilePermission> filePermissions = PosixFilePermissions.fromString("rw-------");

        private Builder(Path root) {
            this.root = Objects.requireNonNull(root, "root");
        }

        /**
         * Permissions of new files on POSIX file systems; {@code rw-------} by default. Group read
         * ({@code rw-r-----}) lets a separate verify user read backups.
         */
        public Builder filePermissions(Set<PosixFilePermission> permissions) {
            Objects.requireNonNull(permissions, "permissions");
            if (!permissions.contains(PosixFilePermission.OWNER_READ)
                    || !permissions.contains(PosixFilePermission.OWNER_WRITE)) {
                throw new IllegalArgumentException("file permissions must include owner read and write, got "
                        + PosixFilePermissions.toString(permissions));
            }
            this.filePermissions = Set.copyOf(permissions);
            return this;
        }

        /** Builds the sink, creating the root directory when missing. */
        public LocalDirectorySink build() {
            return new LocalDirectorySink(this);
        }
    }
}
