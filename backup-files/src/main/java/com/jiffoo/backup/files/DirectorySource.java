package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Source;
import com.jiffoo.backup.SourceException;
import com.jiffoo.backup.internal.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Source} that writes a tar archive of a directory's contents, compressed with gzip, zstd or not at all.
 *
 * <p>The archive is what {@code tar -C dir -cf - .} would write, without the {@code ./} prefix: entry names are
 * relative to the directory ({@code a/b.txt}, directories end in {@code /}), the directory itself is not an entry.
 * It uses POSIX (PAX) headers, so names and link targets longer than 100 bytes, UTF-8 names and large numbers
 * survive, and GNU tar, bsdtar and {@link DirectoryRestoreTarget} read it:
 * <pre>{@code
 * tar -xzf files_backup_20260111_030000.tar.gz -C /srv/restored            # gzip
 * tar --zstd -xf files_backup_20260111_030000.tar.zst -C /srv/restored     # zstd
 * }</pre>
 *
 * <p>What is stored: regular files with their bytes, directories (empty ones too), symbolic links as links (never
 * followed), hard links (a file with several names in the tree is stored once, under the first name met; its later
 * names are tar hard-link entries, type {@code 1}, naming that first name, as GNU tar writes them; see
 * {@link Builder#hardLinkMemory} for the bound), the mode bits (including set-user-ID, set-group-ID and sticky), the
 * modification time to the nanosecond (the whole seconds in the header, the fraction in a PAX {@code mtime} record
 * such as {@code 1733140000.123456789}, which GNU tar reads) and the numeric owner and group. Not stored: owner and
 * group names, access and change times, ACLs, extended attributes. Sockets, devices and FIFOs are
 * skipped with a warning and counted in the facts ({@code skipped}). Entries are written in a deterministic order
 * (each directory's children sorted by name), so the same tree gives the same archive.
 *
 * <p>Files that change while being read are handled like GNU tar does: the header promises the size seen before
 * reading; exactly that many bytes are written (padded with zeros if the file shrank, cut if it grew), a warning
 * "file changed as we read it" is logged and the file is counted in {@code changedWhileReading}. A file that
 * disappears before it is read is skipped with a warning ({@code vanished}). A file or directory that cannot be
 * read fails the backup with a {@link SourceException} naming it.
 *
 * <p>Memory is constant in the size of the tree (one 64 KiB buffer plus the compressor's state; with gzip on
 * several threads, about 1 MiB per thread), apart from the names of the children of the directories on the
 * current path, which are sorted, and the table of hard-linked files, bounded by {@link Builder#hardLinkMemory}.
 *
 * <p>In an increment ({@link Builder#chain}), a name is written as a hard link only to a name stored in the same
 * archive, as GNU tar does: when a changed name's first name is unchanged (not in the increment), the changed name
 * is stored with its data. All names of a file share its size, times and inode, so a change of the file (content,
 * mode, a name added or removed, which changes its ctime) puts every name into the increment and the links are
 * kept; only a name that is new without the file changing (its directory renamed or moved) is stored as a copy, and
 * comes back as one until the file next changes or the next full backup.
 *
 * <p>Compression happens here rather than in a separate transform on purpose: the pipeline runs the source on its
 * own thread, so compressing and encrypting use separate cores. gzip also deflates on several threads by default
 * ({@link Builder#compressionThreads}), still writing one standard gzip stream.
 *
 * <p>Instances are immutable and thread-safe; {@link #writeTo} may be called any number of times, also
 * concurrently.
 *
 * <pre>{@code
 * DirectorySource source = DirectorySource.builder(Path.of("/srv/uploads"))
 *         .compression(Compression.ZSTD, 6)
 *         .build();
 * Map<String, Object> facts = source.writeTo(out);   // out stays open
 * }</pre>
 */
public final class DirectorySource implements Source {
    /**
     * The fact holding the hashed sample: a list of {@code {"path", "size", "sha256"}}, the SHA-256 of the bytes
     * stored for each of a random sample of files ({@link Builder#hashSample}), checked by a files restore drill.
     */
    public static final String SAMPLE_FACT = "sampleSha256";
    /** The default size of the hashed sample: 20 files, about 3 KB of manifest. */
    public static final int DEFAULT_HASH_SAMPLE = 20;
    /** Files with longer entry names are not sampled (bounds the manifest: at most about 6 KB for 20 files). */
    static final int MAX_SAMPLE_PATH = 200;
    /**
     * The fact of a backup of a chain: {@code level} (0 for the full one), and for an increment {@code base} (the
     * full one's id) and {@code parent} ({@code id}, {@code objectKey}, {@code objectSha256}).
     */
    public static final String CHAIN_FACT = com.jiffoo.backup.BackupChain.FACT;
    /** In a backup of a chain: the regular files of the whole tree (an increment's {@code fileCount} has the changed). */
    public static final String TREE_FILE_COUNT = "treeFileCount";
    /** In a backup of a chain: the bytes of the regular files of the whole tree. */
    public static final String TREE_BYTES = "treeBytes";
    /** The default bound of the table of hard-linked files ({@link Builder#hardLinkMemory}): 8 MiB. */
    public static final long DEFAULT_HARD_LINK_MEMORY = 8L << 20;
    /** GNU tar's PAX keyword for a directory's listing in an incremental archive. */
    static final String DUMPDIR = "GNU.dumpdir";

    private static final Logger LOG = LoggerFactory.getLogger(DirectorySource.class);

    /** Buffer size for reading files and for feeding the compressor. */
    static final int BUFFER_SIZE = 64 * 1024;

    private static final boolean UNIX_VIEW =
            FileSystems.getDefault().supportedFileAttributeViews().contains("unix");
    private static final boolean POSIX_VIEW =
            FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    /**
     * The attributes of one lstat that a tar entry and change detection need: nine names (the type comes from the
     * mode's file-type bits), since the JDK builds a map of every name asked for on every call (docs/benchmarks.md,
     * issue 17).
     */
    private static final String UNIX_ATTRIBUTES = "unix:mode,uid,gid,size,lastModifiedTime,ino,ctime,dev,nlink";
    /** The file-type bits of a mode ({@code S_IFMT}) and the types among them that are backed up. */
    private static final int S_IFMT = 0170000;

    private static final int S_IFREG = 0100000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFLNK = 0120000;

    private final Path directory;
    private final Compression compression;
    private final int compressionLevel;
    private final int compressionThreads;
    private final int hashSample;
    private final long hardLinkMemory;
    /** Null: not part of a chain. Otherwise the chain this backup continues (a full one when it has no parent). */
    private final TarEntries.Chain chain;

    private DirectorySource(Builder b) {
        this.chain = b.chain;
        this.hashSample = b.hashSample;
        this.hardLinkMemory = b.hardLinkMemory;
        this.directory = b.directory;
        this.compression = b.compression;
        this.compressionLevel = b.compressionLevel;
        this.compressionThreads = b.compressionThreads;
    }

    /**
     * A builder for a source backing up {@code directory}. The directory is checked when the backup runs, not here.
     *
     * @throws NullPointerException when {@code directory} is null
     */
    public static Builder builder(Path directory) {
        return new Builder(directory);
    }

    /** A builder holding this source's settings. */
    public Builder toBuilder() {
        Builder b = new Builder(directory);
        b.compression = compression;
        b.compressionLevel = compressionLevel;
        b.compressionThreads = compressionThreads;
        b.hashSample = hashSample;
        b.hardLinkMemory = hardLinkMemory;
        b.chain = chain;
        return b;
    }

    /** The directory whose contents are backed up, absolute and normalised. */
    public Path directory() {
        return directory;
    }

    /**
     * The backup this one is an increment of, when it is one: empty for a full backup (of a chain or not).
     */
    public java.util.Optional<BackupManifest> parent() {
        return chain == null ? java.util.Optional.empty() : java.util.Optional.ofNullable(chain.parent());
    }

    /** True when this backup starts or continues a chain (writes GNU tar's incremental directory records). */
    public boolean chained() {
        return chain != null;
    }

    /** The compression applied to the tar stream. */
    public Compression compression() {
        return compression;
    }

    /** The compression level ({@code 0} for {@link Compression#NONE}). */
    public int compressionLevel() {
        return compressionLevel;
    }

    /** The number of threads that deflate a gzip stream ({@code 1}: gzip on the source's own thread). */
    public int compressionThreads() {
        return compressionThreads;
    }

    /** Returns {@code "files"}. */
    @Override
    public String kind() {
        return "files";
    }

    /** Returns {@code "files_backup"}. */
    @Override
    public String baseName() {
        return "files_backup";
    }

    /** {@code .tar.gz}, {@code .tar.zst} or {@code .tar}, after the compression. */
    @Override
    public String suffix() {
        return compression.suffix();
    }

    /** The directory backed up: a backup refuses it when it contains the local store or lies inside it. */
    @Override
    public java.util.Optional<Path> localPath() {
        return java.util.Optional.of(directory);
    }

    /** E.g. {@code directory /srv/uploads (tar, gzip level 6, 2 threads)}. */
    @Override
    public String describe() {
        return "directory " + directory + " (tar"
                + (chain == null ? "" : chain.describe())
                + ", " + compression.id()
                + (compression == Compression.NONE ? "" : " level " + compressionLevel)
                + (compression != Compression.NONE
                        ? ", " + compressionThreads + (compressionThreads == 1 ? " thread" : " threads")
                        : "")
                + ")";
    }

    /**
     * Writes the (compressed) tar archive of the directory's contents to {@code out}. The compressor and the tar
     * trailer are finished and {@code out} is flushed, but not closed: the caller closes it.
     *
     * @return facts: {@code directory}, {@code compression}, {@code level}, {@code compressionThreads} (gzip and zstd),
     *         {@code fileCount},
     *         {@code directoryCount} (not counting the directory itself), {@code symlinkCount}, {@code totalBytes}
     *         (uncompressed bytes of the files), {@code skipped} (sockets, devices, FIFOs), {@code vanished}
     *         (removed before being read), {@code changedWhileReading}, {@code hardLinks} (names stored as hard-link
     *         entries; {@code fileCount} and {@code totalBytes} count them, with their size, as the regular files of the
     *         restored tree they are), {@code hardLinksAsCopies} (when the table of hard-linked files was full: names
     *         stored as copies), {@value #SAMPLE_FACT} (the hashed sample, see
     *         {@link Builder#hashSample})
     * @throws ConfigurationException when the directory does not exist or is not a directory
     * @throws SourceException when a file or directory in the tree cannot be read
     * @throws IOException when writing to {@code out} fails
     */
    @Override
    public Map<String, Object> writeTo(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        if (!Files.exists(directory)) {
            throw new ConfigurationException(
                    "The directory to back up does not exist: " + directory
                            + ". Check the configured path, or create the directory.",
                    null,
                    directory.toString(),
                    null);
        }
        if (!Files.isDirectory(directory)) {
            throw new ConfigurationException(
                    "The path to back up is not a directory: " + directory
                            + ". Configure the directory that holds the files.",
                    null,
                    directory.toString(),
                    null);
        }
        LOG.info("Backing up {}", describe());
        Walk walk = new Walk();
        walk.hardLinks = new HardLinks(hardLinkMemory);
        TarEntries tar = TarEntries.open(out, compression, compressionLevel, compressionThreads, chain);
        try {
            FileInfo root = null;
            if (chain != null) {
                root = FileInfo.read(directory);
            }
            walkDirectory(directory, "", root, tar, walk);
            tar.finish();
        } finally {
            tar.closeUnfinished();
        }
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("directory", directory.toString());
        facts.put("compression", compression.id());
        facts.put("level", compressionLevel);
        if (compression != Compression.NONE) {
            facts.put("compressionThreads", compressionThreads);
        }
        facts.put("fileCount", tar.files);
        facts.put("directoryCount", tar.directories);
        facts.put("symlinkCount", walk.symlinks);
        facts.put("symlinksOutsideTree", walk.symlinksOutside);
        facts.put("totalBytes", tar.bytes);
        facts.put("skipped", walk.skipped);
        facts.put("vanished", tar.vanished);
        facts.put("changedWhileReading", walk.changed);
        facts.put("hardLinks", walk.hardLinkEntries);
        if (walk.hardLinks.asCopies > 0) {
            facts.put("hardLinksAsCopies", walk.hardLinks.asCopies);
        }
        tar.putChainFacts(facts);
        if (hashSample > 0) {
            List<Map<String, Object>> sample = new ArrayList<>();
            for (Sampled x : walk.sample) {
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("path", x.path());
                e.put("size", x.size());
                e.put("sha256", x.sha256());
                sample.add(e);
            }
            facts.put(SAMPLE_FACT, sample);
        }
        LOG.info(
                "Backed up {}: {} files, {} directories, {} symlinks, {} bytes",
                directory,
                tar.files,
                tar.directories,
                walk.symlinks,
                tar.bytes);
        return facts;
    }

    private void walkDirectory(Path dir, String prefix, FileInfo self, TarEntries tar, Walk walk) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path child : children) {
                names.add(child.getFileName().toString());
            }
        } catch (AccessDeniedException e) {
            throw unreadable(dir, e);
        } catch (NoSuchFileException e) {
            if (dir.equals(directory)) {
                throw e;
            }
            LOG.warn("{}: directory removed before we read it; skipped", dir);
            tar.vanished++;
            return;
        } catch (IOException e) {
            throw new SourceException(
                    "Could not list directory " + dir + ": " + e
                            + ". Check the file system and that the backup user can read it.",
                    null,
                    dir.toString(),
                    e);
        }
        names.sort(null);
        FileInfo[] infos = new FileInfo[names.size()];
        if (self != null) {
            // a chain: read every child first, so that this directory's entry can carry GNU tar's dumpdir record
            TarEntries.Listing listing = tar.listing(prefix);
            for (int i = 0; i < infos.length; i++) {
                infos[i] = lstat(dir, names.get(i), tar);
                if (infos[i] != null && infos[i].type != Type.OTHER) {
                    infos[i].changed = listing.add(names.get(i), infos[i].meta());
                }
            }
            tar.directory(prefix, listing, self.mode, self.uid, self.gid, self.mtime, dir);
        }
        for (int i = 0; i < infos.length; i++) {
            String name = names.get(i);
            FileInfo info = self != null ? infos[i] : lstat(dir, name, tar);
            if (info == null) {
                continue;
            }
            if (!info.changed) {
                tar.unchanged++;
                continue;
            }
            Path path = dir.resolve(name);
            String entryName = prefix + name;
            if (info.type == Type.DIRECTORY) {
                if (self == null) {
                    tar.directory(entryName + "/", null, info.mode, info.uid, info.gid, info.mtime, path);
                }
                walkDirectory(path, entryName + "/", self == null ? null : info, tar, walk);
            } else if (info.type == Type.SYMLINK) {
                String target;
                try {
                    target = Files.readSymbolicLink(path).toString();
                } catch (NoSuchFileException e) {
                    LOG.warn("{}: link removed before we read it; skipped", path);
                    tar.vanished++;
                    continue;
                }
                tar.link(entryName, TarConstants.LF_SYMLINK, target, info.mode, info.uid, info.gid, info.mtime);
                walk.symlinks++;
                if (pointsOutside(entryName, target)) {
                    if (walk.symlinksOutside++ == 0) {
                        LOG.warn(
                                "{} -> {} points outside {}; restoring this backup with DirectoryRestoreTarget needs"
                                        + " allowSymlinksOutsideTarget(true) (GNU tar restores it as is)",
                                path,
                                target,
                                directory);
                    }
                }
            } else if (info.type == Type.FILE) {
                String first = info.nlink > 1 ? walk.hardLinks.firstName(info) : null;
                if (first != null) {
                    writeHardLink(entryName, first, info, tar, walk);
                } else if (writeFile(path, entryName, info, tar, walk) && info.nlink > 1) {
                    walk.hardLinks.remember(entryName, info);
                }
            } else {
                LOG.warn(
                        "{}: socket, device or FIFO; skipped (only files, directories and symlinks are backed up)",
                        path);
                walk.skipped++;
            }
        }
    }

    /** The child's lstat, or null when it vanished (counted). */
    private static FileInfo lstat(Path dir, String name, TarEntries tar) throws IOException {
        Path path;
        try {
            path = dir.resolve(name);
        } catch (java.nio.file.InvalidPathException e) {
            throw undecodableName(dir, name, e);
        }
        try {
            return FileInfo.read(path);
        } catch (NoSuchFileException e) {
            if (name.indexOf('\uFFFD') >= 0) {
                throw undecodableName(dir, name, e); // bytes that are not UTF-8: Java cannot name this file
            }
            LOG.warn("{}: file removed before we read it; skipped", path);
            tar.vanished++;
            return null;
        } catch (AccessDeniedException e) {
            throw unreadable(path, e);
        }
    }

    /**
     * A name of a file already stored under {@code first} in this archive: a hard-link entry (type {@code 1}, no
     * data), as GNU tar writes it. Counted in {@code fileCount} and {@code totalBytes} (each name is a regular file
     * of the restored tree) and in {@code hardLinks}.
     */
    private static void writeHardLink(String entryName, String first, FileInfo info, TarEntries tar, Walk walk)
            throws IOException {
        tar.link(entryName, TarConstants.LF_LINK, first, info.mode, info.uid, info.gid, info.mtime);
        walk.hardLinkEntries++;
        tar.files++;
        tar.bytes += info.size;
    }

    /** Stores a file with its data; false when it vanished before it could be opened (nothing written). */
    private boolean writeFile(Path path, String entryName, FileInfo info, TarEntries tar, Walk walk)
            throws IOException {
        InputStream in;
        try {
            in = Files.newInputStream(path, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            LOG.warn("{}: file removed before we read it; skipped", path);
            tar.vanished++;
            return false;
        } catch (IOException e) {
            throw unreadable(path, e);
        }
        try (in) {
            tar.startFile(entryName, info.mode, info.uid, info.gid, info.mtime, info.size, Map.of());
            int slot = sampleSlot(entryName, walk);
            java.security.MessageDigest sha = slot < 0 ? null : Sha256.newDigest();
            long read = copyExactly(
                    in,
                    sha == null ? tar.content() : new java.security.DigestOutputStream(tar.content(), sha),
                    info.size,
                    tar.buffer,
                    path);
            if (sha != null) {
                Sampled x = new Sampled(entryName, info.size, Sha256.hex(sha.digest()));
                if (slot == walk.sample.size()) {
                    walk.sample.add(x);
                } else {
                    walk.sample.set(slot, x);
                }
            }
            boolean changed = read != info.size;
            if (!changed) {
                try {
                    FileInfo after = FileInfo.read(path);
                    changed = after.size != info.size || !after.mtime.equals(info.mtime);
                } catch (IOException e) {
                    changed = true;
                }
            }
            if (changed) {
                LOG.warn(
                        "{}: file changed as we read it; stored {} bytes, its size when reading started",
                        path,
                        info.size);
                walk.changed++;
            }
            tar.endFile(info.size);
        }
        return true;
    }

    /**
     * Copies exactly {@code size} bytes from {@code in} to {@code out}: when {@code in} ends early the rest is filled
     * with zeros, when it has more the rest is not read.
     *
     * @return the number of bytes {@code in} had, up to {@code size + 1}: less than {@code size} when it shrank,
     *         {@code size + 1} when it grew
     * @throws SourceException when reading {@code in} fails (writing failures are thrown as they are)
     */
    static long copyExactly(InputStream in, OutputStream out, long size, byte[] buffer, Path path) throws IOException {
        long read;
        try {
            read = TarEntries.copy(in, out, size, buffer);
        } catch (TarEntries.ReadFailure e) {
            throw unreadable(path, e.getCause());
        }
        long remaining = size - read;
        if (remaining > 0) {
            Arrays.fill(buffer, (byte) 0);
            while (remaining > 0) {
                int n = (int) Math.min(buffer.length, remaining);
                out.write(buffer, 0, n);
                remaining -= n;
            }
            return read;
        }
        try {
            return in.read() < 0 ? size : size + 1;
        } catch (IOException e) {
            throw unreadable(path, e);
        }
    }

    /** The error for a file or directory the backup cannot read. */
    static SourceException unreadable(Path path, IOException cause) {
        String reason = cause instanceof AccessDeniedException ? "permission denied" : String.valueOf(cause);
        return new SourceException(
                "Cannot read " + path + " (" + reason + "). Run the backup as a user that can "
                        + "read the whole tree, or fix the file's permissions.",
                null,
                path.toString(),
                cause);
    }

    @Override
    public String toString() {
        return "DirectorySource{" + describe() + "}";
    }

    /**
     * A file whose name this JVM cannot represent: refusing is better than a backup that silently lacks it.
     */
    private static SourceException undecodableName(Path dir, String name, Exception cause) {
        String encoding = System.getProperty("sun.jnu.encoding", "?");
        return new SourceException(
                "A file name in " + dir + " cannot be read as " + encoding + " ('"
                        + name.replaceAll("[\\p{Cntrl}\uFFFD]", "?") + "'), so it cannot be backed up faithfully. "
                        + ("UTF-8".equalsIgnoreCase(encoding)
                                ? "The name is not valid UTF-8: rename the file (e.g. convmv -f latin1 -t utf8 --notest)."
                                : "Run the backup with a UTF-8 locale (LANG=C.UTF-8)."),
                null,
                dir.toString(),
                cause);
    }

    /** True when a link at {@code entryName} with target {@code target} leads outside the backed-up tree. */
    static boolean pointsOutside(String entryName, String target) {
        if (target.startsWith("/")) {
            return true;
        }
        int depth = entryName.split("/").length - 1;
        for (String part : target.split("/")) {
            if (part.equals("..")) {
                if (--depth < 0) {
                    return true;
                }
            } else if (!part.isEmpty() && !part.equals(".")) {
                depth++;
            }
        }
        return false;
    }

    /**
     * Reservoir sampling (algorithm R) of the files whose name fits {@link #MAX_SAMPLE_PATH}: the slot of the sample
     * this file takes, or -1. Decided before the file is read, so only sampled files are hashed.
     */
    private int sampleSlot(String entryName, Walk walk) {
        if (hashSample == 0 || entryName.length() > MAX_SAMPLE_PATH) {
            return -1;
        }
        walk.candidates++;
        if (walk.sample.size() < hashSample) {
            return walk.sample.size();
        }
        long r = java.util.concurrent.ThreadLocalRandom.current().nextLong(walk.candidates);
        return r < hashSample ? (int) r : -1;
    }

    /** A sampled file: its entry name, size and the SHA-256 of the bytes stored for it. */
    private record Sampled(String path, long size, String sha256) {}

    /** What one {@link #writeTo} call counts besides {@link TarEntries}' counters. */
    private static final class Walk {
        final List<Sampled> sample = new ArrayList<>();
        long candidates;
        long symlinks;
        long symlinksOutside;
        long skipped;
        long changed;
        long hardLinkEntries;
        HardLinks hardLinks;
    }

    /**
     * The files with several names (hard links) stored with their data in this archive, by device and inode, with
     * the name they were stored under, while names of theirs may still come: a later name is then written as a
     * hard-link entry to that first name. Bounded: each file takes an estimated {@code 2 * name length + 120} bytes,
     * and once {@code budget} is spent further files with several names are not remembered (each of their names is
     * then stored with its data, a separate copy on restore; counted in {@code hardLinksAsCopies}, warned once). A
     * file is forgotten once as many names as it has were met. Only files stored with their data are remembered,
     * as GNU tar does: in an increment, a name whose first name is unchanged (not in the increment) is stored with
     * its data, not as a link to a file the archive does not hold.
     */
    private static final class HardLinks {
        private final long budget;
        private final Map<Key, First> first = new java.util.HashMap<>();
        private long used;
        private boolean warned;
        long asCopies;

        HardLinks(long budget) {
            this.budget = budget;
        }

        private record Key(long dev, long inode) {}

        private static final class First {
            final String name;
            long remaining;

            First(String name, long remaining) {
                this.name = name;
                this.remaining = remaining;
            }
        }

        private static long cost(String name) {
            return 2L * name.length() + 120;
        }

        /** The name the file was first stored under in this archive, or null; counts this name as met. */
        String firstName(FileInfo info) {
            Key key = new Key(info.dev, info.inode);
            First f = first.get(key);
            if (f == null) {
                return null;
            }
            if (--f.remaining <= 0) {
                first.remove(key);
                used -= cost(f.name);
            }
            return f.name;
        }

        /** Remembers a file with several names just stored with its data under {@code name}, when it fits. */
        void remember(String name, FileInfo info) {
            long c = cost(name);
            if (used + c > budget) {
                asCopies++;
                if (!warned && budget > 0) {
                    warned = true;
                    LOG.warn(
                            "{}: more files with several names (hard links) than the table of {} bytes holds;"
                                    + " further names of such files are stored as separate copies"
                                    + " (DirectorySource.Builder.hardLinkMemory)",
                            name,
                            budget);
                }
                return;
            }
            first.put(new Key(info.dev, info.inode), new First(name, info.nlink - 1L));
            used += c;
        }
    }

    private enum Type {
        FILE,
        DIRECTORY,
        SYMLINK,
        OTHER
    }

    /** What one lstat says about a path. */
    private static final class FileInfo {
        Type type;
        int mode;
        long uid;
        long gid;
        long size;
        FileTime mtime;
        long inode;
        FileTime ctime;
        long dev;
        /** The number of names of the file (1 where the platform does not say). */
        int nlink = 1;
        /** Whether it goes into the archive (always, outside a chain). */
        boolean changed = true;

        FileList.Meta meta() {
            char t = type == Type.DIRECTORY ? 'd' : type == Type.SYMLINK ? 'l' : 'f';
            return new FileList.Meta(t, size, nanos(mtime), inode, nanos(ctime));
        }

        private static long nanos(FileTime t) {
            return t == null ? 0 : t.to(TimeUnit.NANOSECONDS);
        }

        static FileInfo read(Path path) throws IOException {
            FileInfo info = new FileInfo();
            if (UNIX_VIEW) {
                Map<String, Object> a = Files.readAttributes(path, UNIX_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
                int mode = (Integer) a.get("mode");
                int format = mode & S_IFMT;
                info.type = typeOf(format == S_IFREG, format == S_IFDIR, format == S_IFLNK);
                info.mode = mode & 07777;
                info.uid = ((Integer) a.get("uid")) & 0xFFFFFFFFL;
                info.gid = ((Integer) a.get("gid")) & 0xFFFFFFFFL;
                info.size = (Long) a.get("size");
                info.mtime = (FileTime) a.get("lastModifiedTime");
                info.inode = (Long) a.get("ino");
                info.ctime = (FileTime) a.get("ctime");
                info.dev = (Long) a.get("dev");
                info.nlink = (Integer) a.get("nlink");
            } else {
                BasicFileAttributes a;
                if (POSIX_VIEW) {
                    PosixFileAttributes p =
                            Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    info.mode = modeOf(p);
                    a = p;
                } else {
                    a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    info.mode = a.isDirectory() ? 0755 : 0644;
                }
                info.type = typeOf(a.isRegularFile(), a.isDirectory(), a.isSymbolicLink());
                info.size = a.size();
                info.mtime = a.lastModifiedTime();
            }
            if (info.type != Type.FILE) {
                info.size = 0;
            }
            return info;
        }

        private static Type typeOf(boolean file, boolean dir, boolean link) {
            return file ? Type.FILE : dir ? Type.DIRECTORY : link ? Type.SYMLINK : Type.OTHER;
        }

        private static int modeOf(PosixFileAttributes p) {
            int mode = 0;
            for (PosixFilePermission perm : p.permissions()) {
                mode |= 1 << (8 - perm.ordinal());
            }
            return mode;
        }
    }

    /**
     * Builds a {@link DirectorySource}. Setters check their arguments and throw {@link IllegalArgumentException} or
     * {@link NullPointerException} at once. Not thread-safe.
     */
    public static final class Builder {
        private final Path directory;
        private Compression compression = Compression.GZIP;
        private int compressionLevel = Compression.GZIP.defaultLevel();
        private int compressionThreads = Runtime.getRuntime().availableProcessors();
        private int hashSample = DEFAULT_HASH_SAMPLE;
        private long hardLinkMemory = DEFAULT_HARD_LINK_MEMORY;
        private TarEntries.Chain chain;

        private Builder(Path directory) {
            this.directory = Objects.requireNonNull(directory, "directory")
                    .toAbsolutePath()
                    .normalize();
        }

        /**
         * How many files, chosen at random (reservoir sampling, so only they are hashed), have the SHA-256 of their
         * stored bytes recorded in the manifest ({@value #SAMPLE_FACT}) for a files restore drill to compare;
         * {@value #DEFAULT_HASH_SAMPLE} by default, 0 records none. Files whose path in the archive is longer than
         * 200 characters are not sampled.
         */
        public Builder hashSample(int files) {
            if (files < 0 || files > 1000) {
                throw new IllegalArgumentException("hashSample must be between 0 and 1000, got " + files);
            }
            this.hashSample = files;
            return this;
        }

        /**
         * Makes this backup a link of a chain of incremental backups that GNU tar can apply in order
         * ({@code tar -x -g /dev/null}): every directory's entry carries GNU tar's {@code GNU.dumpdir} record (its
         * entries, each marked as in this archive, unchanged or a directory), so extracting it deletes what the
         * directory no longer holds, and the manifest records the whole tree's file list ({@value FileList#FACT}).
         * With a {@code parent} (a backup of the same directory made this way), only the files and links that
         * changed since it are stored (compared by type, size, mtime and ctime in nanoseconds and inode with the
         * parent's list): an increment. With {@code null}, everything is stored: the full backup a chain starts
         * with. {@link FileChain} chooses between them.
         *
         * @throws IllegalArgumentException when {@code parent} is not a backup of a chain
         */
        public Builder chain(BackupManifest parent) {
            this.chain = TarEntries.Chain.of(parent);
            return this;
        }

        /**
         * The most memory the table of hard-linked files takes: the files with several names stored in this archive,
         * by device and inode, with the name each was stored under, kept until all its names were met, so that later
         * names are written as hard-link entries. Each file takes about {@code 2 * path length + 120} bytes; default
         * {@value #DEFAULT_HARD_LINK_MEMORY} bytes (8 MiB: some 45,000 files with several names and 40-character
         * paths at once). Beyond it, further such files have each name stored as a separate copy (counted in the
         * fact {@code hardLinksAsCopies}, with a warning). 0 stores every name as a copy.
         *
         * @throws IllegalArgumentException when {@code bytes} is negative
         */
        public Builder hardLinkMemory(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("hardLinkMemory must not be negative, got " + bytes);
            }
            this.hardLinkMemory = bytes;
            return this;
        }

        /** Compresses with {@code compression} at its {@linkplain Compression#defaultLevel() default level}. */
        public Builder compression(Compression compression) {
            Objects.requireNonNull(compression, "compression");
            return compression(compression, compression.defaultLevel());
        }

        /**
         * Compresses with {@code compression} at {@code level}.
         *
         * @throws IllegalArgumentException when {@code level} is outside {@code compression}'s range (gzip 1-9,
         *                                  zstd 1-22, none 0)
         */
        public Builder compression(Compression compression, int level) {
            Objects.requireNonNull(compression, "compression");
            if (level < compression.minLevel() || level > compression.maxLevel()) {
                throw new IllegalArgumentException(compression.id() + " level must be between " + compression.minLevel()
                        + " and " + compression.maxLevel() + ", got " + level);
            }
            this.compression = compression;
            this.compressionLevel = level;
            return this;
        }

        /**
         * Deflates a gzip stream on {@code threads} threads: a parallel gzip, like pigz, that still writes one
         * standard gzip stream (128 KiB blocks, each deflated with the 32 KiB before it as its dictionary, so the
         * output is within about 0.1% of a single thread's). {@code 1} compresses on the source's own thread with
         * {@link GZIPOutputStream}. Memory grows with the threads: about 1 MiB per thread (two blocks in flight per
         * thread, plus each thread's deflater). zstd uses its own multi-threaded mode with as many workers (one
         * standard frame; each worker compresses jobs of a few MiB in native memory: about 8 MiB of input per worker
         * at the default level). Has no effect without compression.
         *
         * @throws IllegalArgumentException when {@code threads} is below 1
         */
        public Builder compressionThreads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("compressionThreads must be at least 1, got " + threads);
            }
            this.compressionThreads = threads;
            return this;
        }

        /** Builds the source. Defaults: gzip, level 6, deflated on as many threads as there are processors. */
        public DirectorySource build() {
            return new DirectorySource(this);
        }
    }
}
