package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.StagedRestore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link RestoreTarget} that extracts a tar archive, as written by {@link DirectorySource} or by GNU tar, into a
 * directory.
 *
 * <p><b>Staging.</b> {@link #stage} never touches the target: it extracts into a new sibling directory
 * {@code <parent>/.<random>} (created with mode 0700; its name never longer than the target's, so that a tree whose
 * paths reach PATH_MAX under the target can be staged) and returns a {@link StagedRestore}.
 * {@link StagedRestore#commit()} swaps it into place: an existing target is renamed to another such
 * {@code .<random>}, the staged tree is renamed to the target, then the old tree is deleted (if the second
 * rename fails, the old tree is put back). {@link StagedRestore#close()} without a commit deletes the staged tree.
 * A marker file beside each of these directories names it and the process that made it (see
 * {@link StagingLeftovers}), so the next restore into the same target removes what a killed restore left there, or
 * reports it when it may still be in use.
 * So a failed, refused or rejected restore leaves the previous content as it was. A target that is a mount point
 * (which cannot be renamed) is restored {@linkplain Builder#inPlace(boolean) in place} instead: staged in
 * {@code <target>/.jiffoo-restore-<random>}, its entries swapped on commit under a journal
 * ({@code <target>/.jiffoo-journal}): a swap interrupted by a kill or a crash is finished (or, when the staged tree
 * is gone, rolled back) by {@link #recover}, which the next {@link #stage} into the target calls first. An existing
 * non-empty target is refused unless
 * {@link Builder#replaceExisting(boolean) replaceExisting(true)} is set.
 *
 * <p><b>The target's path.</b> A restore never writes or deletes through a path another user controls: a target that
 * is a symbolic link is refused (the message names the real path to restore into instead), and so is a target
 * below a directory that someone other than root or the restoring user owns or can write (unless sticky, like
 * {@code /tmp}, where entries owned by others are refused in turn). In place, the target itself must meet the same
 * rule, as the staging directory lies inside it.
 *
 * <p><b>Input.</b> The compression is recognised by its magic bytes ({@link Compression}). The stream is read up to
 * the tar end-of-archive marker and is never closed: the caller owns it (the pipeline drains and closes it).
 *
 * <p><b>What is restored.</b> Regular files, directories, symbolic links (as links), hard links to files extracted
 * earlier (the same inode again, with {@code Files.createLink}), permission bits (rwx for user, group, others and the
 * sticky bit), modification times to the nanosecond when the archive has them (PAX {@code mtime} records, as
 * {@link DirectorySource} and GNU tar's {@code --format=posix} write them; of directories after their content, of
 * links themselves to the microsecond). Not restored: ownership (files belong to the user running the restore, as
 * with {@code tar --no-same-owner}), and therefore not the set-user-ID and set-group-ID bits either; access times,
 * ACLs, extended attributes. Character and block devices and FIFOs are skipped with a warning and counted in the
 * facts ({@code skipped}). The mode of the target directory itself comes from a {@code ./} entry when the archive has
 * one (GNU tar's {@code tar -C dir -cf - .}), else from the existing target, else 0755.
 *
 * <p><b>Safety.</b> Nothing is ever written outside the staging directory, not even transiently. The whole restore
 * is refused with a {@link RestoreException} naming the offending entry when the archive holds an absolute path, a
 * {@code ..} component, a link leading outside the target or a write through a link, among others: every rule is
 * listed in one place, {@link TarExtraction}. Memory is bounded apart from one small record per directory and per
 * symbolic link.
 *
 * <p>Instances are immutable and thread-safe. Do not run two restores into the same target at once.
 *
 * <pre>{@code
 * RestoreTarget target = DirectoryRestoreTarget.builder(Path.of("/srv/uploads"))
 *         .replaceExisting(true)
 *         .build();
 * try (StagedRestore staged = target.stage(plaintext, manifest)) {
 *     // ... check integrity ...
 *     staged.commit();
 * }
 * }</pre>
 */
public final class DirectoryRestoreTarget implements RestoreTarget {

    private static final Logger LOG = LoggerFactory.getLogger(DirectoryRestoreTarget.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String IN_PLACE_STAGING = InPlaceJournal.STAGING_PREFIX;
    private static final String IN_PLACE_OLD = InPlaceJournal.OLD_PREFIX;
    private static final String SIBLING_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";

    private final Path target;
    private final boolean replaceExisting;
    private final boolean allowSymlinksOutsideTarget;
    private final Boolean inPlace; // null: decide by whether the target is a mount point
    private final boolean durable;

    private DirectoryRestoreTarget(Builder b) {
        this.target = b.target;
        this.replaceExisting = b.replaceExisting;
        this.allowSymlinksOutsideTarget = b.allowSymlinksOutsideTarget;
        this.inPlace = b.inPlace;
        this.durable = b.durable;
    }

    /**
     * A builder for a target restoring into {@code target}, absolute or relative to the working directory.
     *
     * @throws NullPointerException when {@code target} is null
     * @throws IllegalArgumentException when {@code target} is a file-system root
     */
    public static Builder builder(Path target) {
        return new Builder(target);
    }

    /** A builder holding this target's settings. */
    public Builder toBuilder() {
        Builder b = new Builder(target)
                .replaceExisting(replaceExisting)
                .allowSymlinksOutsideTarget(allowSymlinksOutsideTarget);
        b.inPlace = inPlace;
        return b;
    }

    /** The directory restored into, absolute and normalised. */
    public Path target() {
        return target;
    }

    /** Whether an existing non-empty target may be replaced. */
    public boolean replaceExisting() {
        return replaceExisting;
    }

    /** The target directory. */
    @Override
    public Optional<Path> localPath() {
        return Optional.of(target);
    }

    /** E.g. {@code directory /srv/uploads}. */
    @Override
    public String describe() {
        return "directory " + target;
    }

    /** Returns true: nothing changes before {@link StagedRestore#commit()}. */
    @Override
    public boolean stagesSafely() {
        return true;
    }

    /**
     * Extracts the archive in {@code plaintext} into a new staging directory next to the target.
     *
     * @param plaintext the tar stream, gzip- or zstd-compressed or plain; read up to the end-of-archive marker,
     *                  not closed
     * @param manifest  the backup's manifest, used for logging only; may be null
     * @return the staged restore; the caller must {@linkplain StagedRestore#commit() commit} or
     *         {@linkplain StagedRestore#close() close} it. Its facts: {@code target}, {@code files},
     *         {@code directories}, {@code symlinks}, {@code hardLinks}, {@code bytes}, {@code skipped}
     * @throws RestoreException when the target exists and is not a directory, exists and is not empty without
     *                          {@code replaceExisting(true)}, is a symbolic link or lies on a path another user
     *                          controls, or when the archive is unsafe or malformed; the
     *                          staging directory is deleted and the target is unchanged
     * @throws IOException when reading {@code plaintext} or writing the staging directory fails; the staging
     *                     directory is deleted and the target is unchanged
     */
    /**
     * What {@link #stage} refuses before it writes anything, checked before the pipeline reads the backup: a path
     * another user controls or a symbolic link, a target that is not a directory, or one that is not empty without
     * {@code replaceExisting(true)} (unless an interrupted in-place restore's journal is there: {@link #stage}
     * finishes that first). {@link #stage} checks again.
     *
     * @throws RestoreException as {@link #stage} would, nothing read or written
     */
    @Override
    public void checkReady(BackupManifest manifest) {
        try {
            boolean inside = inPlace != null ? inPlace : isMountPoint(target);
            TargetPaths.check(target, inside);
            if (!InPlaceJournal.present(target)) {
                checkTarget(target);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // a parent that does not exist yet: stage creates it
        } catch (IOException e) {
            throw new RestoreException(
                    "Cannot check the restore target " + target + ": " + e.getMessage() + ". Nothing was restored.",
                    manifest == null ? null : manifest.objectKey(),
                    target.toString(),
                    e);
        }
    }

    @Override
    public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
        Objects.requireNonNull(plaintext, "plaintext");
        Path dest = target;
        boolean inside = inPlace != null ? inPlace : isMountPoint(dest);
        TargetPaths.check(dest, inside);
        Optional<Recovery> recovered = recover(dest);
        int targetMode = checkTarget(dest);
        Files.createDirectories(dest.getParent());
        TargetPaths.check(dest, inside); // again: the parents just created, and anything changed meanwhile
        if (inside) {
            Files.createDirectories(dest);
        } else {
            StagingLeftovers.clean(dest);
        }
        Path staging = inside
                ? Files.createTempDirectory(dest, IN_PLACE_STAGING)
                : StagingLeftovers.register(createSibling(dest), dest, StagingLeftovers.STAGING);
        LOG.info(
                "Restoring {}into {} (staging in {})",
                manifest == null ? "" : manifest.objectKey() + " ",
                dest,
                staging);
        boolean staged = false;
        try (FileSyncer syncer = durable ? new FileSyncer() : null) {
            TarExtraction x = new TarExtraction(
                            dest, staging, allowSymlinksOutsideTarget, BoundedTarInputStream.name(manifest))
                    .durable(syncer);
            x.run(plaintext);
            x.finish(targetMode);
            Map<String, Object> facts = x.facts();
            staged = true;
            LOG.info(
                    "Staged {} files, {} directories, {} symlinks, {} bytes for {}",
                    x.files,
                    x.directoriesCount,
                    x.symlinks,
                    x.bytes,
                    dest);
            if (inside) {
                facts.put("inPlace", true);
            }
            recovered.ifPresent(r -> facts.put("recovered", r.name().toLowerCase(java.util.Locale.ROOT)));
            return inside
                    ? new StagedInPlace(dest, staging, replaceExisting, facts)
                    : new StagedDirectory(dest, staging, replaceExisting, facts);
        } catch (BackupException | IOException e) {
            throw e;
        } catch (RuntimeException e) {
            throw malformed(dest, e);
        } finally {
            if (!staged) {
                FileTrees.deleteQuietly(staging);
                StagingLeftovers.forget(staging, StagingLeftovers.STAGING);
            }
        }
    }

    private static RestoreException malformed(Path dest, RuntimeException e) {
        return new RestoreException(
                "The archive for " + dest + " is malformed: " + e
                        + ". The backup may be corrupt; the target was not changed.",
                null,
                dest.toString(),
                e);
    }

    /**
     * Applies an increment of a chain onto the tree {@link #stage} staged from the links before it, the way
     * {@code tar -x -g /dev/null} does: its files and links replace the staged ones, and each directory's
     * {@code GNU.dumpdir} record deletes what the directory no longer holds. Every rule of {@link TarExtraction}
     * applies. The target is still untouched; the returned restore (which is {@code previous}) is committed or
     * discarded by the caller. Its {@link StagedRestore#facts() facts} then describe the staged tree after this link:
     * {@code links} (how many were applied), {@code files}, {@code directories}, {@code symlinks} and {@code bytes}
     * (counted in the staged tree), {@code deleted} (the entries the increments' {@code GNU.dumpdir} records removed)
     * and {@code incrementFiles} (the files the increments wrote). The staged tree's regular files are checked against
     * the full file list the link's manifest records ({@code fileList}; less the files that vanished while it was
     * made): a different count is an {@link IntegrityException}, and the caller discards the staged tree.
     *
     * @throws IllegalArgumentException when {@code previous} was not staged by a restore into this target
     * @throws IntegrityException       when the staged tree does not hold the files the link's file list records
     */
    @Override
    public StagedRestore stageOnto(StagedRestore previous, InputStream plaintext, BackupManifest manifest)
            throws IOException {
        Objects.requireNonNull(plaintext, "plaintext");
        if (!(previous instanceof Staged s) || !s.target.equals(target)) {
            throw new IllegalArgumentException("stageOnto needs a restore staged by stage() into " + target);
        }
        LOG.info("Applying {}onto the staged tree of {}", manifest == null ? "" : manifest.objectKey() + " ", target);
        TarExtraction x;
        try {
            x = new TarExtraction(target, s.staging, allowSymlinksOutsideTarget, BoundedTarInputStream.name(manifest));
            x.run(plaintext);
            x.finish(FileTrees.mode(s.staging, 0755));
        } catch (RuntimeException e) {
            throw e instanceof BackupException ? e : malformed(target, e);
        }
        long[] tree = countTree(s.staging);
        Map<String, Object> f = s.facts;
        f.put("links", ((Number) f.getOrDefault("links", 1)).longValue() + 1);
        f.put("files", tree[0]);
        f.put("directories", tree[1]);
        f.put("symlinks", tree[2]);
        f.put("bytes", tree[3]);
        f.put("deleted", ((Number) f.getOrDefault("deleted", 0L)).longValue() + x.purged);
        f.put("incrementFiles", ((Number) f.getOrDefault("incrementFiles", 0L)).longValue() + x.files);
        if (manifest != null) {
            f.put("treeCheck", checkTree(tree[0], manifest));
        }
        LOG.info(
                "Applied {}: the staged tree holds {} files, {} directories, {} symlinks, {} bytes ({} entries deleted"
                        + " by this link)",
                manifest == null ? "a link" : manifest.id(),
                tree[0],
                tree[1],
                tree[2],
                tree[3],
                x.purged);
        return previous;
    }

    /** Regular files, directories (the top not counted), symbolic links and bytes of a staged tree. */
    private static long[] countTree(Path root) throws IOException {
        long[] n = new long[4];
        Files.walkFileTree(root, new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult preVisitDirectory(
                    Path dir, java.nio.file.attribute.BasicFileAttributes a) {
                if (!dir.equals(root)) {
                    n[1]++;
                }
                return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes a) {
                if (a.isRegularFile()) {
                    n[0]++;
                    n[3] += a.size();
                } else if (a.isSymbolicLink()) {
                    n[2]++;
                }
                return java.nio.file.FileVisitResult.CONTINUE;
            }
        });
        return n;
    }

    /**
     * Compares the staged tree's regular files with the file list of the link just applied: what the check found,
     * in words, or an {@link IntegrityException} when they differ.
     */
    private static String checkTree(long files, BackupManifest link) {
        Map<String, FileList.Meta> list = FileList.read(link.sourceFacts(), link.id());
        if (list == null) {
            return "not checked: " + link.id() + " records no file list (omitted for size)";
        }
        long listed = list.values().stream().filter(m -> m.type() == 'f').count();
        long vanished = link.sourceFacts().get("vanished") instanceof Number v ? v.longValue() : 0;
        if (files > listed || files < listed - vanished) {
            throw new IntegrityException(
                    "The chain restored up to " + link.id() + " holds " + files + " files, but the file list its"
                            + " manifest records has " + listed
                            + (vanished > 0 ? " (" + vanished + " vanished while" + " it was made)" : "")
                            + ": a link of the chain does not hold what its manifest"
                            + " says. The target was not changed. Verify the chain (verify --deep) and restore an"
                            + " earlier backup of an intact chain.",
                    link.objectKey(),
                    null,
                    null);
        }
        return files + " files, as the file list of " + link.id() + " records";
    }

    /** Checks the target may be (re)placed; returns its mode, or -1 when it does not exist. */
    private int checkTarget(Path dest) throws IOException {
        if (!Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
            return -1;
        }
        if (!Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS)) {
            throw new RestoreException(
                    "The restore target " + dest + " exists and is not a directory. "
                            + "Move it away or restore into another path.",
                    null,
                    dest.toString(),
                    null);
        }
        if (!replaceExisting && !isEmptyDirectory(dest)) {
            throw new RestoreException(
                    "The restore target " + dest + " exists and is not empty. Pass "
                            + "replaceExisting(true) to replace its content, or restore into another path.",
                    null,
                    dest.toString(),
                    null);
        }
        return FileTrees.mode(dest, 0755) & TarExtraction.RESTORED_MODE_BITS;
    }

    /**
     * Creates an empty directory (mode 0700) next to {@code target} whose name is no longer than the target's, so a
     * tree that fits under the target fits under it too: a file whose path reaches PATH_MAX under the target can be
     * staged, and the old tree moved aside can be deleted. The name is a dot and random letters and digits (one
     * random character for a one-character target name), at most 16 characters.
     */
    static Path createSibling(Path target) throws IOException {
        String own = target.getFileName().toString();
        int length = Math.min(16, own.getBytes(StandardCharsets.UTF_8).length);
        FileAttribute<?>[] ownerOnly =
                FileSystems.getDefault().supportedFileAttributeViews().contains("posix")
                        ? new FileAttribute<?>[] {
                            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))
                        }
                        : new FileAttribute<?>[0];
        for (int attempt = 0; attempt < 200; attempt++) {
            String name = length == 1 ? randomName(1) : "." + randomName(length - 1);
            if (name.equals(own)) {
                continue;
            }
            try {
                return Files.createDirectory(target.resolveSibling(name), ownerOnly);
            } catch (FileAlreadyExistsException e) {
                // taken: draw another
            }
        }
        throw new RestoreException(
                "Could not find a free name of " + length + " characters next to " + target
                        + " for the restore's staging directory; restore into a target with a longer name.",
                null,
                target.toString(),
                null);
    }

    /** {@code length} random lower-case letters and digits. */
    private static String randomName(int length) {
        StringBuilder name = new StringBuilder(length);
        while (name.length() < length) {
            name.append(SIBLING_CHARS.charAt(RANDOM.nextInt(SIBLING_CHARS.length())));
        }
        return name.toString();
    }

    /** What {@link #recover} did with an interrupted in-place restore. */
    public enum Recovery {
        /** The swap was finished: the restored content is in place. */
        FINISHED("finished", "the restored content is in place"),
        /** The swap was rolled back: the previous content is back in place. */
        ROLLED_BACK("rolled back", "the previous content is back in place");

        private final String verb;
        private final String result;

        Recovery(String verb, String result) {
            this.verb = verb;
            this.result = result;
        }

        /** E.g. {@code finished the interrupted restore into /srv/uploads: the restored content is in place}. */
        public String describe(Path target) {
            return verb + " the interrupted restore into " + target + ": " + result;
        }
    }

    /**
     * Finishes or rolls back an in-place restore into {@code target} that was interrupted during its swap (the
     * process killed, the machine down), as its journal {@code <target>/.jiffoo-journal} says; does nothing when there
     * is no journal. {@link #stage} calls it first, so the next restore into the target does this by itself.
     *
     * <p>A journal exists only from the commit on, which comes after every integrity check passed: the staged tree is
     * complete and verified, so the swap is <b>finished</b> (the previous entries still in the target moved aside, the
     * rest of the staged ones moved in, the previous content deleted), as the interrupted restore would have. It is
     * <b>rolled back</b> (the previous entries moved back, the restored ones deleted) only when the staged tree is gone.
     *
     * @param target the restore target, as given to {@link #builder}
     * @return what was done, or empty when there was no interrupted restore
     * @throws RestoreException when the target lies on a path another user controls, or the journal cannot be read
     *                          (nothing is moved then: the runbook says how to recover by hand)
     * @throws IOException when a move fails; the journal stays, so calling this again goes on from there
     */
    public static Optional<Recovery> recover(Path target) throws IOException {
        Path dest = Objects.requireNonNull(target, "target").toAbsolutePath().normalize();
        if (!InPlaceJournal.present(dest)) {
            return Optional.empty();
        }
        TargetPaths.check(dest, true); // the journal lies inside the target: as trusted as an in-place staging
        Optional<Recovery> done = InPlaceJournal.recover(dest);
        done.ifPresent(r -> LOG.warn("{}", r.describe(dest)));
        return done;
    }

    /** True when {@code dir} is a directory on another file system than its parent: a mount point. */
    static boolean isMountPoint(Path dir) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) || dir.getParent() == null) {
            return false;
        }
        Object here = Files.readAttributes(dir, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                .fileKey();
        Object up =
                Files.readAttributes(dir.getParent(), BasicFileAttributes.class).fileKey();
        if (here != null && up != null) {
            // on Unix the file key is "(dev=…,ino=…)": a different device is another file system
            String dev = here.toString().replaceAll(",ino=.*", "");
            String parentDev = up.toString().replaceAll(",ino=.*", "");
            return !dev.equals(parentDev);
        }
        return !Files.getFileStore(dir).equals(Files.getFileStore(dir.getParent()));
    }

    private static boolean isEmptyDirectory(Path dir) throws IOException {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            return !children.iterator().hasNext();
        }
    }

    @Override
    public String toString() {
        return "DirectoryRestoreTarget{" + target + (replaceExisting ? ", replaceExisting" : "") + "}";
    }

    /**
     * A tree staged inside the target ({@code <target>/.jiffoo-restore-<random>}) for a target that cannot be renamed
     * (a mount point). Commit moves the target's entries into {@code <target>/.jiffoo-old-<random>}, the staged
     * entries up into the target, then deletes the old ones; any failure moves everything back. Every move is a
     * rename within the target's file system, but the swap as a whole is not atomic: a reader of the directory during
     * commit may see a mix, and a process killed meanwhile leaves one, which its journal lets the next run finish
     * (see {@link InPlaceJournal}). Thread-safe.
     */
    private static final class StagedInPlace extends Staged {
        StagedInPlace(Path target, Path staging, boolean replaceExisting, Map<String, Object> facts) {
            super(target, staging, replaceExisting, facts);
        }

        @Override
        void swap() throws IOException {
            InPlaceJournal journal = new InPlaceJournal(target, staging, target.resolve(IN_PLACE_OLD + randomName(10)));
            List<Path> existing = journal.entries(target);
            if (!existing.isEmpty() && !replaceExisting) {
                throw new RestoreException(
                        "The restore target " + target + " is no longer empty. Pass "
                                + "replaceExisting(true) to replace its content.",
                        null,
                        target.toString(),
                        null);
            }
            journal.swap();
            LOG.info("{} previous entries replaced in {}", existing.size(), target);
        }
    }

    /** What both ways of staging share: the facts, commit once, close without commit deletes the staged tree. */
    private abstract static class Staged implements StagedRestore {
        final Path target;
        final Path staging;
        final boolean replaceExisting;
        private final Map<String, Object> facts;
        private boolean committed;
        private boolean closed;

        Staged(Path target, Path staging, boolean replaceExisting, Map<String, Object> facts) {
            this.target = target;
            this.staging = staging;
            this.replaceExisting = replaceExisting;
            this.facts = new java.util.LinkedHashMap<>(facts);
        }

        /** Puts the staged tree in place of the target's content; on failure the previous content stays. */
        abstract void swap() throws IOException;

        @Override
        public Map<String, Object> facts() {
            return Collections.unmodifiableMap(facts);
        }

        @Override
        public synchronized void commit() throws IOException {
            if (committed) {
                throw new IllegalStateException("This restore of " + target + " was already committed");
            }
            if (closed) {
                throw new IllegalStateException("This restore of " + target + " was closed; stage it again");
            }
            swap();
            committed = true;
        }

        @Override
        public synchronized void close() {
            if (committed || closed) {
                return;
            }
            closed = true;
            FileTrees.deleteQuietly(staging);
            StagingLeftovers.forget(staging, StagingLeftovers.STAGING);
        }
    }

    /** A staged tree next to the target, swapped in by two renames. Thread-safe. */
    private static final class StagedDirectory extends Staged {
        StagedDirectory(Path target, Path staging, boolean replaceExisting, Map<String, Object> facts) {
            super(target, staging, replaceExisting, facts);
        }

        @Override
        void swap() throws IOException {
            if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                move(staging, target);
                StagingLeftovers.forget(staging, StagingLeftovers.STAGING);
                LOG.info("Restored {}", target);
                return;
            }
            if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new RestoreException(
                        "The restore target " + target + " is no longer a directory. "
                                + "Move it away and restore again.",
                        null,
                        target.toString(),
                        null);
            }
            if (!replaceExisting && !isEmptyDirectory(target)) {
                throw new RestoreException(
                        "The restore target " + target + " is no longer empty. Pass "
                                + "replaceExisting(true) to replace its content.",
                        null,
                        target.toString(),
                        null);
            }
            Path old = StagingLeftovers.register(createSibling(target), target, StagingLeftovers.OLD);
            move(target, old); // over the empty directory just made: a rename replaces it, and no other name
            try {
                move(staging, target);
                StagingLeftovers.forget(staging, StagingLeftovers.STAGING);
            } catch (IOException | RuntimeException e) {
                try {
                    move(old, target);
                    StagingLeftovers.forget(old, StagingLeftovers.OLD);
                } catch (IOException | RuntimeException e2) {
                    e.addSuppressed(e2);
                    throw new RestoreException(
                            "Could not move the restored tree into " + target + " and could not "
                                    + "put the previous content back: it is in " + old + "; move it back by hand.",
                            null,
                            target.toString(),
                            e);
                }
                throw new RestoreException(
                        "Could not move the restored tree into " + target + ": " + e
                                + ". The previous content is back in place.",
                        null,
                        target.toString(),
                        e);
            }
            LOG.info("Restored {} (replacing its previous content)", target);
            if (FileTrees.deleteQuietly(old)) {
                StagingLeftovers.forget(old, StagingLeftovers.OLD);
            }
        }

        private static void move(Path from, Path to) throws IOException {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /**
     * Builds a {@link DirectoryRestoreTarget}. Setters check their arguments at once. Not thread-safe.
     */
    public static final class Builder {
        private final Path target;
        private boolean replaceExisting;
        private boolean allowSymlinksOutsideTarget;
        private Boolean inPlace;
        private boolean durable;

        private Builder(Path target) {
            Path t = Objects.requireNonNull(target, "target").toAbsolutePath().normalize();
            if (t.getParent() == null || t.getFileName() == null) {
                throw new IllegalArgumentException("Cannot restore into a file-system root: " + t);
            }
            this.target = t;
        }

        /**
         * Whether an existing, non-empty target directory may be replaced (default false: such a target is refused).
         * The previous content is removed only after the new content is in place.
         */
        public Builder replaceExisting(boolean replaceExisting) {
            this.replaceExisting = replaceExisting;
            return this;
        }

        /**
         * Whether symbolic links that point outside the target (absolute, or climbing above it) are restored as links
         * (default false: such an archive is refused, naming the link). Safe to allow for trees that have such links:
         * extraction never writes through a link, and entries below a link are still refused.
         */
        public Builder allowSymlinksOutsideTarget(boolean allow) {
            this.allowSymlinksOutsideTarget = allow;
            return this;
        }

        /**
         * Whether the extracted files and directories are forced to disk ({@code fsync}) before {@link #stage}
         * returns (default false: left to the kernel, as tar does). Done on a thread of its own while the extraction
         * goes on, so the disk writes back the first files while the next are decoded: for a tree that is used right
         * away and must survive a crash, such as a PostgreSQL data directory, whose server fsyncs every file when it
         * starts after a base backup. Applies to {@link #stage}, not to increments applied onto it. The renames that
         * swap the tree in are left to the file system.
         */
        public Builder durable(boolean durable) {
            this.durable = durable;
            return this;
        }

        /**
         * Whether to stage inside the target and swap its entries on commit, instead of staging next to it and
         * swapping the directory itself. By default this is chosen per restore: in place when the target is a
         * mount point (a Docker or Kubernetes volume mounted at {@code /srv/uploads}, which cannot be renamed, and
         * whose parent may be another, smaller file system), next to it otherwise. In place, the swap is a series of
         * renames inside the target, not one atomic rename; a failure still puts the previous content back.
         */
        public Builder inPlace(boolean inPlace) {
            this.inPlace = inPlace;
            return this;
        }

        /** Builds the target. */
        public DirectoryRestoreTarget build() {
            return new DirectoryRestoreTarget(this);
        }
    }
}
