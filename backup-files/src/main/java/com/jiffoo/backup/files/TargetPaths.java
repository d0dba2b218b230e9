package com.jiffoo.backup.files;

import com.jiffoo.backup.RestoreException;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;

/**
 * Refuses a restore target whose path another user could change while a restore runs, so a restore never writes or
 * deletes through a path someone else controls. Every component of the path, from {@code /} down, must be owned by
 * root or by the user running the restore, and no directory on the way may be writable by others (the world, or a
 * group other than the user's own) unless it has the sticky bit (like {@code /tmp}: there, only an entry's owner can
 * rename or replace it). The target itself must not be a symbolic link: the restore replaces what the link names,
 * and whoever can change the link would choose what is deleted. Links further up are followed, and the path they
 * lead to is checked the same way. Restored in place, the target holds the staging directory, so it is checked like
 * the directories above it.
 *
 * <p>Only on file systems with Unix attributes; elsewhere nothing is checked.
 */
final class TargetPaths {
    private static final boolean UNIX =
            FileSystems.getDefault().supportedFileAttributeViews().contains("unix");
    private static final int MAX_LINKS = 40; // as the kernel: ELOOP after 40 links

    private TargetPaths() {}

    /**
     * Checks the target's path.
     *
     * @param target absolute and normalised
     * @param inside true when the restore stages inside the target (in place)
     * @throws RestoreException naming the component and how to proceed
     */
    static void check(Path target, boolean inside) throws IOException {
        if (!UNIX) {
            return;
        }
        Ids me = Ids.current();
        Map<String, Object> t = attributes(target);
        if (t != null && (Boolean) t.get("isSymbolicLink")) {
            String advice;
            try {
                Path real = target.toRealPath();
                advice = "If " + real + " is the directory you mean, restore into the real path " + real
                        + " instead; otherwise remove the link";
            } catch (IOException e) {
                advice = "It points to " + Files.readSymbolicLink(target) + ", which does not resolve; remove the"
                        + " link, or restore into a real directory";
            }
            throw refuse(
                    target,
                    target + " is a symbolic link (owned by " + owner(t) + "). A restore never replaces "
                            + "a directory through a link: whoever can change the link would choose what is deleted. "
                            + advice);
        }
        Path parent = walk(target.getParent(), me);
        if (t != null && (inside || shared(attributes(parent), me))) {
            checkOwner(target, t, me);
        }
        if (t != null && inside) {
            checkNotWritableByOthers(target, t, me);
        }
    }

    /**
     * Walks {@code dir} from the root as the kernel resolves it, following links, checking every component met;
     * returns the real directory reached (or where the walk stopped, at the first component that does not exist).
     */
    private static Path walk(Path dir, Ids me) throws IOException {
        Deque<String> pending = new ArrayDeque<>();
        dir.forEach(p -> pending.add(p.toString()));
        Path cur = dir.getRoot();
        Map<String, Object> a = attributes(cur);
        checkOwner(cur, a, me);
        int links = 0;
        while (!pending.isEmpty()) {
            String part = pending.pollFirst();
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) { // cur is a real directory: its parent is where ".." leads
                cur = cur.getParent() == null ? cur : cur.getParent();
                a = attributes(cur);
                continue;
            }
            checkNotWritableByOthers(cur, a, me);
            Path next = cur.resolve(part);
            Map<String, Object> b = attributes(next);
            if (b == null) {
                return next; // the rest does not exist yet: the restore creates it
            }
            checkOwner(next, b, me);
            if ((Boolean) b.get("isSymbolicLink")) {
                if (++links > MAX_LINKS) {
                    throw refuse(dir, "too many symbolic links on the way to " + dir);
                }
                Path linkTarget = Files.readSymbolicLink(next);
                List<String> parts = new ArrayList<>();
                linkTarget.forEach(p -> parts.add(p.toString()));
                for (int i = parts.size() - 1; i >= 0; i--) {
                    pending.addFirst(parts.get(i));
                }
                if (linkTarget.isAbsolute()) {
                    cur = linkTarget.getRoot();
                    a = attributes(cur);
                }
                continue;
            }
            cur = next;
            a = b;
        }
        if ((Boolean) a.get("isDirectory")) {
            checkNotWritableByOthers(cur, a, me);
        }
        return cur;
    }

    private static void checkOwner(Path p, Map<String, Object> a, Ids me) {
        int uid = (Integer) a.get("uid");
        if (uid != 0 && uid != me.uid) {
            throw refuse(
                    p,
                    p + " is owned by " + owner(a) + ", who could replace it (or what it holds) with a link "
                            + "while the restore runs. Restore as that user, or into a directory that only root or you "
                            + "control (then move it into place)");
        }
    }

    private static void checkNotWritableByOthers(Path dir, Map<String, Object> a, Ids me) {
        int mode = (Integer) a.get("mode");
        if ((mode & 01000) != 0) {
            return; // sticky: others cannot rename or replace our entries
        }
        boolean world = (mode & 0002) != 0;
        boolean group = (mode & 0020) != 0 && (Integer) a.get("gid") != me.gid;
        if (world || group) {
            throw refuse(
                    dir,
                    dir + " is writable by others (" + (world ? "everyone" : "group " + group(a))
                            + "), who could replace what the restore goes through with a link. Make it safe with chmod o-w,g-w "
                            + dir
                            + " (or chmod +t for a shared directory like /tmp), or restore into a directory that only "
                            + "root or you can write");
        }
    }

    /** True when {@code dir} is sticky and writable by others: entries owned by someone else are theirs. */
    private static boolean shared(Map<String, Object> dir, Ids me) {
        if (dir == null) {
            return false;
        }
        int mode = (Integer) dir.get("mode");
        boolean othersWrite = (mode & 0002) != 0 || (mode & 0020) != 0 && (Integer) dir.get("gid") != me.gid;
        return (mode & 01000) != 0 && othersWrite;
    }

    private static Map<String, Object> attributes(Path p) throws IOException {
        try {
            return Files.readAttributes(
                    p, "unix:uid,gid,mode,owner,group,isSymbolicLink,isDirectory", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static String owner(Map<String, Object> a) {
        Object o = a.get("owner");
        return o instanceof UserPrincipal u ? u.getName() : "uid " + a.get("uid");
    }

    private static String group(Map<String, Object> a) {
        Object g = a.get("group");
        return g instanceof GroupPrincipal p ? p.getName() : "gid " + a.get("gid");
    }

    private static RestoreException refuse(Path where, String why) {
        return new RestoreException(
                "Refusing to restore into " + where + ": " + why + ". Nothing was changed.",
                null,
                where.toString(),
                null);
    }

    /** The user and primary group running this process. */
    private record Ids(int uid, int gid) {
        static Ids current() throws IOException {
            Path self = Path.of("/proc/self");
            if (Files.isDirectory(self)) {
                Map<String, Object> a = Files.readAttributes(self, "unix:uid,gid");
                return new Ids((Integer) a.get("uid"), (Integer) a.get("gid"));
            }
            // no /proc: a file just created belongs to us and our primary group (or the directory's, when setgid)
            Path probe = Files.createTempFile("jiffoo-uid-", "");
            try {
                Map<String, Object> a = Files.readAttributes(probe, "unix:uid,gid");
                return new Ids((Integer) a.get("uid"), (Integer) a.get("gid"));
            } finally {
                Files.deleteIfExists(probe);
            }
        }
    }
}
