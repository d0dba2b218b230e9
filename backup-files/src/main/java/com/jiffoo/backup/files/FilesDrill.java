package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillReport.Check;
import com.jiffoo.backup.DrillReport.Status;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.internal.DrillRun;
import com.jiffoo.backup.internal.Processes;
import com.jiffoo.backup.internal.ScratchDirectories;
import com.jiffoo.backup.internal.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A restore drill of a files backup: restores it by the ordinary restore path ({@link DirectoryRestoreTarget}) into
 * a scratch directory, proves the files came back, measures the recovery time against its objective, and removes
 * the scratch directory whatever happened.
 *
 * <ol>
 *   <li><b>Sweep</b>: scratch directories of earlier drills ({@code jiffoo_drill_files_*} in the scratch parent)
 *       older than a day are removed (a drill killed with {@code kill -9} leaves its own).</li>
 *   <li><b>locate</b>: the backup to drill ({@link DrillSource#locate()}).</li>
 *   <li><b>restore</b>: download, decrypt and extract into {@code <parent>/jiffoo_drill_files_<UTC time>_<random>/files}:
 *       the scratch directory is created 0700 by {@link Files#createTempDirectory}, which never reuses a name that
 *       exists; the stored bytes and the plaintext are checked against the manifest as in any restore.</li>
 *   <li><b>checks</b>: {@code file-count} (regular files and their bytes against the manifest's {@code fileCount} and
 *       {@code totalBytes}); {@code sample-hashes} (the SHA-256 of each file of the random sample the backup
 *       recorded, {@link DirectorySource#SAMPLE_FACT}, against the restored file; skipped for a backup that recorded
 *       none).</li>
 *   <li><b>cleanup</b>: the scratch directory is removed; also from a JVM shutdown hook when the process is stopped
 *       (SIGTERM, Ctrl-C) while the drill runs.</li>
 * </ol>
 *
 * <pre>{@code
 * DrillReport r = FilesDrill.builder()
 *         .source(DrillSource.of(store, pgp, trust, "files", null))   // the newest files backup
 *         .scratchParent(Path.of("/var/tmp"))
 *         .build()
 *         .run();
 * }</pre>
 *
 * <p>Immutable; {@link #run()} may be called again.
 */
public final class FilesDrill {
    private static final Logger log = LoggerFactory.getLogger(FilesDrill.class);

    /** The default recovery time objective: the runbook's 2 hours. */
    public static final Duration DEFAULT_RTO_TARGET = DrillRun.DEFAULT_RTO_TARGET;
    /** Scratch directories of earlier drills older than this are removed by the next drill. */
    public static final Duration LEFTOVER_AGE = Duration.ofDays(1);
    /** The prefix of every scratch directory's name. */
    public static final String SCRATCH_PREFIX = "jiffoo_drill_files_";

    private final DrillSource source;
    private final Path scratchParent;
    private final Duration rtoTarget;
    private final Clock clock;

    private FilesDrill(Builder b) {
        this.source = Objects.requireNonNull(b.source, "source(...) is required");
        this.scratchParent = b.scratchParent.toAbsolutePath().normalize();
        this.rtoTarget = b.rtoTarget;
        this.clock = b.clock;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Runs the drill.
     *
     * @return the report: {@link DrillReport.Outcome#FAILED} when the backup did not restore (damaged, not found, the
     *         key does not open it, the archive is refused) or a check failed
     * @throws BackupException when the drill could not run: the scratch directory cannot be created, the store cannot
     *                         be read. The scratch directory is removed in every case.
     */
    public DrillReport run() {
        DrillRun run = DrillRun.start(clock);
        ScratchDirectories.sweep(
                scratchParent,
                SCRATCH_PREFIX,
                run.startedAt(),
                LEFTOVER_AGE,
                p -> false,
                FileTrees::deleteQuietly,
                "directory",
                "directories",
                log,
                run.findings());
        Path scratch = ScratchDirectories.create(
                scratchParent,
                SCRATCH_PREFIX,
                run.startedAt(),
                "Give a directory with room for the restored files where this user may write (--scratch-dir).",
                dir -> {});
        Path into = scratch.resolve("files");
        run.onStop(() -> {
            log.warn("the drill was stopped: removing its scratch directory {}", scratch);
            FileTrees.deleteQuietly(scratch);
        });
        DrillRun.Restore restore;
        try {
            restore = run.restore(
                    source,
                    () -> DirectoryRestoreTarget.builder(into).build(),
                    log,
                    into,
                    r -> {},
                    manifest -> manifest.objectSize() + " bytes stored");
            if (restore.restored() != null) {
                run.mark();
                run.checks().add(countAndBytes(into, restore.manifest()));
                run.checks().add(sample(into, restore.manifest()));
                run.endPhase("checks");
            }
        } finally {
            run.cleanUp(() -> {
                FileTrees.deleteQuietly(scratch);
                return Files.exists(scratch, LinkOption.NOFOLLOW_LINKS)
                        ? new DrillRun.Left(
                                "the scratch directory " + scratch + " could not be removed: remove it by hand"
                                        + " (rm -rf), or the next drill removes it after a day",
                                "the scratch directory " + scratch + " is left")
                        : null;
            });
        }
        DrillReport report = run.judge(
                "files",
                restore.backupKey(),
                restore.backupAt(),
                restore.store(),
                "directory " + into + " on " + Processes.host(),
                rtoTarget);
        log.info(
                "drill of {}: {} in {}",
                report.backupKey(),
                report.outcome().label(),
                DrillReport.human(report.total()));
        return report;
    }

    /**
     * Regular files and their bytes in the restored tree, against the manifest's fileCount and totalBytes (for a
     * backup of a chain, the whole tree's treeFileCount and treeBytes).
     */
    private static Check countAndBytes(Path into, BackupManifest manifest) {
        Map<String, Object> facts = manifest.sourceFacts();
        boolean chained = facts.containsKey(DirectorySource.TREE_FILE_COUNT); // an increment restores its whole chain
        if (!(facts.get(chained ? DirectorySource.TREE_FILE_COUNT : "fileCount") instanceof Number files)
                || !(facts.get(chained ? DirectorySource.TREE_BYTES : "totalBytes") instanceof Number bytes)) {
            return new Check("file-count", Status.SKIPPED, "the backup records no file count");
        }
        long[] seen = new long[2];
        try {
            Files.walkFileTree(into, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes a) {
                    if (a.isRegularFile()) {
                        seen[0]++;
                        seen[1] += a.size();
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            return new Check("file-count", Status.FAILED, "cannot read the restored tree: " + e);
        }
        boolean ok = seen[0] == files.longValue() && seen[1] == bytes.longValue();
        return new Check(
                "file-count",
                ok ? Status.PASSED : Status.FAILED,
                ok
                        ? seen[0] + " file(s), " + seen[1] + " byte(s), as the manifest records"
                        : "restored " + seen[0] + " file(s) and " + seen[1] + " byte(s); the manifest records " + files
                                + " file(s) and " + bytes + " byte(s)");
    }

    /** The recorded sample's SHA-256 against the restored files. */
    private static Check sample(Path into, BackupManifest manifest) {
        if (!(manifest.sourceFacts().get(DirectorySource.SAMPLE_FACT) instanceof List<?> sample) || sample.isEmpty()) {
            return new Check(
                    "sample-hashes",
                    Status.SKIPPED,
                    "the backup records no hashed sample (made before samples were recorded, or with hashSample(0))");
        }
        List<String> failed = new ArrayList<>();
        int checked = 0;
        for (Object o : sample) {
            if (!(o instanceof Map<?, ?> e)
                    || !(e.get("path") instanceof String path)
                    || !(e.get("sha256") instanceof String expected)) {
                failed.add("an entry of the sample is not {path, sha256}: " + o);
                continue;
            }
            Path file = into.resolve(path).normalize();
            if (!file.startsWith(into)) {
                failed.add(path + ": outside the restored tree");
                continue;
            }
            checked++;
            try {
                String actual = sha256(file);
                if (!actual.equals(expected)) {
                    failed.add(path + ": SHA-256 " + actual + ", recorded " + expected);
                }
            } catch (IOException ex) {
                failed.add(path + ": " + ex);
            }
        }
        if (!failed.isEmpty()) {
            return new Check(
                    "sample-hashes",
                    Status.FAILED,
                    failed.size() + " of " + sample.size() + " sampled file(s) differ: "
                            + String.join("; ", failed.subList(0, Math.min(5, failed.size()))));
        }
        return new Check(
                "sample-hashes", Status.PASSED, checked + " sampled file(s) have the SHA-256 recorded at backup time");
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest d = Sha256.newDigest();
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                d.update(buf, 0, n);
            }
        }
        return Sha256.hex(d.digest());
    }

    /** Builds a {@link FilesDrill}. */
    public static final class Builder {
        private DrillSource source;
        private Path scratchParent = Path.of(System.getProperty("java.io.tmpdir"));
        private Duration rtoTarget = DEFAULT_RTO_TARGET;
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /** Where the backup comes from (required), e.g. {@code DrillSource.of(store, pgp, trust, "files", null)}. */
        public Builder source(DrillSource source) {
            this.source = Objects.requireNonNull(source, "source");
            return this;
        }

        /**
         * The directory the scratch directory is created in (created when missing); the system temporary directory
         * by default. It needs room for the restored files.
         */
        public Builder scratchParent(Path parent) {
            this.scratchParent = Objects.requireNonNull(parent, "parent");
            return this;
        }

        /** The recovery time objective; {@link #DEFAULT_RTO_TARGET} by default. */
        public Builder rtoTarget(Duration target) {
            Objects.requireNonNull(target, "target");
            if (target.isZero() || target.isNegative()) {
                throw new IllegalArgumentException("rtoTarget must be positive, got " + target);
            }
            this.rtoTarget = target;
            return this;
        }

        /** The clock the report's start time is read from. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Builds the drill. */
        public FilesDrill build() {
            return new FilesDrill(this);
        }
    }
}
