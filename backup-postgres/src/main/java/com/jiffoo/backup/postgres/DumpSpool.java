package com.jiffoo.backup.postgres;

import com.jiffoo.backup.internal.LocalPaths;
import com.jiffoo.backup.internal.Processes;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The plaintext copy of a dump that {@code pg_restore -j} needs (it cannot restore in parallel from a pipe), made so
 * that it never outlives the restore, even after a {@code kill -9}.
 *
 * <p>It is created 0600 in a private (0700) directory {@code jiffoo-pgrestore-<pid>-<random>} of the spool
 * directory. Where {@code /proc/self/fd} exists (Linux), the file is unlinked (and its directory removed) right after
 * it is opened, before a byte is written: it then lives only as long as a process holds it open. pg_restore gets it
 * as its standard input and reads it as {@code /proc/self/fd/0} (a regular, seekable file: its parallel workers
 * reopen the archive by that name and find the same file, inherited). Elsewhere the file keeps its name until
 * {@link #close()}; then {@link #removeStale} deletes what a killed run left, by its owner's pid.
 */
final class DumpSpool implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(DumpSpool.class);
    static final String PREFIX = "jiffoo-pgrestore-";
    /** A spool file of a version that named it {@code jiffoo-pgrestore-<random>.dump}, without its owner. */
    private static final String LEGACY_SUFFIX = ".dump";

    private static final Duration LEGACY_GRACE = Duration.ofHours(24);
    private static final Path PROC_FD = Path.of("/proc/self/fd");

    private final Path dir;
    private final Path file;
    private final FileChannel channel;
    /** {@code /proc/self/fd/N} of the unlinked file, or null when it keeps its name. */
    private final Path procFd;

    private DumpSpool(Path dir, Path file, FileChannel channel, Path procFd) {
        this.dir = dir;
        this.file = file;
        this.channel = channel;
        this.procFd = procFd;
    }

    /** Creates the spool in {@code parent} (after removing what killed runs left there). */
    static DumpSpool create(Path parent) throws IOException {
        removeStale(parent);
        Path dir = Files.createTempDirectory(
                parent,
                PREFIX + Processes.pid() + "-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path file = dir.resolve("dump");
        FileChannel ch = FileChannel.open(
                file,
                EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Path fd = openDescriptor(file);
        if (fd != null) {
            Files.delete(file);
            Files.delete(dir);
        }
        return new DumpSpool(dir, file, ch, fd);
    }

    /** {@code /proc/self/fd/N} naming {@code file}, which this process just opened; null without /proc. */
    private static Path openDescriptor(Path file) {
        if (!Files.isDirectory(PROC_FD)) {
            return null;
        }
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(PROC_FD)) {
            for (Path fd : fds) {
                try {
                    if (Files.readSymbolicLink(fd).equals(file)) {
                        return Path.of(
                                "/proc",
                                Long.toString(Processes.pid()),
                                "fd",
                                fd.getFileName().toString());
                    }
                } catch (IOException closedMeanwhile) {
                    // another thread's descriptor, gone
                }
            }
        } catch (IOException e) {
            log.debug("cannot read {}: {}", PROC_FD, e.toString());
        }
        return null;
    }

    /** Copies {@code plaintext} into the spool; returns the bytes copied. */
    long write(InputStream plaintext) throws IOException {
        return plaintext.transferTo(Channels.newOutputStream(channel));
    }

    /** True when the file has no name (only open descriptors hold it). */
    boolean unlinked() {
        return procFd != null;
    }

    /** The archive argument of pg_restore: {@code /proc/self/fd/0} (see {@link #stdin()}) or the file's path. */
    String argument() {
        return procFd != null ? "/proc/self/fd/0" : file.toString();
    }

    /** pg_restore's standard input: the unlinked file, or a pipe (closed at once) when it keeps its name. */
    ProcessBuilder.Redirect stdin() {
        return procFd != null ? ProcessBuilder.Redirect.from(procFd.toFile()) : ProcessBuilder.Redirect.PIPE;
    }

    /** Closes the file (an unlinked one is freed when pg_restore, which holds it, exits), or deletes it. */
    @Override
    public void close() throws IOException {
        channel.close();
        if (procFd == null) {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * Deletes the spools in {@code parent} that killed runs left: a directory whose owner (the pid in its name) is no
     * longer running, and a spool file of an earlier version untouched for 24 hours. Never throws; logs what it
     * removed, and what it leaves.
     */
    static void removeStale(Path parent) {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(parent, PREFIX + "*")) {
            for (Path p : entries) {
                String name = p.getFileName().toString();
                long pid = Processes.pidIn(name, PREFIX);
                if (pid < 0 && !name.endsWith(LEGACY_SUFFIX)) {
                    continue;
                }
                boolean inUse = pid >= 0
                        ? Processes.running(pid, null)
                        : Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS)
                                        .compareTo(FileTime.from(Instant.now().minus(LEGACY_GRACE)))
                                > 0;
                if (inUse) {
                    log.warn(
                            "left the restore spool {}: {}",
                            p,
                            pid >= 0
                                    ? "process " + pid + " that made it is" + " running"
                                    : "it may belong to a running restore; it is removed once untouched for a"
                                            + " day");
                    continue;
                }
                LocalPaths.deleteTree(p);
                log.warn(
                        "removed the plaintext restore spool {} that a killed restore{} left",
                        p,
                        pid >= 0 ? " (process " + pid + ")" : "");
            }
        } catch (IOException e) {
            log.warn("could not remove the restore spools that killed restores left in {}: {}", parent, e.toString());
        }
    }
}
