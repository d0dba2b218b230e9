package com.jiffoo.backup.files;

import com.jiffoo.backup.RestoreException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Extracts one tar archive into a staging directory for {@link DirectoryRestoreTarget}: the security-critical path
 * of a restore, whose archive may be damaged or made by someone hostile. These are all its rules.
 *
 * <p><b>Refused</b>: the whole restore stops with a {@link RestoreException} naming the entry (the caller deletes
 * the staging directory; the target is unchanged) when the archive holds
 * <ol>
 *   <li>a path that is absolute, has a {@code ..} component, contains a NUL character, or is empty (other than the
 *       {@code ./} entry, which gives the target directory's own mode and time);</li>
 *   <li>a path whose parent is a symbolic link or a non-directory extracted earlier (nothing is written through a
 *       link);</li>
 *   <li>a directory where an earlier entry is not a directory, or a file or link where an earlier entry is a
 *       directory;</li>
 *   <li>a symbolic link with an empty target or a NUL character in it; unless {@code allowSymlinksOutsideTarget}, a
 *       link whose target is absolute or climbs, from the link's directory, above the target — checked at the entry,
 *       and again once every link exists, by resolving each inside the staging directory through the links it meets
 *       as the kernel would;</li>
 *   <li>a hard link whose target is absolute, has a {@code ..} component, is the link itself, or is not a regular
 *       file extracted earlier (by this archive, or by an earlier link of its chain: the staging directory holds
 *       nothing else) reached without links (no component of its path, the last included, is a symbolic link);</li>
 *   <li>an entry type that is not understood, or file data stored in a way the reader does not support (sparse);</li>
 *   <li>a staged path longer than PATH_MAX ({@value #PATH_MAX} bytes) or a name longer than NAME_MAX
 *       ({@value #NAME_MAX} bytes), with what to do;</li>
 *   <li>headers beyond the bounds of {@link BoundedTarInputStream} (8 MiB, configurable, per PAX header; 1 MiB per
 *       GNU long name, 1 MiB of global PAX headers in all, 16 headers or 4 MiB before one entry): an
 *       {@code IntegrityException}, raised before such a header is read into memory.</li>
 * </ol>
 *
 * <p><b>Skipped</b> with a warning and counted ({@code skipped}): character and block devices, FIFOs.
 *
 * <p><b>Written</b>: files are created with {@code O_EXCL} and without following links; an earlier file or link at
 * the same path is replaced (the link itself, never what it names), as tar does. Hard links are made with
 * {@code Files.createLink} (link(2), which does not follow a symbolic link). Modification times are set to the
 * nanosecond the archive gives (a PAX {@code mtime} record), a symbolic link's to the microsecond (Java 17 uses
 * lutimes for it). Modes keep only rwx for user, group
 * and others and the sticky bit (mask {@code 01777}: never set-user-ID or set-group-ID); owners are not restored.
 * Directories get their modes and times at the end, so a read-only directory can still be filled. Nothing is
 * written outside the staging directory, not even transiently. A damaged stream (gzip CRC, zstd checksum, a tar
 * header) fails the restore too.
 *
 * <p>Before any of this, {@link TargetPaths} refuses a target on a path another user controls. Memory is bounded
 * apart from one small record per directory and per symbolic link. One instance per restore; not thread-safe.
 */
final class TarExtraction {
    private static final Logger LOG = LoggerFactory.getLogger(DirectoryRestoreTarget.class);
    /** The mode bits restored: rwx for all, and sticky; never set-user-ID or set-group-ID. */
    static final int RESTORED_MODE_BITS = 01777;
    /** The longest path the kernel takes, in bytes, without the NUL (PATH_MAX 4096 on Linux). */
    static final int PATH_MAX = 4095;
    /** The longest name of one path component, in bytes. */
    static final int NAME_MAX = 255;

    private static final int BUFFER_SIZE = DirectorySource.BUFFER_SIZE;
    private static final String OUTSIDE_LINK_HINT = " (if the backed-up tree really had such a link, e.g."
            + " current -> /srv/shared, restore with allowSymlinksOutsideTarget(true): links are then restored as"
            + " links and nothing is ever written through them)";

    private final Path dest;
    private final Path staging;
    private final boolean allowOutsideLinks;
    private final String what;
    private final byte[] buffer = new byte[BUFFER_SIZE];
    private final List<DirectoryTimes> directories = new ArrayList<>();
    private final List<String> links = new ArrayList<>();
    private String verifiedParent = "";
    private int rootMode = -1;
    private FileTime rootTime;
    private FileSyncer syncer;
    long files;
    long directoriesCount;
    long symlinks;
    long hardLinks;
    long bytes;
    long skipped;
    long purged;

    TarExtraction(Path dest, Path staging, boolean allowOutsideLinks, String what) {
        this.what = what;
        this.dest = dest;
        this.staging = staging;
        this.allowOutsideLinks = allowOutsideLinks;
    }

    /** Files and directories are forced to disk by {@code syncer} (null: left to the kernel). */
    TarExtraction durable(FileSyncer syncer) {
        this.syncer = syncer;
        return this;
    }

    void run(InputStream plaintext) throws IOException {
        try (InputStream in = Compression.decompress(plaintext);
                TarArchiveInputStream tar = BoundedTarInputStream.open(in, what)) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                try {
                    extract(entry, tar);
                } catch (FileSystemException e) {
                    throw tooLong(entry.getName()).orElseThrow(() -> e);
                }
            }
            Compression.drainChecked(in); // a damaged gzip or zstd stream fails here, even past the tar's end
        }
    }

    private void extract(TarArchiveEntry entry, TarArchiveInputStream tar) throws IOException {
        String name = entry.getName();
        List<String> parts = components(name, name, "its path");
        if (parts.isEmpty()) {
            if (entry.isDirectory()) { // "./": the target directory itself
                rootMode = entry.getMode() & RESTORED_MODE_BITS;
                rootTime = entry.getLastModifiedTime();
                purge(staging, entry);
                return;
            }
            throw refuse(name, "it has an empty path");
        }
        String rel = String.join("/", parts);
        Path path = staging.resolve(rel);
        createParents(parts, name);
        if (entry.isDirectory()) {
            BasicFileAttributes a = lstat(path);
            if (a == null) {
                Files.createDirectory(path);
            } else if (!a.isDirectory()) {
                throw refuse(name, "an earlier entry at the same path is not a directory");
            } else {
                purge(path, entry);
            }
            directories.add(
                    new DirectoryTimes(path, entry.getMode() & RESTORED_MODE_BITS, entry.getLastModifiedTime()));
            directoriesCount++;
        } else if (entry.isSymbolicLink()) {
            String linkName = entry.getLinkName();
            checkSymlinkTarget(parts, linkName, name);
            removeNonDirectory(path, name);
            Files.createSymbolicLink(path, staging.getFileSystem().getPath(linkName));
            try {
                FileTrees.setModifiedTime(path, entry.getLastModifiedTime());
            } catch (IOException | UnsupportedOperationException e) {
                LOG.debug("Cannot set the time of link {}: {}", path, e.toString());
            }
            links.add(rel);
            symlinks++;
        } else if (entry.isLink()) {
            List<String> targetParts = components(entry.getLinkName(), name, "its hard-link target");
            if (targetParts.isEmpty() || targetParts.equals(parts)) {
                throw refuse(name, "its hard-link target \"" + entry.getLinkName() + "\" is not a file");
            }
            Path linkTarget = staging.resolve(String.join("/", targetParts));
            checkEarlierFile(targetParts, linkTarget, name, entry.getLinkName());
            removeNonDirectory(path, name);
            Files.createLink(path, linkTarget);
            hardLinks++;
        } else if (entry.isCharacterDevice() || entry.isBlockDevice() || entry.isFIFO()) {
            LOG.warn("Skipping entry \"{}\": devices and FIFOs are not restored", name);
            skipped++;
        } else if (isRegularFile(entry)) {
            if (!tar.canReadEntryData(entry)) {
                throw refuse(name, "its data is stored in a way this reader does not support (sparse?)");
            }
            removeNonDirectory(path, name);
            java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(
                    path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            try {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(buffer);
                int n;
                while ((n = tar.read(buffer)) >= 0) {
                    b.clear().limit(n);
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                    bytes += n;
                }
            } catch (IOException | RuntimeException e) {
                out.close();
                throw e;
            }
            if (syncer != null) {
                syncer.add(out); // forced to disk and closed on the syncer's thread
            } else {
                out.close();
            }
            FileTrees.setMode(path, entry.getMode() & RESTORED_MODE_BITS);
            FileTrees.setModifiedTime(path, entry.getLastModifiedTime());
            files++;
        } else {
            throw refuse(name, "its type '" + (char) entry.getLinkFlag() + "' is not supported");
        }
    }

    /**
     * GNU tar's incremental extraction ({@code tar -x -g}): a directory entry with a {@code GNU.dumpdir} record
     * lists what the directory holds at that backup, so an entry already staged (by an earlier link of a chain) that
     * it does not list, or lists with another type (a directory where it says file, or the reverse), is deleted,
     * without following links. The directory is also made writable for its owner meanwhile (its mode is set at the
     * end). Only ever deletes inside the staging directory: the names come from listing the directory, not from the
     * archive.
     */
    private void purge(Path dir, TarArchiveEntry entry) throws IOException {
        String dumpdir = entry.getExtraPaxHeader(DirectorySource.DUMPDIR);
        if (dumpdir == null) {
            return;
        }
        FileTrees.setMode(dir, FileTrees.mode(dir, 0700) | 0700);
        Dumpdir listed = new Dumpdir(dumpdir);
        List<Path> children = new ArrayList<>();
        try (java.nio.file.DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            s.forEach(children::add);
        }
        for (Path child : children) {
            char flag = listed.flag(child.getFileName().toString());
            BasicFileAttributes a = lstat(child);
            if (a == null) {
                continue;
            }
            boolean isDir = a.isDirectory();
            if (flag == 0 || (flag == 'D') != isDir) {
                FileTrees.delete(child);
                // its directories' modes and times are not set at the end: a later entry may put a symbolic link
                // where they were, and setting them would follow it out of the staging directory
                directories.removeIf(d -> d.path().startsWith(child));
                purged++;
                verifiedParent = "\0"; // checked directories may be gone: check parents again (no name has a NUL)
            }
        }
    }

    private static boolean isRegularFile(TarArchiveEntry entry) {
        byte flag = entry.getLinkFlag();
        return flag == TarConstants.LF_NORMAL || flag == TarConstants.LF_OLDNORM || flag == TarConstants.LF_CONTIG;
    }

    /** The path's components without empty and "." ones; refuses absolute paths and "..". */
    private List<String> components(String path, String entryName, String what) {
        if (path == null) {
            return List.of();
        }
        if (path.startsWith("/")) {
            throw refuse(entryName, what + " \"" + path + "\" is absolute");
        }
        if (path.indexOf('\0') >= 0) {
            throw refuse(entryName, what + " contains a NUL character");
        }
        List<String> parts = new ArrayList<>();
        for (String part : path.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                throw refuse(entryName, what + " \"" + path + "\" has a \"..\" component");
            }
            parts.add(part);
        }
        return parts;
    }

    /** Creates the missing parents of an entry; refuses parents that are links or not directories. */
    private void createParents(List<String> parts, String entryName) throws IOException {
        String parentRel = String.join("/", parts.subList(0, parts.size() - 1));
        if (parentRel.equals(verifiedParent)) {
            return; // directories we checked are never removed or replaced
        }
        Path p = staging;
        for (int i = 0; i < parts.size() - 1; i++) {
            p = p.resolve(parts.get(i));
            BasicFileAttributes a = lstat(p);
            if (a == null) {
                Files.createDirectory(p);
            } else if (a.isSymbolicLink()) {
                throw refuse(
                        entryName,
                        "its parent \"" + String.join("/", parts.subList(0, i + 1))
                                + "\" is a symbolic link extracted earlier; writing through it could leave the target");
            } else if (!a.isDirectory()) {
                throw refuse(
                        entryName,
                        "its parent \"" + String.join("/", parts.subList(0, i + 1)) + "\" is not a directory");
            }
        }
        verifiedParent = parentRel;
    }

    /** Refuses a symlink whose target is absolute or leads, from the link's directory, outside the root. */
    private void checkSymlinkTarget(List<String> parts, String linkName, String entryName) {
        if (linkName == null || linkName.isEmpty()) {
            throw refuse(entryName, "it is a symbolic link with an empty target");
        }
        if (linkName.startsWith("/") && !allowOutsideLinks) {
            throw refuse(
                    entryName,
                    "it is a symbolic link to the absolute path \"" + linkName + "\", outside the target"
                            + OUTSIDE_LINK_HINT);
        }
        if (linkName.indexOf('\0') >= 0) {
            throw refuse(entryName, "its link target contains a NUL character");
        }
        if (allowOutsideLinks) {
            return; // allowed: extraction never writes through a link, so such a link cannot leak data out
        }
        int depth = parts.size() - 1;
        for (String part : linkName.split("/")) {
            if (part.equals("..")) {
                if (--depth < 0) {
                    throw refuse(
                            entryName,
                            "it is a symbolic link to \"" + linkName + "\", which points outside the target"
                                    + OUTSIDE_LINK_HINT);
                }
            } else if (!part.isEmpty() && !part.equals(".")) {
                depth++;
            }
        }
    }

    /** Refuses a hard link unless its target is a regular file extracted earlier, reached without links. */
    private void checkEarlierFile(List<String> targetParts, Path linkTarget, String entryName, String linkName)
            throws IOException {
        Path p = staging;
        for (int i = 0; i < targetParts.size() - 1; i++) {
            p = p.resolve(targetParts.get(i));
            BasicFileAttributes a = lstat(p);
            if (a == null || !a.isDirectory() || a.isSymbolicLink()) {
                throw refuse(entryName, "its hard-link target \"" + linkName + "\" is not a file extracted earlier");
            }
        }
        BasicFileAttributes a = lstat(linkTarget);
        if (a == null || !a.isRegularFile()) {
            throw refuse(entryName, "its hard-link target \"" + linkName + "\" is not a file extracted earlier");
        }
    }

    /** Makes room for a file or link: an earlier file or link at the path is replaced (tar semantics). */
    private void removeNonDirectory(Path path, String entryName) throws IOException {
        BasicFileAttributes a = lstat(path);
        if (a == null) {
            return;
        }
        if (a.isDirectory()) {
            throw refuse(entryName, "an earlier entry at the same path is a directory");
        }
        Files.delete(path); // a link itself, never its target
    }

    /**
     * Checks every extracted link again, now that all exist: resolving it inside the staging directory, following
     * the links it meets as the kernel would, must never climb above the root.
     */
    private void checkLinksStayInside() throws IOException {
        for (String link : links) {
            List<String> resolved = new ArrayList<>();
            Deque<String> pending = new ArrayDeque<>(List.of(link.split("/")));
            int hops = 0;
            while (!pending.isEmpty()) {
                String part = pending.pollFirst();
                if (part.isEmpty() || part.equals(".")) {
                    continue;
                }
                if (part.equals("..")) {
                    if (resolved.isEmpty()) {
                        throw refuse(
                                link,
                                "the symbolic link, followed through the links it meets, "
                                        + "points outside the target");
                    }
                    resolved.remove(resolved.size() - 1);
                    continue;
                }
                resolved.add(part);
                Path p = staging.resolve(String.join("/", resolved));
                BasicFileAttributes a = lstat(p);
                if (a == null || !a.isSymbolicLink()) {
                    continue;
                }
                if (++hops > 40) {
                    break; // a loop: the kernel refuses to follow it (ELOOP)
                }
                String linkTarget = Files.readSymbolicLink(p).toString();
                if (linkTarget.startsWith("/")) {
                    throw refuse(link, "it leads to the absolute link target \"" + linkTarget + "\"");
                }
                resolved.remove(resolved.size() - 1);
                String[] targetParts = linkTarget.split("/");
                for (int i = targetParts.length - 1; i >= 0; i--) {
                    pending.addFirst(targetParts[i]);
                }
            }
        }
    }

    void finish(int targetMode) throws IOException {
        if (!allowOutsideLinks) {
            checkLinksStayInside();
        }
        for (int i = directories.size() - 1; i >= 0; i--) {
            DirectoryTimes d = directories.get(i);
            if (!staysInside(d.path())) {
                LOG.warn("Not setting the mode and time of {}: a symbolic link now stands on its path", d.path());
                continue;
            }
            FileTrees.setMode(d.path(), d.mode());
            FileTrees.setModifiedTime(d.path(), d.time());
        }
        int mode = rootMode >= 0 ? rootMode : targetMode >= 0 ? targetMode : 0755;
        FileTrees.setMode(staging, mode);
        if (rootTime != null) {
            FileTrees.setModifiedTime(staging, rootTime);
        }
        if (syncer != null) {
            List<Path> dirs = new ArrayList<>();
            for (DirectoryTimes d : directories) {
                if (staysInside(d.path()) && Files.isDirectory(d.path(), LinkOption.NOFOLLOW_LINKS)) {
                    dirs.add(d.path());
                }
            }
            dirs.add(staging);
            syncer.finish(dirs);
        }
    }

    Map<String, Object> facts() {
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("target", dest.toString());
        facts.put("files", files);
        facts.put("directories", directoriesCount);
        facts.put("symlinks", symlinks);
        facts.put("hardLinks", hardLinks);
        facts.put("bytes", bytes);
        facts.put("skipped", skipped);
        return facts;
    }

    /** When the staged path of an entry is longer than the kernel takes, the error saying so and what to do. */
    private Optional<RestoreException> tooLong(String entryName) {
        List<String> parts = components(entryName, entryName, "its path");
        Path staged = staging.resolve(String.join("/", parts));
        int bytes = staged.toString().getBytes(StandardCharsets.UTF_8).length;
        boolean longName = parts.stream().anyMatch(p -> p.getBytes(StandardCharsets.UTF_8).length > NAME_MAX);
        if (bytes <= PATH_MAX && !longName) {
            return Optional.empty();
        }
        int extra = staging.toString().length() - dest.toString().length();
        String shown = entryName.length() <= 200
                ? entryName
                : entryName.substring(0, 120) + "…" + entryName.substring(entryName.length() - 60);
        return Optional.of(new RestoreException(
                "Cannot restore entry \"" + shown + "\" into " + dest + ": "
                        + (longName
                                ? "one of its names is longer than " + NAME_MAX + " bytes"
                                : "its path while staged is " + bytes + " bytes, too long for the system (at most "
                                        + PATH_MAX + ")")
                        + (extra > 0
                                ? "; staging inside the target (in place) adds " + extra + " bytes to every"
                                        + " path. Restore into a directory with a path at least that much shorter (not a mount point, or"
                                        + " with inPlace(false)), then move the content into place"
                                : ". Restore into a target with a shorter path")
                        + ". The target was not changed.",
                null,
                dest.toString(),
                null));
    }

    private RestoreException refuse(String entryName, String why) {
        return new RestoreException(
                "Refusing to restore entry \"" + entryName + "\" into " + dest + ": " + why
                        + ". The backup may be malicious or corrupt; nothing was written outside the staging directory "
                        + "and the target was not changed.",
                null,
                dest.toString(),
                null);
    }

    private static BasicFileAttributes lstat(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** True when no component of {@code path} below the staging directory is a symbolic link (or gone). */
    private boolean staysInside(Path path) throws IOException {
        for (Path p = path; p != null && p.startsWith(staging) && !p.equals(staging); p = p.getParent()) {
            BasicFileAttributes a = lstat(p);
            if (a == null || !a.isDirectory()) {
                return false;
            }
        }
        return true;
    }

    private record DirectoryTimes(Path path, int mode, FileTime time) {}

    /**
     * The names of a {@code GNU.dumpdir} record ({@code Fname\0} items, the flag first), looked up without a string
     * per name: the items' offsets in the record, sorted by name (a merge sort: n log n comparisons whatever the
     * names, so a hostile record cannot make it slow), searched by bisection. Memory is the record and two int arrays
     * of one slot per item (a directory of 100,000 names: 800 KB besides the record). When a name is listed twice,
     * the later item counts, as it would in a map.
     */
    static final class Dumpdir {
        private final String record;
        private final int[] items; // offsets of the items' flags, sorted by name

        Dumpdir(String record) {
            this.record = record;
            int count = 0;
            for (int start = 0; start < record.length(); start = nameEnd(start) + 1) {
                if (nameEnd(start) - start > 1) {
                    count++;
                }
            }
            int[] offsets = new int[count];
            int n = 0;
            for (int start = 0; start < record.length(); start = nameEnd(start) + 1) {
                if (nameEnd(start) - start > 1) { // a flag and a name; the record ends with an empty item
                    offsets[n++] = start;
                }
            }
            int[] scratch = new int[count];
            sort(offsets, scratch, 0, count);
            items = offsets;
        }

        /** The flag ({@code Y}, {@code N}, {@code D}, …) the record gives {@code name}, or 0 when it lists none. */
        char flag(String name) {
            int lo = 0;
            int hi = items.length - 1;
            int found = -1;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                int c = compare(items[mid], name);
                if (c < 0) {
                    lo = mid + 1;
                } else if (c > 0) {
                    hi = mid - 1;
                } else {
                    found = mid;
                    lo = mid + 1; // the last of equal names: the later item (the sort is stable)
                }
            }
            return found < 0 ? 0 : record.charAt(items[found]);
        }

        /** The end (the NUL, or the record's end) of the item starting at {@code from}. */
        private int nameEnd(int from) {
            int end = record.indexOf('\0', from);
            return end < 0 ? record.length() : end;
        }

        /** The name of the item whose flag is at {@code a} against {@code name}. */
        private int compare(int a, String name) {
            int end = nameEnd(a + 1);
            int len = end - a - 1;
            int n = Math.min(len, name.length());
            for (int i = 0; i < n; i++) {
                int c = Character.compare(record.charAt(a + 1 + i), name.charAt(i));
                if (c != 0) {
                    return c;
                }
            }
            return Integer.compare(len, name.length());
        }

        /** The names of the items whose flags are at {@code a} and {@code b}. */
        private int compare(int a, int b) {
            int i = a + 1;
            int j = b + 1;
            while (true) {
                char x = i < record.length() ? record.charAt(i) : '\0';
                char y = j < record.length() ? record.charAt(j) : '\0';
                if (x != y) {
                    return x == '\0' ? -1 : y == '\0' ? 1 : Character.compare(x, y);
                }
                if (x == '\0') {
                    return 0;
                }
                i++;
                j++;
            }
        }

        /** A stable merge sort of {@code a[from, to)} by name. */
        private void sort(int[] a, int[] scratch, int from, int to) {
            if (to - from < 2) {
                return;
            }
            int mid = (from + to) >>> 1;
            sort(a, scratch, from, mid);
            sort(a, scratch, mid, to);
            if (compare(a[mid - 1], a[mid]) <= 0) {
                return;
            }
            System.arraycopy(a, from, scratch, from, to - from);
            int i = from;
            int j = mid;
            for (int k = from; k < to; k++) {
                a[k] = j >= to || (i < mid && compare(scratch[i], scratch[j]) <= 0) ? scratch[i++] : scratch[j++];
            }
        }
    }
}
