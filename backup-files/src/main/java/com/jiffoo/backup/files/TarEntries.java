package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.internal.StageStreams;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tar writing that {@link DirectorySource} and {@link BucketSource} share: the compressed POSIX (PAX) tar stream,
 * the entries (directories, with GNU tar's {@code GNU.dumpdir} record in a chain, files, links), the chain's file
 * list and what an increment stores, and the counters every files backup reports. One instance per
 * {@code writeTo} call; not thread-safe.
 *
 * <pre>{@code
 * TarEntries tar = TarEntries.open(out, compression, level, threads, chain);
 * try {
 *     ... tar.directory(...), tar.file(...) ...
 *     tar.finish();        // the trailer and the compressor; out stays open
 * } finally {
 *     tar.closeUnfinished();
 * }
 * }</pre>
 */
final class TarEntries {
    private static final Logger LOG = LoggerFactory.getLogger(TarEntries.class);

    private final OutputStream compressor;
    private final TarArchiveOutputStream tar;
    private boolean finished;
    /** Null: not part of a chain. */
    private final Chain chain;
    /** The chain's file list of the whole tree (null outside a chain). */
    private final FileList.Writer list;
    /** The parent's file list; null in a full backup, or when the parent recorded none. */
    private final Map<String, FileList.Meta> previous;
    /**
     * Whether an increment whose parent recorded no file list may fall back to GNU tar's time rule (local files: a
     * ctime no one can set); false for a bucket, whose times come from the server and the objects' uploaders: there
     * every object is stored again.
     */
    private boolean timeRule = true;
    /** The paths recorded in this backup's file list but not stored because they vanished (at most a bound). */
    private final List<String> vanishedPaths = new ArrayList<>();

    private boolean vanishedPathsOmitted;

    /** The fact naming the paths a chain link lists but did not store (deleted between listing and reading). */
    static final String VANISHED_PATHS = "vanishedPaths";
    /** The fact saying that more paths vanished than {@link #VANISHED_PATHS} holds. */
    static final String VANISHED_PATHS_OMITTED = "vanishedPathsOmitted";
    /** At most this many vanished paths are recorded; past it the next increment does without the parent's list. */
    static final int MAX_VANISHED_PATHS = 1000;

    /** One buffer for copying content. */
    final byte[] buffer = new byte[DirectorySource.BUFFER_SIZE];
    /** Regular files stored ({@code fileCount}). */
    long files;
    /** Directories stored, not counting the top ({@code directoryCount}). */
    long directories;
    /** Bytes of the regular files stored ({@code totalBytes}). */
    long bytes;
    /** Deleted between listing and reading ({@code vanished}). */
    long vanished;
    /** In an increment: files and links not stored because unchanged ({@code unchanged}). */
    long unchanged;
    /** In a chain: the regular files of the whole tree. */
    long treeFiles;
    /** In a chain: the bytes of the regular files of the whole tree. */
    long treeBytes;

    private TarEntries(OutputStream compressor, TarArchiveOutputStream tar, Chain chain) {
        this.compressor = compressor;
        this.tar = tar;
        this.chain = chain;
        this.list = chain == null ? null : new FileList.Writer();
        this.previous = chain == null || chain.parent() == null ? null : previousList(chain.parent());
    }

    /**
     * The parent's file list without the paths it listed but could not store (they vanished while it ran, e.g. an
     * object a server listed and then answered 404 for): those count as changed, so this increment stores them if
     * they are there now. Null when the parent recorded no list, or more vanished paths than it could name.
     */
    private static Map<String, FileList.Meta> previousList(BackupManifest parent) {
        Map<String, Object> facts = parent.sourceFacts();
        Map<String, FileList.Meta> list = FileList.read(facts, parent.id());
        if (list == null || Boolean.TRUE.equals(facts.get(VANISHED_PATHS_OMITTED))) {
            return null;
        }
        if (facts.get(VANISHED_PATHS) instanceof List<?> gone) {
            Map<String, FileList.Meta> copy = new HashMap<>(list);
            gone.forEach(copy::remove);
            return copy;
        }
        return list;
    }

    /** For a bucket: an increment whose parent recorded no file list stores every object again (see timeRule). */
    void withoutTimeRule() {
        this.timeRule = false;
    }

    /** True in an increment whose parent recorded no usable file list. */
    boolean parentListMissing() {
        return chain != null && chain.parent() != null && previous == null;
    }

    /** {@code entryName}, listed in this backup's file list, vanished before it was stored. */
    void vanished(String entryName) {
        vanished++;
        if (chain == null) {
            return;
        }
        if (vanishedPaths.size() < MAX_VANISHED_PATHS) {
            vanishedPaths.add(entryName);
        } else {
            vanishedPathsOmitted = true;
        }
    }

    /**
     * Starts the (compressed) tar stream on {@code out}, which stays open; {@code chain} is null outside a chain.
     */
    static TarEntries open(OutputStream out, Compression compression, int level, int threads, Chain chain)
            throws IOException {
        OutputStream compressor = compression.compress(StageStreams.closeShield(out), level, threads);
        TarArchiveOutputStream tar =
                new TarArchiveOutputStream(new BufferedOutputStream(compressor, DirectorySource.BUFFER_SIZE), "UTF-8");
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setAddPaxHeadersForNonAsciiNames(true);
        return new TarEntries(compressor, tar, chain);
    }

    /** Writes the tar trailer and finishes the compressor; the stream given to {@link #open} stays open. */
    void finish() throws IOException {
        tar.finish();
        tar.close(); // finishes the compressor and flushes, but does not close out
        finished = true;
    }

    /** After a failure (before {@link #finish}): frees the compressor (the native zstd context); out stays open. */
    void closeUnfinished() {
        if (!finished) {
            try {
                compressor.close();
            } catch (IOException | RuntimeException e) {
                LOG.debug("Closing the compressor after a failure also failed", e);
            }
        }
    }

    /** True when this backup is a link of a chain. */
    boolean chained() {
        return chain != null;
    }

    /** Starts the {@code GNU.dumpdir} record of a directory's entry in a chain. */
    Listing listing(String prefix) {
        return new Listing(prefix);
    }

    /**
     * A directory's children as a chain records them: each goes into the file list, and into the directory's
     * {@code GNU.dumpdir} record marked as a directory ({@code D}), stored in this archive ({@code Y}) or unchanged
     * ({@code N}).
     */
    final class Listing {
        private final String prefix;
        private final StringBuilder record = new StringBuilder();
        private int names;

        private Listing(String prefix) {
            this.prefix = prefix;
        }

        /**
         * Records the child {@code name} (a directory, file or link, by {@code meta}'s type).
         *
         * @return whether it goes into this archive: directories always, files and links when changed
         */
        boolean add(String name, FileList.Meta meta) {
            String entryName = prefix + name;
            list.add(entryName, meta);
            boolean dir = meta.type() == 'd';
            if (meta.type() == 'f') {
                treeFiles++;
                treeBytes += meta.size();
            }
            boolean stored = dir || changed(entryName, meta);
            record.append(dir ? 'D' : stored ? 'Y' : 'N').append(name).append('\0');
            names++;
            return stored;
        }
    }

    /**
     * Whether a file or link goes into this increment: always in a full backup; in an increment when the parent's
     * list does not have it with the same type, size, mtime, inode and ctime (or, when the parent recorded no list,
     * GNU tar's rule: its ctime or mtime is not older than the parent's start).
     */
    private boolean changed(String entryName, FileList.Meta meta) {
        if (chain.parent() == null) {
            return true;
        }
        if (previous == null) {
            if (!timeRule) {
                return true;
            }
            long since = chain.parent().startedAt().getEpochSecond() * 1_000_000_000L - 1_000_000_000L;
            return meta.ctimeNanos() >= since || meta.mtimeNanos() >= since;
        }
        return !meta.equals(previous.get(entryName));
    }

    /**
     * Writes the entry of the directory {@code prefix} ({@code ""} for the top, written only in a chain, as
     * {@code ./}), with {@code listing}'s {@code GNU.dumpdir} record in a chain ({@code null} outside one);
     * {@code where} names the directory in a warning.
     */
    void directory(String prefix, Listing listing, int mode, long uid, long gid, FileTime mtime, Object where)
            throws IOException {
        Entry entry = entry(prefix.isEmpty() ? "./" : prefix, TarConstants.LF_DIR, mode, uid, gid, mtime);
        if (listing != null) {
            String record = listing.record.append('\0').toString();
            int maxPax = BoundedTarInputStream.maxPaxHeaderBytes();
            if (record.length() * 3L + 1024 > maxPax) {
                long size = record.getBytes(StandardCharsets.UTF_8).length + 1024L;
                if (size > maxPax) {
                    LOG.warn(
                            "{}: its listing in this incremental backup (GNU.dumpdir, about {} bytes for {} names) is"
                                    + " larger than a restore reads by default ({} bytes): restore this chain with the"
                                    + " JVM option -D{}={} (GNU tar reads it as it is)",
                            where,
                            size,
                            listing.names,
                            maxPax,
                            BoundedTarInputStream.MAX_PAX_PROPERTY,
                            size + (1 << 20));
                }
            }
            entry.addPaxHeader(DirectorySource.DUMPDIR, record);
        }
        tar.putArchiveEntry(entry);
        tar.closeArchiveEntry();
        if (!prefix.isEmpty()) {
            directories++;
        }
    }

    /** Writes an entry without data: a symbolic link ({@code flag} {@code 2}) or a hard link ({@code 1}). */
    void link(String name, byte flag, String target, int mode, long uid, long gid, FileTime mtime) throws IOException {
        Entry entry = entry(name, flag, mode, uid, gid, mtime);
        entry.setLinkName(target);
        entry.setSize(0);
        tar.putArchiveEntry(entry);
        tar.closeArchiveEntry();
    }

    /**
     * Starts a regular file's entry of {@code size} bytes with the PAX records {@code pax}; the caller writes exactly
     * {@code size} bytes to {@link #content()}, then calls {@link #endFile}.
     */
    void startFile(String name, int mode, long uid, long gid, FileTime mtime, long size, Map<String, String> pax)
            throws IOException {
        Entry entry = entry(name, TarConstants.LF_NORMAL, mode, uid, gid, mtime);
        entry.setSize(size);
        pax.forEach(entry::addPaxHeader);
        tar.putArchiveEntry(entry);
    }

    /** Where the current file's bytes go. */
    OutputStream content() {
        return tar;
    }

    /** Ends the current file's entry and counts it ({@code fileCount}, {@code totalBytes}). */
    void endFile(long size) throws IOException {
        tar.closeArchiveEntry();
        files++;
        bytes += size;
    }

    private static Entry entry(String name, byte flag, int mode, long uid, long gid, FileTime mtime) {
        Entry entry = new Entry(name, flag);
        entry.setMode(mode);
        entry.setUserId(uid);
        entry.setGroupId(gid);
        entry.time(mtime);
        return entry;
    }

    /** In a chain, adds its facts: {@code unchanged}, the tree's counts, the chain and the file list. */
    void putChainFacts(Map<String, Object> facts) {
        if (chain != null) {
            facts.put("unchanged", unchanged);
            facts.put(DirectorySource.TREE_FILE_COUNT, treeFiles);
            facts.put(DirectorySource.TREE_BYTES, treeBytes);
            facts.put(DirectorySource.CHAIN_FACT, chain.fact());
            facts.put(FileList.FACT, list.fact());
            if (!vanishedPaths.isEmpty()) {
                facts.put(VANISHED_PATHS, List.copyOf(vanishedPaths));
            }
            if (vanishedPathsOmitted) {
                facts.put(VANISHED_PATHS_OMITTED, true);
            }
        }
    }

    /**
     * Copies up to {@code size} bytes from {@code in} to {@code out}.
     *
     * @return the bytes copied: less than {@code size} when {@code in} ended early
     * @throws ReadFailure when reading {@code in} fails (writing failures are thrown as they are)
     */
    static long copy(InputStream in, OutputStream out, long size, byte[] buffer) throws IOException {
        long remaining = size;
        while (remaining > 0) {
            int n;
            try {
                n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
            } catch (IOException e) {
                throw new ReadFailure(e);
            }
            if (n < 0) {
                break;
            }
            out.write(buffer, 0, n);
            remaining -= n;
        }
        return size - remaining;
    }

    /** A failure to read what is backed up (not to write the archive); the cause is the read's failure. */
    static final class ReadFailure extends IOException {
        ReadFailure(IOException cause) {
            super(cause);
        }

        @Override
        public synchronized IOException getCause() {
            return (IOException) super.getCause();
        }
    }

    /** The chain a backup continues; a full one when {@code parent} is null. */
    record Chain(BackupManifest parent) {
        /**
         * The chain that continues {@code parent} ({@code null}: a chain's full backup).
         *
         * @throws IllegalArgumentException when {@code parent} is not a backup of a chain
         */
        static Chain of(BackupManifest parent) {
            if (parent != null && !(parent.sourceFacts().get(DirectorySource.CHAIN_FACT) instanceof Map)) {
                throw new IllegalArgumentException(parent.id() + " is not part of a chain (a backup files without"
                        + " --incremental): an increment needs a chain's backup as its parent");
            }
            return new Chain(parent);
        }

        /** E.g. {@code ", full of a chain"} or {@code ", increment of <id>"}, for a source's description. */
        String describe() {
            return parent == null ? ", full of a chain" : ", increment of " + parent.id();
        }

        Map<String, Object> fact() {
            Map<String, Object> f = new LinkedHashMap<>();
            if (parent == null) {
                f.put("level", 0);
                return f;
            }
            Map<?, ?> p = (Map<?, ?>) parent.sourceFacts().get(DirectorySource.CHAIN_FACT);
            long level = ((Number) p.get("level")).longValue();
            f.put("level", level + 1);
            f.put("base", level == 0 ? parent.id() : p.get("base"));
            Map<String, Object> link = new LinkedHashMap<>();
            link.put("id", parent.id());
            link.put("objectKey", parent.objectKey());
            link.put("objectSha256", parent.objectSha256());
            f.put("parent", link);
            return f;
        }
    }

    /**
     * A tar entry whose modification time keeps its nanoseconds. The header's octal field holds the whole seconds;
     * when there is a fraction, a PAX {@code mtime} record carries the time with nine decimals
     * ({@code 1733140000.123456789}), as GNU tar's {@code --format=posix} writes it and reads it back. (Commons
     * Compress alone writes that record cut to seven decimals, 100 ns.)
     */
    static final class Entry extends TarArchiveEntry {
        private String paxMtime;

        Entry(String name, byte flag) {
            super(name, flag, name.equals("./"));
        }

        /** Sets the modification time, to the nanosecond. */
        void time(FileTime time) {
            java.time.Instant t = time.toInstant();
            setModTime(FileTime.from(t.getEpochSecond(), TimeUnit.SECONDS));
            paxMtime = t.getNano() == 0 ? null : paxTime(t);
        }

        /** {@code seconds.nanoseconds}, e.g. {@code 1733140000.123456789} or {@code -1.500000000}. */
        static String paxTime(java.time.Instant t) {
            return java.math.BigDecimal.valueOf(t.getEpochSecond())
                    .add(java.math.BigDecimal.valueOf(t.getNano(), 9))
                    .toPlainString();
        }

        @Override
        public Map<String, String> getExtraPaxHeaders() {
            Map<String, String> extra = super.getExtraPaxHeaders();
            if (paxMtime == null) {
                return extra;
            }
            Map<String, String> all = new LinkedHashMap<>(extra);
            all.put("mtime", paxMtime); // written after, so it replaces, Commons Compress's own record
            return all;
        }
    }
}
