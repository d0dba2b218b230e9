package com.jiffoo.backup.files;

import com.jiffoo.backup.internal.Processes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * The sibling directories a restore into {@code <parent>/<name>} makes, {@code .<name>.restore-<pid>-<random>} (the
 * staged tree) and {@code .<name>.old-<pid>-<random>} (the previous content while it is deleted), named after the
 * process that makes them, so the next restore into the same target can remove what a killed one left: a staged
 * tree, or a previous content the committed restore had not finished deleting. What a running process (the pid is
 * alive) or an unknown one (a name without a pid) owns is only reported. A previous content whose target is missing
 * (a restore killed between the two renames) is reported, never deleted: it is the only copy.
 */
final class StagingLeftovers {
    private static final Logger LOG = LoggerFactory.getLogger(StagingLeftovers.class);

    private StagingLeftovers() {
    }

    /** The name prefix of a new staging directory for {@code target}. */
    static String staging(Path target) {
        return "." + target.getFileName() + ".restore-" + Processes.pid() + "-";
    }

    /** The name prefix of the directory the previous content of {@code target} is moved to. */
    static String old(Path target) {
        return "." + target.getFileName() + ".old-" + Processes.pid() + "-";
    }

    /** Removes (or reports) what killed restores into {@code target} left beside it. Never throws. */
    static void clean(Path target) {
        String staging = "." + target.getFileName() + ".restore-";
        String old = "." + target.getFileName() + ".old-";
        try (DirectoryStream<Path> siblings = Files.newDirectoryStream(target.getParent(),
                p -> p.getFileName().toString().startsWith(staging) || p.getFileName().toString().startsWith(old))) {
            for (Path p : siblings) {
                String name = p.getFileName().toString();
                boolean isStaging = name.startsWith(staging);
                long pid = Processes.pidIn(name, isStaging ? staging : old);
                if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                if (pid < 0 || Processes.running(pid, null)) {
                    LOG.warn("left {} beside the restore target: {}", p, pid < 0 ? "its process is unknown; delete"
                            + " it by hand once no restore into " + target + " runs" : "process " + pid
                            + " that made it is running (another restore into " + target + "?)");
                } else if (!isStaging && !Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                    LOG.warn("{} holds the previous content of {}, which is missing: a restore (process {}) was killed"
                            + " while swapping them. Move it back by hand (mv {} {}) or delete it.", p, target, pid,
                            p, target);
                } else if (FileTrees.deleteQuietly(p)) {
                    LOG.warn("removed {}, the {} that a killed restore (process {}) left beside {}", p,
                            isStaging ? "staging directory" : "previous content", pid, target);
                }
            }
        } catch (IOException e) {
            LOG.warn("could not look for what killed restores left beside {}: {}", target, e.toString());
        }
    }
}
