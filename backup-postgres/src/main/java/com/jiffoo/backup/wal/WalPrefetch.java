package com.jiffoo.backup.wal;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code restore_command} with read-ahead: fetches the WAL segment recovery asks for and, at the same time, the
 * segments after it into a local spool, so that the next requests are answered from the spool (by the launcher
 * script, without starting Java) instead of one JVM and one round trip to the store per 16 MiB segment. This is what
 * pgBackRest's asynchronous {@code archive-get} and WAL-G's prefetch do.
 *
 * <p>Every file in the spool went through {@link WalArchive#fetch} — manifest signature, SHA-256 of the stored bytes
 * (and of the decoded ones when the archive hashes them, {@link WalArchive.Builder#hashPlaintext}), the decoded
 * size and zstd's checksum, the cluster's system identifier — and appears only complete (written beside, then
 * renamed).
 * A spool belongs to one cluster: it records the system identifier it was filled for ({@value #SYSTEM_ID_FILE}) and
 * is emptied when asked for another or for none. Only segments are read ahead (same timeline, the next
 * {@code count} numbers); history, backup-history and partial files are fetched when asked. Segments below the one
 * asked for are no longer needed and are removed; at most {@code count} segments wait in the spool. A read-ahead that
 * fails or finds nothing is dropped silently: the request for that segment, when it comes, fetches it and reports.
 *
 * <p>Thread-safe as {@link WalArchive} is; one recovery uses one spool.
 */
public final class WalPrefetch {
    private static final Logger log = LoggerFactory.getLogger(WalPrefetch.class);

    /** The file in the spool that names the cluster its segments belong to. */
    public static final String SYSTEM_ID_FILE = "system-id";

    /**
     * The file in the spool that names, in 8 hex digits, the newest timeline with a history file in the store when
     * {@code restore pitr} listed it; its modification time is the listing's. For
     * {@value #NEWEST_TIMELINE_SECONDS} s after it, the launcher answers "not found" to a request for a later
     * timeline's history file (PostgreSQL's probes for the newest timeline, at the start and the end of recovery)
     * without starting Java; {@code 00000001.history} never exists (timeline 1 has no history).
     */
    public static final String NEWEST_TIMELINE_FILE = "newest-timeline";

    /** How long after the listing {@value #NEWEST_TIMELINE_FILE} answers (seconds). */
    public static final int NEWEST_TIMELINE_SECONDS = 60;

    /** The default number of segments read ahead (256 MiB of 16 MiB segments). */
    public static final int DEFAULT_COUNT = 16;

    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");

    private final WalArchive archive;
    private final Path spool;
    private final int count;
    private final int threads;
    private final String systemIdentifier;

    private WalPrefetch(Builder b) {
        this.archive = b.archive;
        this.spool = b.spool;
        this.count = b.count;
        this.threads = b.threads;
        this.systemIdentifier = b.systemIdentifier;
    }

    /** A builder; {@link Builder#archive} and {@link Builder#spool} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Restores {@code walFileName} into {@code destination} — from the spool when it was read ahead, else from the
     * archive — and reads the next segments ahead into the spool.
     *
     * @return what {@link WalArchive#fetch} returns for the file asked for
     * @throws BackupException as {@link WalArchive#fetch} does, for the file asked for only
     */
    public WalArchive.Fetched fetch(String walFileName, Path destination) {
        Objects.requireNonNull(destination, "destination");
        prepareSpool();
        if (!SEGMENT.matcher(walFileName).matches()) {
            return archive.fetch(walFileName, destination);
        }
        removeBelow(walFileName);
        Path ahead = spool.resolve(walFileName);
        if (Files.isRegularFile(ahead)) {
            move(ahead, destination);
            log.info("{} restored from the read-ahead spool {}", walFileName, spool);
            return WalArchive.Fetched.FOUND;
        }
        List<String> next = new ArrayList<>();
        for (String n : following(walFileName, count)) {
            if (!Files.exists(spool.resolve(n))) {
                next.add(n);
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "wal-prefetch");
            t.setDaemon(true);
            return t;
        });
        try {
            Future<WalArchive.Fetched> asked = pool.submit(() -> archive.fetch(walFileName, destination));
            List<Future<WalArchive.Fetched>> reads = new ArrayList<>();
            for (String n : next) {
                reads.add(pool.submit(() -> archive.fetch(n, spool.resolve(n))));
            }
            WalArchive.Fetched result = await(asked);
            if (result == WalArchive.Fetched.NOT_FOUND) {
                pool.shutdownNow(); // the end of the archive: nothing after it either
                return result;
            }
            int fetched = 0;
            for (int i = 0; i < reads.size(); i++) {
                try {
                    if (reads.get(i).get() == WalArchive.Fetched.FOUND) {
                        fetched++;
                    }
                } catch (ExecutionException e) {
                    log.debug("reading {} ahead failed: {}", next.get(i), String.valueOf(e.getCause()));
                }
            }
            log.info("{} restored; {} of the next {} segments read ahead into {}", walFileName, fetched, count, spool);
            return result;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UncheckedIOException(new IOException("interrupted while fetching " + walFileName));
        } finally {
            pool.shutdownNow();
        }
    }

    private static WalArchive.Fetched await(Future<WalArchive.Fetched> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /**
     * The {@code n} segment names after {@code segment} on its timeline, within its 4 GiB log file. With the default
     * 16 MiB segments a log file ends at segment {@code FF}; a number above it means smaller segments, whose log files
     * hold more. (The next log file's first segment comes with the next request.)
     */
    static List<String> following(String segment, int n) {
        String timelineAndLog = segment.substring(0, 16);
        long number = Long.parseLong(segment.substring(16), 16);
        long last = number <= 0xFF ? 0xFF : 0xFFFFFFFFL;
        List<String> names = new ArrayList<>();
        for (long s = number + 1; s <= number + n && s <= last; s++) {
            names.add(timelineAndLog + String.format("%08X", s));
        }
        return names;
    }

    private void prepareSpool() {
        prepareSpool(spool, systemIdentifier);
    }

    private static void prepareSpool(Path spool, String systemIdentifier) {
        try {
            if (!Files.isDirectory(spool)) {
                Files.createDirectories(spool);
            }
            try {
                // decrypted WAL: the server's user only, also in a directory someone else made
                Files.setPosixFilePermissions(spool, PosixFilePermissions.fromString("rwx------"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system
            }
            Path idFile = spool.resolve(SYSTEM_ID_FILE);
            String want = systemIdentifier == null ? "" : systemIdentifier;
            String have = Files.exists(idFile) ? Files.readString(idFile, StandardCharsets.UTF_8) : null;
            if (!want.equals(have)) {
                // another cluster's (or an unknown one's) read-ahead must never answer for this one
                clear(spool);
                Path tmp = spool.resolve("." + SYSTEM_ID_FILE + ".tmp");
                Files.writeString(tmp, want, StandardCharsets.UTF_8);
                Files.move(tmp, idFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new ConfigurationException(
                    "Cannot use the WAL read-ahead spool " + spool + ": " + e
                            + ". It must be a directory the server's user can write (or drop --spool).",
                    e);
        }
    }

    /**
     * Leaves {@value #NEWEST_TIMELINE_FILE} in {@code spool} (created 0700 when missing, emptied when it was filled
     * for another cluster): {@code newest}, dated {@code listedAt}.
     *
     * @param spool            the read-ahead spool the restore_command names
     * @param systemIdentifier the cluster the restore_command's {@code --system-id} names
     * @param newest           the newest timeline with a history file in the store when it was listed
     * @param listedAt         when the store was listed
     */
    public static void writeNewestTimeline(Path spool, String systemIdentifier, long newest, java.time.Instant listedAt)
            throws IOException {
        if (newest < 1 || newest > 0xFFFFFFFFL) {
            throw new IllegalArgumentException("timeline " + newest);
        }
        spool = spool.toAbsolutePath().normalize();
        prepareSpool(spool, Objects.requireNonNull(systemIdentifier, "systemIdentifier"));
        Path tmp = spool.resolve("." + NEWEST_TIMELINE_FILE + ".tmp");
        Files.writeString(tmp, String.format("%08X", newest), StandardCharsets.US_ASCII);
        Files.setLastModifiedTime(tmp, java.nio.file.attribute.FileTime.from(listedAt));
        Files.move(
                tmp,
                spool.resolve(NEWEST_TIMELINE_FILE),
                StandardCopyOption.REPLACE_EXISTING,
                StandardCopyOption.ATOMIC_MOVE);
    }

    private static void clear(Path spool) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(spool)) {
            for (Path f : files) {
                if (Files.isRegularFile(f)) {
                    Files.delete(f);
                }
            }
        }
    }

    /** Removes read-ahead segments recovery has passed (numbers below the one asked for, any timeline). */
    private void removeBelow(String asked) {
        String number = asked.substring(8);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(spool)) {
            for (Path f : files) {
                String name = f.getFileName().toString().replace(".jiffoo-fetch.tmp", "");
                if (SEGMENT.matcher(name).matches() && name.substring(8).compareTo(number) < 0) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            log.debug("cannot clean the read-ahead spool {}: {}", spool, e.toString());
        }
    }

    private static void move(Path from, Path to) {
        try {
            WalArchive.move(from, to);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot move " + from + " to " + to, e);
        }
    }

    /** Builds a {@link WalPrefetch}. */
    public static final class Builder {
        private WalArchive archive;
        private Path spool;
        private int count = DEFAULT_COUNT;
        private int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
        private String systemIdentifier;

        private Builder() {}

        /** The archive to fetch from (with its keys, trust and system identifier check). Required. */
        public Builder archive(WalArchive archive) {
            this.archive = Objects.requireNonNull(archive, "archive");
            return this;
        }

        /** The local directory of segments read ahead; created (mode 0700) when missing. Required. */
        public Builder spool(Path spool) {
            this.spool = Objects.requireNonNull(spool, "spool").toAbsolutePath().normalize();
            return this;
        }

        /** How many segments to read ahead (default {@value #DEFAULT_COUNT}; 0 turns read-ahead off). */
        public Builder count(int count) {
            if (count < 0 || count > 1024) {
                throw new IllegalArgumentException("read-ahead count must be 0 to 1024, not " + count);
            }
            this.count = count;
            return this;
        }

        /** How many files are fetched at once (default: the number of cores, at least 2). */
        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1, not " + threads);
            }
            this.threads = threads;
            return this;
        }

        /**
         * The cluster the spool is filled for (its system identifier, as given to
         * {@link WalArchive.Builder#systemIdentifier}); a spool recorded for another is emptied first.
         */
        public Builder systemIdentifier(String id) {
            this.systemIdentifier = id;
            return this;
        }

        /** The prefetcher. */
        public WalPrefetch build() {
            if (archive == null || spool == null) {
                throw new IllegalStateException("WalPrefetch needs archive(...) and spool(...)");
            }
            return new WalPrefetch(this);
        }
    }
}
