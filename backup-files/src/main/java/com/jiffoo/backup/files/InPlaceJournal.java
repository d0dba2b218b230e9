package com.jiffoo.backup.files;

import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.files.DirectoryRestoreTarget.Recovery;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The swap of an in-place restore and its journal, {@code <target>/.jiffoo-journal}: a few lines of text naming the
 * staging directory, the directory the previous entries are moved into, and the phase. It is written (to a temporary
 * name, fsynced, renamed, the directory fsynced) before the first entry moves and again at each change of phase, and
 * deleted last, so that a process killed at any point leaves a journal saying exactly how to go on:
 *
 * <ol>
 *   <li>{@code moving-out}: the target's entries go into {@code .jiffoo-old-<random>}. The target holds only previous
 *       entries (those not moved yet), the staging directory the whole restored tree.</li>
 *   <li>{@code moving-in}: every previous entry is in the old directory; the staged entries move up into the target,
 *       which holds only restored entries.</li>
 *   <li>{@code cleaning}: the restored tree is in place; the old and staging directories are deleted.</li>
 * </ol>
 *
 * <p>A swap that fails (a rename refused) rolls back: the restored entries go back into the staging directory (still
 * {@code moving-in}: the target holds only restored entries), then, in phase {@code moving-back}, the previous
 * entries back into the target (which then holds only previous entries).
 *
 * <p>A journal exists only once {@link com.jiffoo.backup.StagedRestore#commit()} was called, which the pipeline
 * does only after every integrity check passed: the staged tree is complete and verified. {@link #recover} therefore
 * <b>finishes</b> the swap, as the restore that was asked for would have. It rolls back (previous entries moved back,
 * restored ones deleted) only when the staged tree is gone, so finishing is impossible. The phase alone says which
 * entries are which, so the journal does not need to list them (names in the target may be any bytes).
 */
final class InPlaceJournal {
    private static final Logger LOG = LoggerFactory.getLogger(InPlaceJournal.class);
    static final String NAME = ".jiffoo-journal";
    private static final String TEMP = ".jiffoo-journal.tmp";
    private static final String HEADER = "jiffoo-backup in-place restore journal 1";
    static final String STAGING_PREFIX = ".jiffoo-restore-";
    static final String OLD_PREFIX = ".jiffoo-old-";
    /** See {@link #pauseForTests()}. */
    static final long MOVE_PAUSE_MILLIS = Long.getLong("jiffoo.test.inPlaceMovePauseMillis", 0);
    /** Test hook: runs after each move of a swap (tests throw an Error here to stop a swap as a kill would). */
    static volatile Runnable afterMove = InPlaceJournal::pauseForTests;

    /** Where a swap is. */
    enum Phase {
        MOVING_OUT,
        MOVING_IN,
        CLEANING,
        MOVING_BACK;

        String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    private final Path target;
    private final Path staging;
    private final Path old;
    private Phase phase;

    InPlaceJournal(Path target, Path staging, Path old) {
        this.target = target;
        this.staging = staging;
        this.old = old;
    }

    /** The journal file of {@code target}. */
    static Path file(Path target) {
        return target.resolve(NAME);
    }

    /** Whether {@code target} holds a journal (or the temporary file of one being written). */
    static boolean present(Path target) {
        return Files.exists(file(target), LinkOption.NOFOLLOW_LINKS)
                || Files.exists(target.resolve(TEMP), LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * Swaps the staged tree in: journal first, then every move. An I/O failure rolls back and throws; a process
     * killed meanwhile leaves the journal for {@link #recover}.
     */
    void swap() throws IOException {
        try {
            write(Phase.MOVING_OUT);
            Files.createDirectory(old);
            run();
        } catch (IOException | RuntimeException e) {
            try {
                rollBack();
            } catch (IOException | RuntimeException e2) {
                e.addSuppressed(e2);
                throw new RestoreException(
                        "Could not move the restored entries into " + target + " and could not"
                                + " put all of the previous content back: what is missing is in " + old
                                + " (the restored"
                                + " entries in " + staging + "); the journal " + file(target)
                                + " is kept: the next restore"
                                + " into " + target + " goes on from there, or see the runbook to do it by hand.",
                        null,
                        target.toString(),
                        e);
            }
            throw new RestoreException(
                    "Could not move the restored entries into " + target + ": " + e
                            + ". The previous content is back in place.",
                    null,
                    target.toString(),
                    e);
        }
    }

    /**
     * Finishes or rolls back the swap a journal in {@code target} describes; empty when there is none.
     *
     * @throws RestoreException when the journal cannot be read or names other paths than a swap writes; nothing is
     *                          moved then
     */
    static Optional<Recovery> recover(Path target) throws IOException {
        Path file = file(target);
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            FileTrees.deleteQuietly(target.resolve(TEMP)); // killed while writing the first journal: nothing moved
            return Optional.empty();
        }
        InPlaceJournal j = parse(target, lines)
                .orElseThrow(() -> new RestoreException(
                        "The in-place restore"
                                + " journal " + file + " cannot be read: " + lines.size() + " lines, not the " + HEADER
                                + " this"
                                + " version writes. Nothing was moved; see the runbook (\"In-place restore journal\") to finish or roll"
                                + " back the interrupted restore by hand, then delete the journal.",
                        null,
                        target.toString(),
                        null));
        if (j.phase == Phase.CLEANING
                || j.phase != Phase.MOVING_BACK && Files.isDirectory(j.staging, LinkOption.NOFOLLOW_LINKS)) {
            LOG.warn(
                    "Finishing the interrupted in-place restore into {} (journal {}, phase {})",
                    target,
                    file,
                    j.phase.label());
            j.run();
            return Optional.of(Recovery.FINISHED);
        }
        LOG.warn(
                "Rolling back the interrupted in-place restore into {} (journal {}, phase {}; the staged tree {} {})",
                target,
                file,
                j.phase.label(),
                j.staging,
                j.phase == Phase.MOVING_BACK ? "was being rolled back" : "is gone");
        j.rollBack();
        return Optional.of(Recovery.ROLLED_BACK);
    }

    /** Goes on from the current phase to the end. */
    private void run() throws IOException {
        if (phase == Phase.MOVING_OUT) {
            if (!Files.isDirectory(old, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectory(old);
            }
            moveAll(target, old);
            sync(old);
            write(Phase.MOVING_IN);
        }
        if (phase == Phase.MOVING_IN) {
            moveAll(staging, target);
            write(Phase.CLEANING);
        }
        // the restored tree is in place: what follows only tidies up, and never fails the restore
        FileTrees.deleteQuietly(old);
        FileTrees.deleteQuietly(staging);
        try {
            Files.deleteIfExists(file(target));
        } catch (IOException e) {
            LOG.warn(
                    "Restored {} in place, but could not delete its journal {}: {}. The next restore into it"
                            + " deletes it.",
                    target,
                    file(target),
                    e.toString());
        }
        sync(target);
        LOG.info("Restored {} in place", target);
    }

    /** Puts the previous entries back and deletes the restored ones, then the journal. */
    private void rollBack() throws IOException {
        if (phase == Phase.CLEANING) {
            throw new IllegalStateException("the swap into " + target + " is complete; nothing to roll back");
        }
        if (phase == Phase.MOVING_IN) {
            if (!Files.isDirectory(staging, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectory(staging);
            }
            moveAll(target, staging);
        }
        if (phase != null && phase != Phase.MOVING_BACK) {
            write(Phase.MOVING_BACK); // from here on the target holds only previous entries
        }
        if (Files.isDirectory(old, LinkOption.NOFOLLOW_LINKS)) {
            moveAll(old, target);
            Files.delete(old);
        }
        FileTrees.deleteQuietly(staging);
        Files.deleteIfExists(target.resolve(TEMP));
        Files.deleteIfExists(file(target));
        sync(target);
    }

    /** Moves every entry of {@code from} into {@code to}, except (in the target) the swap's own. */
    private void moveAll(Path from, Path to) throws IOException {
        for (Path p : entries(from)) {
            Files.move(p, to.resolve(p.getFileName()), StandardCopyOption.ATOMIC_MOVE);
            afterMove.run();
        }
        sync(to);
    }

    /** The entries of {@code dir}; in the target, without the staging and old directories and the journal. */
    List<Path> entries(Path dir) throws IOException {
        Set<Path> own = Set.of(staging, old, file(target), target.resolve(TEMP));
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path c : children) {
                if (!own.contains(c)) {
                    out.add(c);
                }
            }
        }
        return out;
    }

    /** Writes the journal for {@code next}: to a temporary name, fsynced, renamed over the journal, directory fsynced. */
    private void write(Phase next) throws IOException {
        sync(target); // the moves of the phase before are durable before the journal says they are done
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("target", target.toString());
        fields.put("staging", staging.getFileName().toString());
        fields.put("old", old.getFileName().toString());
        fields.put("phase", next.label());
        StringBuilder text = new StringBuilder(HEADER).append('\n');
        fields.forEach((k, v) -> text.append(k).append(' ').append(v).append('\n'));
        Path temp = target.resolve(TEMP);
        try (FileChannel ch = FileChannel.open(
                temp,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            ByteBuffer b = ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(temp, file(target), StandardCopyOption.ATOMIC_MOVE);
        sync(target);
        phase = next;
    }

    /** Reads a journal; empty when it is not one this version writes or names anything but a swap's directories. */
    private static Optional<InPlaceJournal> parse(Path target, List<String> lines) {
        if (lines.size() != 5 || !lines.get(0).equals(HEADER)) {
            return Optional.empty();
        }
        Map<String, String> f = new LinkedHashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            int space = line.indexOf(' ');
            if (space > 0) {
                f.put(line.substring(0, space), line.substring(space + 1));
            }
        }
        String staging = f.getOrDefault("staging", "");
        String old = f.getOrDefault("old", "");
        if (!staging.matches("\\.jiffoo-restore-[A-Za-z0-9]+") || !old.matches("\\.jiffoo-old-[A-Za-z0-9]+")) {
            return Optional.empty();
        }
        for (Phase p : Phase.values()) {
            if (p.label().equals(f.get("phase"))) {
                InPlaceJournal j = new InPlaceJournal(target, target.resolve(staging), target.resolve(old));
                j.phase = p;
                return Optional.of(j);
            }
        }
        return Optional.empty();
    }

    /** fsync of a directory, so renames in it survive a crash; where the platform cannot, nothing. */
    private static void sync(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            LOG.debug("cannot fsync {}: {}", dir, e.toString());
        }
    }

    /**
     * Test hook: the system property {@code jiffoo.test.inPlaceMovePauseMillis} (0, no pause, by default) pauses
     * after each move of the swap, so that a test can stop the real process in the middle of it. The pause ignores
     * interrupts (a rename is not interruptible either) and keeps the thread's interrupt status.
     */
    private static void pauseForTests() {
        long until = System.nanoTime() + MOVE_PAUSE_MILLIS * 1_000_000L;
        boolean interrupted = false;
        for (long left; (left = until - System.nanoTime()) > 0; ) {
            try {
                Thread.sleep(Math.max(1, left / 1_000_000L));
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
