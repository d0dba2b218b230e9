package com.jiffoo.backup.files;

import com.jiffoo.backup.internal.Processes;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sibling directories a restore into {@code <parent>/<name>} makes — the staged tree, and the previous content
 * while it is deleted — have short random names ({@code .<random>}, never longer than the target's own, so that
 * paths stay restorable), so each gets a marker file beside it, {@code .<random>.jiffoo-restore-<pid>} or
 * {@code .<random>.jiffoo-old-<pid>}, holding the target's name. The next restore into the same target removes what
 * a killed one left (its process is gone): a staged tree, or a previous content the committed restore had not
 * finished deleting. What a running process owns is only reported, and a previous content whose target is missing
 * (a restore killed between the two renames) is reported, never deleted: it is the only copy.
 */
final class StagingLeftovers {
    private static final Logger LOG = LoggerFactory.getLogger(StagingLeftovers.class);
    /** The staged tree. */
    static final String STAGING = "restore";
    /** The previous content. */
    static final String OLD = "old";

    private static final Pattern MARKER = Pattern.compile("(\\..+)\\.jiffoo-(restore|old)-([0-9]+)");
    private static final int MAX_MARKER_BYTES = 4096;

    private StagingLeftovers() {}

    /** Marks {@code dir} (beside {@code target}) as this process's {@code kind}; returns {@code dir}. */
    static Path register(Path dir, Path target, String kind) throws IOException {
        Files.writeString(
                marker(dir, kind, Processes.pid()), target.getFileName().toString(), StandardCharsets.UTF_8);
        return dir;
    }

    /** Removes this process's marker of {@code dir}, once the directory is gone or has become the target. */
    static void forget(Path dir, String kind) {
        try {
            Files.deleteIfExists(marker(dir, kind, Processes.pid()));
        } catch (IOException e) {
            LOG.warn("could not remove the marker of {}: {}", dir, e.toString());
        }
    }

    private static Path marker(Path dir, String kind, long pid) {
        return dir.resolveSibling(dir.getFileName() + ".jiffoo-" + kind + "-" + pid);
    }

    /** Removes (or reports) what killed restores into {@code target} left beside it. Never throws. */
    static void clean(Path target) {
        String name = target.getFileName().toString();
        try (DirectoryStream<Path> siblings = Files.newDirectoryStream(
                target.getParent(),
                p -> MARKER.matcher(p.getFileName().toString()).matches())) {
            for (Path marker : siblings) {
                Matcher m = MARKER.matcher(marker.getFileName().toString());
                if (!m.matches()
                        || !Files.isRegularFile(marker, LinkOption.NOFOLLOW_LINKS)
                        || !name.equals(read(marker))) {
                    continue;
                }
                Path dir = marker.resolveSibling(m.group(1));
                boolean isStaging = m.group(2).equals(STAGING);
                long pid = Long.parseLong(m.group(3));
                if (Processes.running(pid, null)) {
                    LOG.warn(
                            "left {} beside the restore target: process {} that made it is running (another"
                                    + " restore into {}?)",
                            dir,
                            pid,
                            target);
                } else if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    Files.deleteIfExists(marker); // its directory went (renamed into place, or deleted)
                } else if (!isStaging && !Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                    LOG.warn(
                            "{} holds the previous content of {}, which is missing: a restore (process {}) was killed"
                                    + " while swapping them. Move it back by hand (mv {} {}) or delete it.",
                            dir,
                            target,
                            pid,
                            dir,
                            target);
                } else if (FileTrees.deleteQuietly(dir)) {
                    Files.deleteIfExists(marker);
                    LOG.warn(
                            "removed {}, the {} that a killed restore (process {}) left beside {}",
                            dir,
                            isStaging ? "staging directory" : "previous content",
                            pid,
                            target);
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not look for what killed restores left beside {}: {}", target, e.toString());
        }
    }

    private static String read(Path marker) throws IOException {
        try (InputStream in = Files.newInputStream(marker, LinkOption.NOFOLLOW_LINKS)) {
            return new String(in.readNBytes(MAX_MARKER_BYTES), StandardCharsets.UTF_8);
        }
    }
}
