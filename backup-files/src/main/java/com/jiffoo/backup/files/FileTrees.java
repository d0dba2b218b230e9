package com.jiffoo.backup.files;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** File-system helpers of the restore target: modes, times and deleting trees without following links. */
final class FileTrees {

    private static final Logger LOG = LoggerFactory.getLogger(FileTrees.class);
    private static final boolean UNIX_VIEW =
            FileSystems.getDefault().supportedFileAttributeViews().contains("unix");
    private static final boolean POSIX_VIEW =
            FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    private static final PosixFilePermission[] PERMISSIONS = PosixFilePermission.values();
    private static final Set<PosixFilePermission> OWNER_ALL = EnumSet.of(
            PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);

    private FileTrees() {}

    /** Sets the permission bits (and the sticky bit where possible) of a file or directory, not following links. */
    static void setMode(Path path, int mode) throws IOException {
        if (UNIX_VIEW) {
            Files.setAttribute(path, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
        } else if (POSIX_VIEW) {
            Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
            for (PosixFilePermission p : PERMISSIONS) {
                if ((mode & (1 << (8 - p.ordinal()))) != 0) {
                    perms.add(p);
                }
            }
            Files.setPosixFilePermissions(path, perms);
        }
    }

    /** The permission bits of a path, not following links; {@code fallback} where the file system has none. */
    static int mode(Path path, int fallback) throws IOException {
        if (UNIX_VIEW) {
            return ((Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
        }
        if (POSIX_VIEW) {
            int mode = 0;
            for (PosixFilePermission p : Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS)) {
                mode |= 1 << (8 - p.ordinal());
            }
            return mode;
        }
        return fallback;
    }

    /** Sets the modification time of a path itself (of a link, not its target). */
    static void setModifiedTime(Path path, FileTime time) throws IOException {
        Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(time, null, null);
    }

    /**
     * Deletes a tree without following symbolic links, first giving its owner access to directories that lack it.
     * Where the platform has {@link SecureDirectoryStream} (Linux), every step is relative to a directory already
     * open and no link is ever followed (openat with O_NOFOLLOW, unlinkat): someone who owns part of the tree (the
     * previous content of a target another user writes to) cannot make it delete elsewhere by swapping a directory
     * for a link while it runs. Never throws.
     *
     * @return true when the tree is gone
     */
    static boolean deleteQuietly(Path root) {
        try {
            delete(root);
            return true;
        } catch (IOException | RuntimeException e) {
            LOG.warn("Could not delete {}: {}. Delete it by hand.", root, e.toString());
            return false;
        }
    }

    /** Deletes a file, link or tree as {@link #deleteQuietly} does, but throws when it fails. */
    static void delete(Path root) throws IOException {
        BasicFileAttributes a = attributes(root);
        if (a == null) {
            return;
        }
        if (!a.isDirectory()) {
            Files.deleteIfExists(root);
            return;
        }
        Path abs = root.toAbsolutePath();
        try (DirectoryStream<Path> parent = Files.newDirectoryStream(abs.getParent())) {
            if (parent instanceof SecureDirectoryStream<Path> secure) {
                deleteBelow(secure, abs.getFileName());
                return;
            }
        }
        deleteByPath(root);
    }

    /** Deletes the directory {@code name} of {@code parent} and all it holds, through open directories only. */
    private static void deleteBelow(SecureDirectoryStream<Path> parent, Path name) throws IOException {
        PosixFileAttributeView view =
                parent.getFileAttributeView(name, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (view != null) {
            Set<PosixFilePermission> perms = view.readAttributes().permissions();
            if (!perms.containsAll(OWNER_ALL)) {
                Set<PosixFilePermission> more = EnumSet.copyOf(OWNER_ALL);
                more.addAll(perms);
                view.setPermissions(more);
            }
        }
        try (SecureDirectoryStream<Path> dir = parent.newDirectoryStream(name, LinkOption.NOFOLLOW_LINKS)) {
            List<Path> children = new ArrayList<>();
            dir.forEach(c -> children.add(c.getFileName()));
            for (Path child : children) {
                BasicFileAttributes a;
                try {
                    a = dir.getFileAttributeView(child, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                            .readAttributes();
                } catch (NoSuchFileException e) {
                    continue;
                }
                if (a.isDirectory()) {
                    deleteBelow(dir, child);
                } else {
                    try {
                        dir.deleteFile(child); // a link itself, never its target
                    } catch (NoSuchFileException e) {
                        // gone already
                    }
                }
            }
        }
        parent.deleteDirectory(name);
    }

    /** The walk by path, where the platform has no {@link SecureDirectoryStream}. */
    private static void deleteByPath(Path root) throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                int mode = mode(dir, 0700);
                if ((mode & 0700) != 0700) {
                    setMode(dir, mode | 0700);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                Files.deleteIfExists(file); // e.g. a directory we could not open: try anyway
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static BasicFileAttributes attributes(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }
}
