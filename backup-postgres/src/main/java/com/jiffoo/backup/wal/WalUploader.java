package com.jiffoo.backup.wal;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asynchronous WAL archiving: a long-running uploader that archives what PostgreSQL has marked ready, ahead of and in
 * parallel with PostgreSQL's serial {@code archive_command}, the way pgBackRest's {@code archive-async} does.
 *
 * <p>PostgreSQL runs {@code archive_command} for one file at a time and waits for it; a command that starts a JVM per
 * 16 MiB segment spends most of its time starting. The uploader instead watches {@code pg_wal/archive_status} for
 * {@code <name>.ready} files, pushes each named file with {@link WalArchive#push} on a few threads, and, once the file
 * is committed in the store, leaves a status file {@code <spool>/<name>.ok}. The {@code archive_command}
 * ({@code jiffoo-backup wal-push --spool DIR %p}) then only has to find that file: the launcher script checks it
 * without starting Java, and answers 0. A file the uploader could not push gets {@code <name>.error} with the reason
 * (one line); the command then fails with that reason and PostgreSQL retries, as it would with a synchronous push.
 *
 * <p>The promises of {@code archive_command} hold: {@code .ok} is written only after {@link WalArchive#push} returned,
 * that is once the object and its manifest are durable; PostgreSQL marks a file done only after the command said 0;
 * an uploader killed mid-push leaves an uncommitted object that the next push replaces. Status files of files
 * PostgreSQL has marked done are removed. The spool belongs to one cluster: it records the cluster's system
 * identifier (read from {@code global/pg_control}) and drops every status file when another cluster uses it.
 *
 * <p>The backlog (ready files not yet archived, the oldest one's age) is {@link #backlog() measured} and logged; the
 * monitor's server check counts ready files too, so a store outage shows as a growing backlog, not as silence.
 *
 * <p>One uploader per spool: {@link #run} holds a lock on {@code <spool>/uploader.lock}. Thread-safe to {@link #stop}.
 */
public final class WalUploader implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WalUploader.class);

    /** Suffix of the status file of a file committed in the store. */
    public static final String OK = ".ok";
    /** Suffix of the status file of a file whose last push failed; it holds the reason. */
    public static final String ERROR = ".error";
    /** The lock file that keeps a second uploader off the spool. */
    public static final String LOCK = "uploader.lock";
    /** The file that names the cluster the spool belongs to (its system identifier). */
    public static final String CLUSTER = "cluster";
    /** How long a starting uploader tries for the spool's lock by default (a wal-push may hold it for one push). */
    private static final Duration LOCK_WAIT = Duration.ofSeconds(60);
    /** How often a backlog is logged. */
    private static final Duration REPORT_EVERY = Duration.ofMinutes(1);

    private final WalArchive archive;
    private final Path pgWal;
    private final Path spool;
    private final int parallel;
    private final Duration poll;
    private final Duration idleExit;
    private final Duration retryDelay;
    private final Duration lockWait;
    private final Clock clock;
    private volatile boolean stopped;
    private volatile String cluster = "";
    private final Map<String, Instant> failedAt = new HashMap<>();

    private WalUploader(Builder b) {
        this.archive = b.archive;
        this.pgWal = b.pgWal;
        this.spool = b.spool;
        this.parallel = b.parallel;
        this.poll = b.poll;
        this.idleExit = b.idleExit;
        this.retryDelay = b.retryDelay;
        this.lockWait = b.lockWait;
        this.clock = b.clock;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** What is waiting to be archived: ready files without an {@code .ok}, and the oldest one's age. */
    public record Backlog(int files, Optional<Duration> oldest, int failing) {}

    /**
     * Uploads until {@link #stop} is called or, with an {@linkplain Builder#idleExit idle exit}, until nothing was
     * ready for that long.
     *
     * @return the number of files this run committed (or found archived already)
     * @throws ConfigurationException when another uploader holds the spool, or the directories are not usable
     */
    public int run() {
        return run(() -> {});
    }

    /**
     * As {@link #run()}, calling {@code started} once this uploader holds the spool (e.g. to write a pid file the
     * launcher checks).
     */
    public int run(Runnable started) {
        try {
            Files.createDirectories(spool);
        } catch (IOException e) {
            throw new ConfigurationException("Cannot create the WAL spool directory " + spool + ": " + e.getMessage()
                    + ". Create it, owned by the user PostgreSQL runs as (e.g. postgres), mode 0700.");
        }
        Path status = pgWal.resolve("archive_status");
        if (!Files.isDirectory(status)) {
            throw new ConfigurationException(pgWal + " has no archive_status directory: is it a cluster's pg_wal?"
                    + " Give --pgdata DIR of the cluster whose WAL is archived.");
        }
        try (FileChannel ch =
                        FileChannel.open(spool.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock lock = lockWithin(ch, lockWait)) {
            if (lock == null) {
                throw new ConfigurationException(
                        "Another WAL uploader runs on " + spool + " (it holds " + LOCK + "); one uploader per spool.");
            }
            claimSpool();
            started.run();
            return loop(status);
        } catch (IOException e) {
            throw new UncheckedIOException("WAL uploader on " + spool + ": " + e.getMessage(), e);
        }
    }

    /** True when an uploader holds {@code spool}'s lock now (checked by trying it). */
    public static boolean running(Path spool) {
        Path lockFile = spool.resolve(LOCK);
        if (!Files.exists(lockFile)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.WRITE);
                FileLock lock = tryLock(ch)) {
            return lock == null;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Takes the spool's lock, trying for up to {@code wait}: a {@code wal-push} pushing a file itself, or checking
     * whether an uploader runs, holds it for a moment.
     */
    static FileLock lockWithin(FileChannel ch, Duration wait) throws IOException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            FileLock lock = tryLock(ch);
            if (lock != null || System.nanoTime() > deadline) {
                return lock;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
    }

    /**
     * Runs {@code work} while holding {@code spool}'s lock, so that no uploader starts meanwhile (two pushes of one
     * file at once must not happen).
     *
     * @return false, without running it, when an uploader holds the lock (it does the work)
     */
    public static boolean whileNoUploader(Path spool, Runnable work) {
        try {
            Files.createDirectories(spool);
            try (FileChannel ch =
                            FileChannel.open(spool.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    FileLock lock = tryLock(ch)) {
                if (lock == null) {
                    return false;
                }
                work.run();
                return true;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot use the WAL spool " + spool + ": " + e.getMessage(), e);
        }
    }

    /**
     * True when {@code spool} holds the uploader's answer that {@code file} is archived, for the cluster whose
     * {@code pg_wal} holds it (the answer names the cluster's system identifier: a spool reused by another cluster
     * never answers for it).
     */
    public static boolean archived(Path spool, Path file) {
        Path ok = spool.resolve(file.getFileName() + OK);
        try {
            String answer = Files.readString(ok, StandardCharsets.UTF_8).trim();
            return answer.equals(
                    systemIdentifier(file.toAbsolutePath().getParent().getParent()));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static FileLock tryLock(FileChannel ch) throws IOException {
        try {
            return ch.tryLock();
        } catch (OverlappingFileLockException e) {
            return null; // held in this JVM
        }
    }

    /** Asks {@link #run} to return after the pushes in flight. */
    public void stop() {
        stopped = true;
    }

    @Override
    public void close() {
        stop();
    }

    /** The backlog now: ready files without an {@code .ok}, the oldest one's age, and how many last failed. */
    public Backlog backlog() {
        List<String> ready = readyNames(pgWal.resolve("archive_status"));
        Instant now = clock.instant();
        Duration oldest = null;
        int waiting = 0;
        int failing = 0;
        for (String name : ready) {
            if (Files.exists(spool.resolve(name + OK))) {
                continue;
            }
            waiting++;
            if (Files.exists(spool.resolve(name + ERROR))) {
                failing++;
            }
            try {
                Instant t = Files.getLastModifiedTime(
                                pgWal.resolve("archive_status").resolve(name + ".ready"))
                        .toInstant();
                Duration age = Duration.between(t, now);
                if (oldest == null || age.compareTo(oldest) > 0) {
                    oldest = age;
                }
            } catch (IOException e) {
                // marked done meanwhile
            }
        }
        return new Backlog(waiting, Optional.ofNullable(oldest), failing);
    }

    private int loop(Path status) throws IOException {
        AtomicInteger done = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(parallel, daemons());
        Map<String, Future<?>> inFlight = new HashMap<>();
        Instant lastWork = clock.instant();
        Instant lastReport = clock.instant();
        log.info(
                "WAL uploader started: {} -> {} ({} in parallel, spool {})",
                pgWal,
                archive.sink().location(),
                parallel,
                spool);
        try {
            while (!stopped) {
                inFlight.values().removeIf(Future::isDone);
                List<String> ready = readyNames(status);
                removeStaleStatus(new HashSet<>(ready));
                boolean work = !inFlight.isEmpty();
                for (String name : ready) {
                    if (inFlight.size() >= parallel) {
                        break;
                    }
                    if (inFlight.containsKey(name) || Files.exists(spool.resolve(name + OK)) || waiting(name)) {
                        continue;
                    }
                    work = true;
                    inFlight.put(name, pool.submit(() -> pushOne(name, done)));
                }
                if (clock.instant().isAfter(lastReport.plus(REPORT_EVERY))) {
                    lastReport = clock.instant();
                    Backlog b = backlog();
                    if (b.files() > 0) {
                        log.info(
                                "WAL uploader backlog: {} files, the oldest ready for {} s, {} failing",
                                b.files(),
                                b.oldest().map(Duration::toSeconds).orElse(0L),
                                b.failing());
                    }
                }
                if (work) {
                    lastWork = clock.instant();
                } else if (!idleExit.isZero() && clock.instant().isAfter(lastWork.plus(idleExit))) {
                    log.info("WAL uploader: nothing ready for {}; exiting", idleExit);
                    break;
                }
                sleep(poll);
            }
        } finally {
            pool.shutdown();
            try {
                pool.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return done.get();
    }

    /** A failed file is retried after {@link Builder#retryDelay}; until then it waits. */
    private boolean waiting(String name) {
        synchronized (failedAt) {
            Instant at = failedAt.get(name);
            return at != null && clock.instant().isBefore(at.plus(retryDelay));
        }
    }

    private void pushOne(String name, AtomicInteger done) {
        Path file = pgWal.resolve(name);
        try {
            WalArchive.Pushed result = archive.push(file);
            writeStatus(name + OK, cluster + "\n"); // the answer names the cluster: checked before it is taken
            Files.deleteIfExists(spool.resolve(name + ERROR));
            synchronized (failedAt) {
                failedAt.remove(name);
            }
            done.incrementAndGet();
            log.debug("WAL uploader: {} {}", name, result);
        } catch (BackupException | IOException | UncheckedIOException e) {
            failed(name, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
        } catch (RuntimeException e) {
            log.error("WAL uploader: {} failed unexpectedly", name, e);
            failed(name, e.toString() + " (a bug: report it)");
        }
    }

    private void failed(String name, String reason) {
        log.warn("WAL uploader: {} not archived, retrying in {}: {}", name, retryDelay, reason);
        synchronized (failedAt) {
            failedAt.put(name, clock.instant());
        }
        try {
            writeStatus(name + ERROR, reason.replace('\n', ' ') + "\n");
        } catch (IOException ignored) {
            // the next attempt writes it again
        }
    }

    /** Writes a status file atomically: a reader sees the whole file or none. */
    private void writeStatus(String fileName, String content) throws IOException {
        Path tmp = spool.resolve("." + fileName + ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, spool.resolve(fileName), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Removes status files of files PostgreSQL no longer lists as ready (it marked them done). */
    private void removeStaleStatus(Set<String> ready) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(spool)) {
            for (Path p : files) {
                String f = p.getFileName().toString();
                String name = f.endsWith(OK)
                        ? f.substring(0, f.length() - OK.length())
                        : f.endsWith(ERROR) ? f.substring(0, f.length() - ERROR.length()) : null;
                if (name != null && !ready.contains(name)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Ready files in PostgreSQL's order: history files first, then by name (oldest WAL first). */
    private static List<String> readyNames(Path status) {
        TreeSet<String> history = new TreeSet<>();
        TreeSet<String> rest = new TreeSet<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(status, "*.ready")) {
            for (Path p : files) {
                String f = p.getFileName().toString();
                String name = f.substring(0, f.length() - ".ready".length());
                (name.endsWith(".history") ? history : rest).add(name);
            }
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + status + ": " + e.getMessage(), e);
        }
        List<String> all = new ArrayList<>(history);
        all.addAll(rest);
        return all;
    }

    /**
     * Records the cluster's system identifier in the spool; when the spool held another cluster's status files,
     * drops them (an {@code .ok} of that cluster must never answer for this one's file of the same name).
     */
    private void claimSpool() throws IOException {
        String id = systemIdentifier(pgWal.getParent());
        cluster = id;
        Path file = spool.resolve(CLUSTER);
        String before = Files.exists(file)
                ? Files.readString(file, StandardCharsets.UTF_8).trim()
                : null;
        if (!id.equals(before)) {
            if (before != null) {
                log.warn(
                        "WAL spool {} belonged to cluster {}; this is cluster {}: its status files are dropped",
                        spool,
                        before,
                        id);
            }
            try (DirectoryStream<Path> files = Files.newDirectoryStream(spool)) {
                for (Path p : files) {
                    String f = p.getFileName().toString();
                    if (f.endsWith(OK) || f.endsWith(ERROR)) {
                        Files.deleteIfExists(p);
                    }
                }
            }
            writeStatus(CLUSTER, id + "\n");
        }
    }

    /**
     * The system identifier of the cluster in {@code pgdata}, as {@code pg_control_system()} prints it: the first 8
     * bytes of {@code global/pg_control}, in the host's (little-endian) byte order.
     *
     * @throws IOException when {@code global/pg_control} cannot be read
     */
    public static String systemIdentifier(Path pgdata) throws IOException {
        Path control = pgdata.resolve("global").resolve("pg_control");
        byte[] head = new byte[8];
        try (var in = Files.newInputStream(control)) {
            if (in.readNBytes(head, 0, 8) != 8) {
                throw new IOException(control + " is shorter than 8 bytes");
            }
        } catch (NoSuchFileException e) {
            throw new ConfigurationException(pgdata + " has no global/pg_control: the WAL directory "
                    + pgdata.resolve("pg_wal") + " must be inside the cluster's data directory (give --pgdata).");
        }
        return Long.toUnsignedString(
                ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).getLong());
    }

    private static ThreadFactory daemons() {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, "jiffoo-wal-upload-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    private void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
        }
    }

    /** Settings of a {@link WalUploader}. */
    public static final class Builder {
        private WalArchive archive;
        private Path pgWal;
        private Path spool;
        private int parallel = Math.max(2, Math.min(4, Runtime.getRuntime().availableProcessors()));
        private Duration poll = Duration.ofMillis(200);
        private Duration idleExit = Duration.ZERO;
        private Duration retryDelay = Duration.ofSeconds(10);
        private Duration lockWait = LOCK_WAIT;
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /** The archive to push to (required). */
        public Builder archive(WalArchive archive) {
            this.archive = Objects.requireNonNull(archive, "archive");
            return this;
        }

        /** The cluster's data directory (required): its {@code pg_wal} is watched. */
        public Builder pgdata(Path pgdata) {
            this.pgWal =
                    Objects.requireNonNull(pgdata, "pgdata").toAbsolutePath().resolve("pg_wal");
            return this;
        }

        /** The spool directory for status files (required; local, owned by the user PostgreSQL runs as). */
        public Builder spool(Path spool) {
            this.spool = Objects.requireNonNull(spool, "spool").toAbsolutePath();
            return this;
        }

        /** Files pushed at once (default 2 to 4, by cores); memory is about that many times a push's buffers. */
        public Builder parallel(int n) {
            if (n < 1 || n > 64) {
                throw new ConfigurationException("WAL uploader parallelism must be 1 to 64, not " + n + ".");
            }
            this.parallel = n;
            return this;
        }

        /** How often {@code archive_status} is read (default 200 ms). */
        public Builder poll(Duration poll) {
            this.poll = Objects.requireNonNull(poll, "poll");
            return this;
        }

        /** Return from {@link #run} after this long with nothing ready (default zero: never). */
        public Builder idleExit(Duration idle) {
            this.idleExit = Objects.requireNonNull(idle, "idle");
            return this;
        }

        /** How long a file whose push failed waits before the next attempt (default 10 s). */
        public Builder retryDelay(Duration delay) {
            this.retryDelay = Objects.requireNonNull(delay, "delay");
            return this;
        }

        /**
         * How long {@link #run} tries for the spool's lock before it refuses to start because another uploader holds
         * it (default 60 s: a {@code wal-push} may hold the lock for one push). Tests that check the refusal shorten it.
         */
        public Builder lockWait(Duration wait) {
            this.lockWait = Objects.requireNonNull(wait, "wait");
            return this;
        }

        /** The clock (tests). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** The uploader. */
        public WalUploader build() {
            if (archive == null || pgWal == null || spool == null) {
                throw new ConfigurationException("A WAL uploader needs an archive, the cluster's data directory"
                        + " (--pgdata) and a spool directory (--spool).");
            }
            return new WalUploader(this);
        }
    }
}
