package com.jiffoo.backup.internal;

import com.jiffoo.backup.ConfigurationException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Predicate;
import org.slf4j.Logger;

/**
 * The scratch directories of the drills that restore into a directory ({@code FilesDrill}, {@code PitrDrill}): made
 * with a name no other directory has, {@code <prefix><yyyyMMdd_HHmmss>_<random>}, and swept when an earlier drill left
 * one behind.
 */
public final class ScratchDirectories {
    /** What a drill does to a new scratch directory before using it (permissions, an owner file). */
    @FunctionalInterface
    public interface Preparation {
        /** Prepares {@code dir}. */
        void prepare(Path dir) throws IOException;
    }

    private ScratchDirectories() {}

    /**
     * A new scratch directory in {@code parent} (created when missing), 0700 and made atomically by
     * {@link Files#createTempDirectory}, which never reuses a name that exists; then {@code preparation} applied.
     *
     * @param advice what the operator should give instead, after "Cannot create the drill's scratch directory in
     *               PARENT: ERROR. "
     * @throws ConfigurationException when it cannot be made
     */
    public static Path create(Path parent, String prefix, Instant at, String advice, Preparation preparation) {
        try {
            Files.createDirectories(parent);
            Path dir = Files.createTempDirectory(
                    parent,
                    prefix + DrillRun.stamp(at) + "_",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            preparation.prepare(dir);
            return dir;
        } catch (IOException | UnsupportedOperationException e) {
            throw new ConfigurationException(
                    "Cannot create the drill's scratch directory in " + parent + ": " + e + ". " + advice,
                    null,
                    parent.toString(),
                    e);
        }
    }

    /**
     * Removes the scratch directories of earlier drills in {@code parent} ({@code prefix*}, directories only, never
     * followed through a link): those older than {@code leftoverAge} and those {@code abandoned} says were left.
     * Each removed one is logged and becomes a finding: "removed the scratch NOUN DIR that an earlier drill left".
     *
     * @param remove removes one; whether it is gone
     * @param noun   what a scratch directory is called in the log and the finding ({@code "directory"})
     * @param nouns  the same, plural ({@code "directories"})
     */
    public static void sweep(
            Path parent,
            String prefix,
            Instant now,
            Duration leftoverAge,
            Predicate<Path> abandoned,
            Predicate<Path> remove,
            String noun,
            String nouns,
            Logger log,
            List<String> findings) {
        if (!Files.isDirectory(parent)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, prefix + "*")) {
            for (Path p : ds) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (!a.isDirectory()) {
                    continue;
                }
                boolean old = a.lastModifiedTime().toInstant().isBefore(now.minus(leftoverAge));
                if ((old || abandoned.test(p)) && remove.test(p)) {
                    log.warn("removed the scratch {} {} an earlier drill left", noun, p);
                    findings.add("removed the scratch " + noun + " " + p + " that an earlier drill left");
                }
            }
        } catch (IOException e) {
            log.warn("could not look for scratch {} of earlier drills in {}: {}", nouns, parent, e.toString());
        }
    }
}
