package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestoreException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts PostgreSQL on a data directory a {@link PitrRestore} wrote, waits until recovery ends, and reports the point
 * reached.
 *
 * <ul>
 *   <li><b>Server</b>: {@code pg_ctl} of the major version in the directory's {@code PG_VERSION}, from
 *       {@link Builder#binDirectory} or the installed versions ({@code /usr/lib/postgresql/N/bin}); started with
 *       {@code -p PORT} and its log in {@code <data>/pitr-recovery.log}, through {@link PgChild}. When running as root,
 *       as the directory's owner ({@code setpriv --reuid --regid --init-groups}). The server keeps running
 *       afterwards.</li>
 *   <li><b>Done</b>: with {@link PitrRestore.Action#PROMOTE} (and for a restore to the latest), when
 *       {@code pg_is_in_recovery()} is false; with {@link PitrRestore.Action#PAUSE}, when
 *       {@code pg_get_wal_replay_pause_state()} is {@code paused} (with {@link Builder#promoteAtPause}, once it
 *       promoted at the target: the promotion asked for during replay). Asked every 100 ms over one JDBC connection at 127.0.0.1:PORT with the
 *       {@link Builder#connection} (a user the restored cluster lets in from 127.0.0.1), kept open between the polls
 *       (connected again only when it fails): a backend started per poll would take CPU from the replay.</li>
 *   <li><b>Reported</b>: the last replayed transaction's commit time ({@code pg_last_xact_replay_timestamp()}) and
 *       the last replayed WAL position ({@code pg_last_wal_replay_lsn()}).</li>
 *   <li><b>Failures</b> (a {@link RestoreException}, exit code 7 on the command line, with the log's last lines):
 *       "recovery ended before configured recovery target was reached" — the archive ends before the target (a
 *       missing segment, a target in the future, the wrong timeline); "requested recovery stop point is before
 *       consistent recovery point" — the target lies before the end of the base backup; replay paused short of the target
 *       because of "insufficient parameter settings" (a setting lower than the backed-up server's); any other exit of the
 *       server; and no end of recovery within {@link Builder#timeout} (the server is then left running).</li>
 * </ul>
 */
public final class RecoveryServer {
    private static final Logger LOG = LoggerFactory.getLogger(RecoveryServer.class);
    /** The server's log, in the data directory. */
    public static final String LOG_FILE = "pitr-recovery.log";

    /** How often the server is asked whether recovery ended. */
    private static final long POLL_MILLIS = 100;

    private static final int PROMOTE_WAIT_SECONDS = 60;

    private static final String INSUFFICIENT_SETTINGS = "insufficient parameter settings";
    private static final String NOT_REACHED = "recovery ended before configured recovery target was reached";
    private static final String BEFORE_CONSISTENT = "requested recovery stop point is before consistent recovery point";

    /** How recovery ended. */
    public enum State {
        /** Recovery finished and the server accepts writes. */
        PROMOTED,
        /** Replay is paused at the target; the server is read-only. */
        PAUSED
    }

    /**
     * The point recovery reached.
     *
     * @param state              promoted or paused
     * @param lastTransactionTime the commit time of the last replayed transaction, as the server prints it, or null
     * @param lastReplayedLsn    the last replayed WAL position, e.g. {@code 0/3000148}
     * @param elapsed            from the start of the server to the end of recovery
     * @param log                the server's log file
     */
    public record Outcome(
            State state, String lastTransactionTime, String lastReplayedLsn, Duration elapsed, Path log) {}

    private final Path dataDirectory;
    private final int port;
    private final Path binDirectory;
    private final PgConnection connection;
    private final PitrRestore.Action action;
    private final boolean promoteAtPause;
    private final Duration timeout;
    private final List<String> settings;

    private RecoveryServer(Builder b) {
        this.dataDirectory = b.dataDirectory;
        this.port = b.port;
        this.binDirectory = b.binDirectory;
        this.connection = (b.connection != null
                        ? b.connection.toBuilder()
                        : PgConnection.builder()
                                .user(RecoveryFiles.runningAsRoot() ? "postgres" : System.getProperty("user.name"))
                                .database("postgres"))
                .host("127.0.0.1")
                .port(b.port)
                .build();
        this.action = b.action;
        this.promoteAtPause = b.promoteAtPause;
        this.timeout = b.timeout;
        this.settings = List.copyOf(b.settings);
    }

    /** A builder for the server on {@code dataDirectory}, to listen on {@code port}. */
    public static Builder builder(Path dataDirectory, int port) {
        return new Builder(dataDirectory, port);
    }

    /**
     * Starts the server and waits until recovery ends.
     *
     * @throws RestoreException when the server fails, the target is not reached, or recovery does not end in time
     * @throws ConfigurationException when no pg_ctl of the data directory's version is found
     */
    public Outcome startAndWait() throws IOException {
        int major = dataMajor();
        PgTool pgCtl = pgCtl(major);
        Path log = dataDirectory.resolve(LOG_FILE);
        List<String> argv = asOwner();
        // its log where the checks above read it, whatever the restored postgresql.conf says
        StringBuilder options = new StringBuilder("-p " + port + " -c logging_collector=off");
        for (String setting : settings) {
            options.append(" -c ").append(setting);
        }
        argv.addAll(List.of(
                pgCtl.path().toString(),
                "-D",
                dataDirectory.toString(),
                "-l",
                log.toString(),
                "-o",
                options.toString(),
                "-W",
                "start"));
        long started = System.nanoTime();
        LOG.info("starting PostgreSQL {} on {} (port {}) for recovery", major, dataDirectory, port);
        PgChild child = PgChild.start(argv, null, ProcessBuilder.Redirect.PIPE, false);
        child.stdin().close();
        int exit = child.waitFor();
        if (exit != 0) {
            throw new RestoreException(
                    "pg_ctl start on " + dataDirectory + " " + PgChild.exitText(exit) + ": " + child.lastLines()
                            + tail(log),
                    null,
                    dataDirectory.toString(),
                    null);
        }
        return await(log, started);
    }

    /** When root: the prefix running a command as the data directory's owner (never root); else nothing. */
    private List<String> asOwner() throws IOException {
        List<String> argv = new ArrayList<>();
        if (RecoveryFiles.runningAsRoot()) {
            PosixFileAttributes a =
                    Files.readAttributes(dataDirectory, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if ("root".equals(a.owner().getName())) {
                throw new ConfigurationException("The data directory " + dataDirectory + " belongs to root, and"
                        + " PostgreSQL refuses to run as root; give it to the server's user (chown -R postgres:postgres)"
                        + " or restore with --owner.");
            }
            argv.addAll(List.of(
                    "setpriv",
                    "--reuid=" + a.owner().getName(),
                    "--regid=" + a.group().getName(),
                    "--init-groups",
                    "--"));
        }
        return argv;
    }

    /**
     * Stops the server running on the data directory at once ({@code pg_ctl stop -m immediate}, as the directory's
     * owner): for a scratch copy that is thrown away afterwards (a restore drill's), not for one that is kept — the
     * next start of an immediately stopped server recovers from its last checkpoint. Does nothing when no server
     * runs there ({@code postmaster.pid} absent).
     *
     * @return whether no server runs on the directory afterwards
     */
    public boolean stopImmediately() {
        if (!Files.exists(dataDirectory.resolve("postmaster.pid"))) {
            return true;
        }
        try {
            List<String> argv = asOwner();
            argv.addAll(List.of(
                    pgCtl(dataMajor()).path().toString(),
                    "-D",
                    dataDirectory.toString(),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "60",
                    "stop"));
            PgChild child = PgChild.start(argv, null, ProcessBuilder.Redirect.PIPE, false);
            child.stdin().close();
            int exit = child.waitFor();
            if (exit != 0) {
                LOG.warn("pg_ctl stop on {} {}: {}", dataDirectory, PgChild.exitText(exit), child.lastLines());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not stop the server on {}: {}", dataDirectory, e.toString());
        }
        return !Files.exists(dataDirectory.resolve("postmaster.pid"));
    }

    private Outcome await(Path log, long started) throws IOException {
        // one connection for every poll while it lasts: a new one every 100 ms would start a backend each time,
        // ~0.05 s of server CPU taken from the replay on a loaded machine (docs/benchmarks.md, issue 14)
        Connection[] held = {null};
        try {
            return await(log, started, held);
        } finally {
            PgConnection.closeQuietly(held[0]);
        }
    }

    private Outcome await(Path log, long started, Connection[] held) throws IOException {
        long deadline = started + timeout.toNanos();
        SQLException last = null;
        // With promoteAtPause: the promotion is asked for during replay, as soon as the server takes connections
        // (pg_promote(false)). The paused startup process looks for a promotion once a second, so one asked for at
        // the pause cost up to a second; asked for before, the startup process finds it the moment it reaches the
        // target (recoveryPausesHere looks before it sleeps) and ends recovery there with a fast promotion. Outside
        // standby mode nothing looks for it earlier: replay goes on to the target, and a target not reached still
        // fails.
        boolean early = promoteAtPause && action == PitrRestore.Action.PAUSE;
        boolean promoteAsked = false;
        long pausedSince = 0;
        while (System.nanoTime() < deadline) {
            String text = read(log);
            if (promoteAsked && text.contains(INSUFFICIENT_SETTINGS)) {
                // with a promotion asked for, PostgreSQL refuses it there, and pauses or stops the server
                throw failed(log, insufficientSettings());
            }
            if (text.contains(NOT_REACHED)) {
                throw failed(
                        log,
                        "recovery ended before the configured recovery target was reached: the archive holds no WAL up"
                                + " to the target (a missing segment, a target in the future or on another timeline)."
                                + " The server stopped; nothing was promoted. Check the archive (wal-verify), or"
                                + " restore to an earlier target or --latest");
            }
            if (text.contains(BEFORE_CONSISTENT)) {
                throw failed(
                        log,
                        "the target lies before the end of the base backup, where the data first becomes"
                                + " consistent. Restore again from an older base backup (--backup)");
            }
            try {
                if (held[0] == null) {
                    held[0] = connection.openJdbc();
                }
            } catch (SQLException e) {
                refused(e, log);
                last = e; // starting, or recovering before consistency: no connections yet
                sleepOrFail(log, started);
                continue;
            }
            Connection c = held[0];
            try (Statement s = c.createStatement();
                    ResultSet r = s.executeQuery("SELECT pg_is_in_recovery(),"
                            + " CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END,"
                            + " pg_last_xact_replay_timestamp()::text, pg_last_wal_replay_lsn()::text")) {
                r.next();
                boolean inRecovery = r.getBoolean(1);
                Duration elapsed = Duration.ofNanos(System.nanoTime() - started);
                if (!inRecovery) {
                    if (early) {
                        promoted(c, promoteAsked);
                    }
                    return new Outcome(State.PROMOTED, r.getString(3), r.getString(4), elapsed, log);
                }
                boolean paused = "paused".equals(r.getString(2));
                if (paused && read(log).contains(INSUFFICIENT_SETTINGS)) {
                    // PostgreSQL 14 and later pause replay, wherever it is, when a setting is lower than the
                    // backed-up server's: that pause is not the target
                    throw failed(log, insufficientSettings());
                }
                if (action == PitrRestore.Action.PAUSE && paused && !promoteAsked) {
                    if (promoteAtPause) {
                        promote(c); // paused at the target before a promotion was asked for: promoted now
                        continue; // the next poll reports the point reached
                    }
                    return new Outcome(State.PAUSED, r.getString(3), r.getString(4), elapsed, log);
                }
                pausedSince = paused && promoteAsked ? pausedSince : 0;
                if (paused && promoteAsked) {
                    // paused although a promotion was asked for: the startup process finds it within a second;
                    // should it not (its signal file was removed), ask again
                    pausedSince = pausedSince == 0 ? System.nanoTime() : pausedSince;
                    if (System.nanoTime() - pausedSince > TimeUnit.SECONDS.toNanos(5)) {
                        askPromotion(c);
                        pausedSince = 0;
                    }
                } else if (early && !promoteAsked) {
                    promoteAsked = askPromotion(c);
                }
            } catch (SQLException e) {
                // the session ended (a restart, a recovery conflict): the next poll connects again
                PgConnection.closeQuietly(c);
                held[0] = null;
                refused(e, log);
                last = e;
            }
            sleepOrFail(log, started);
        }
        throw new RestoreException(
                "Recovery on " + dataDirectory + " did not end within " + timeout.toSeconds() + " s (last connection"
                        + " attempt: " + (last == null ? "connected, still recovering" : last.getMessage())
                        + "). The server is still running (pg_ctl -D " + dataDirectory + " status); see " + log
                        + tail(log),
                null,
                dataDirectory.toString(),
                null);
    }

    private String insufficientSettings() {
        return "replay stopped before the target, because a setting of this server is lower than the backed-up"
                + " server's (max_connections, max_worker_processes, max_wal_senders, max_prepared_transactions or"
                + " max_locks_per_transaction; the log names it and the value needed). Raise it in " + dataDirectory
                + "/postgresql.conf, then restart the server (pg_ctl -D " + dataDirectory + " restart, as its owner;"
                + " it also starts one that stopped): recovery goes on from where it stopped, pauses at the target,"
                + " and SELECT pg_promote() then opens it for writes";
    }

    /**
     * Asks for the promotion during replay ({@code pg_promote(false)}: signals, does not wait).
     *
     * @return whether the server took the request (false: it could not signal; asked again at the next poll)
     */
    private boolean askPromotion(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT pg_promote(false)")) {
            boolean sent = r.next() && r.getBoolean(1);
            LOG.debug("promotion {} during replay on {}", sent ? "asked for" : "not taken", dataDirectory);
            return sent;
        }
    }

    /**
     * Once promoted: logs how, and sets {@code recovery_target_action} back to {@code promote} in the server's
     * {@code postgresql.auto.conf}, what the operator asked for.
     */
    private void promoted(Connection c, boolean askedDuringReplay) {
        LOG.info(
                askedDuringReplay
                        ? "recovery reached the target; promoted (pg_promote() asked for during replay)"
                        : "recovery paused at the target; promoted with pg_promote()");
        try (Statement s = c.createStatement()) {
            s.execute("ALTER SYSTEM SET recovery_target_action = 'promote'");
        } catch (SQLException e) {
            LOG.warn(
                    "promoted, but could not set recovery_target_action back to promote in {}: {}",
                    dataDirectory.resolve("postgresql.auto.conf"),
                    e.getMessage());
        }
    }

    /**
     * Promotes the server paused at its target ({@code pg_promote()}: a fast promotion, the end-of-recovery checkpoint
     * runs in the background once writes are accepted) and waits until it accepts writes.
     */
    private void promote(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT pg_promote(true, " + PROMOTE_WAIT_SECONDS + ")")) {
            if (!r.next() || !r.getBoolean(1)) {
                throw new RestoreException(
                        "The server on " + dataDirectory + " reached the recovery target and paused, but did not"
                                + " promote within " + PROMOTE_WAIT_SECONDS + " s of pg_promote(). It is still"
                                + " running, paused at the target: promote it with SELECT pg_promote(); see "
                                + dataDirectory.resolve(LOG_FILE),
                        null,
                        dataDirectory.toString(),
                        null);
            }
        }
    }

    private RestoreException failed(Path log, String why) {
        return new RestoreException(
                "Point-in-time recovery on " + dataDirectory + " failed: " + why + "." + tail(log),
                null,
                dataDirectory.toString(),
                null);
    }

    /** The server answers, but refuses us: waiting longer changes nothing. */
    private void refused(SQLException e, Path log) {
        if (e.getSQLState() != null && e.getSQLState().startsWith("28")) {
            throw new RestoreException(
                    "The recovering server on port " + connection.port() + " refuses the connection that checks"
                            + " its recovery (" + e.getMessage() + "). Recovery may well go on: connect with"
                            + " a user the server lets in from 127.0.0.1 (DB_USER, DB_PASSWORD) or check its log"
                            + " " + log + ".",
                    e);
        }
    }

    /** Waits for the next poll; refuses a server that stopped (its postmaster.pid gone, 5 s after the start). */
    private void sleepOrFail(Path log, long started) throws InterruptedIOException {
        if (System.nanoTime() - started > TimeUnit.SECONDS.toNanos(5)
                && !Files.exists(dataDirectory.resolve("postmaster.pid"))) {
            throw failed(log, "the server stopped during recovery");
        }
        sleep(POLL_MILLIS);
    }

    private static void sleep(long millis) throws InterruptedIOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for recovery");
        }
    }

    /** The last 4 KiB of the log, as lines for an error message. */
    private static String tail(Path log) {
        String text = read(log);
        if (text.isEmpty()) {
            return "";
        }
        List<String> lines = text.lines().toList();
        return " Server log (" + log + "), last lines:\n  "
                + String.join("\n  ", lines.subList(Math.max(0, lines.size() - 12), lines.size()));
    }

    /** The last 64 KiB of the log (it is the server's, written as another user; bounded). */
    private static String read(Path log) {
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long len = f.length();
            long from = Math.max(0, len - 64 * 1024);
            byte[] b = new byte[(int) (len - from)];
            f.seek(from);
            f.readFully(b);
            return new String(b, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private int dataMajor() throws IOException {
        Path version = dataDirectory.resolve("PG_VERSION");
        if (!Files.isRegularFile(version)) {
            throw new ConfigurationException(
                    dataDirectory + " holds no PG_VERSION: it is not a restored data directory.");
        }
        String v = Files.readString(version, StandardCharsets.US_ASCII).strip();
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new ConfigurationException(dataDirectory + "/PG_VERSION reads '" + v + "', not a major version.");
        }
    }

    private PgTool pgCtl(int major) {
        PgToolLocator locator = binDirectory != null ? PgToolLocator.inDirectory(binDirectory) : PgToolLocator.system();
        return locator.candidates("pg_ctl").stream()
                .filter(t -> t.major() == major)
                .findFirst()
                .orElseThrow(() -> new ConfigurationException(
                        "No pg_ctl of PostgreSQL " + major + " (the data directory's version) was found in "
                                + locator.searchPath() + "; install postgresql-" + major + " or name its bin"
                                + " directory (--pg-bin /usr/lib/postgresql/" + major + "/bin).",
                        null,
                        locator.searchPath().toString(),
                        null));
    }

    /** Builds a {@link RecoveryServer}. Not thread-safe. */
    public static final class Builder {
        private final Path dataDirectory;
        private final int port;
        private Path binDirectory;
        private PgConnection connection;
        private PitrRestore.Action action = PitrRestore.Action.PROMOTE;
        private boolean promoteAtPause;
        private Duration timeout = Duration.ofHours(1);
        private final List<String> settings = new ArrayList<>();

        private Builder(Path dataDirectory, int port) {
            this.dataDirectory = Objects.requireNonNull(dataDirectory, "dataDirectory")
                    .toAbsolutePath()
                    .normalize();
            if (port < 1 || port > 65535) {
                throw new ConfigurationException("The port must be 1..65535, got " + port + ".");
            }
            this.port = port;
        }

        /** The directory holding pg_ctl and postgres of the data directory's version. */
        public Builder binDirectory(Path dir) {
            this.binDirectory = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /**
         * Who asks the server whether recovery ended (its user, password, database; host and port are replaced by
         * 127.0.0.1 and the port). Default: user {@code postgres} when root, else the running user; database
         * {@code postgres}.
         */
        public Builder connection(PgConnection connection) {
            this.connection = Objects.requireNonNull(connection, "connection");
            return this;
        }

        /** The recovery_target_action written (default promote): when to say recovery ended. */
        public Builder action(PitrRestore.Action action) {
            this.action = Objects.requireNonNull(action, "action");
            return this;
        }

        /**
         * With the action {@link PitrRestore.Action#PAUSE} written: promote the server at the target and report
         * {@link State#PROMOTED} (default false). This ends recovery where {@code recovery_target_action = promote}
         * would, without PostgreSQL's end-of-recovery checkpoint before writes are accepted (a standby's fast
         * promotion; the checkpoint follows in the background): the server is usable about a checkpoint's time sooner.
         * The promotion is asked for during replay ({@code pg_promote(false)} once connections are taken): the startup
         * process finds it the moment it reaches the target, instead of up to a second later (a paused startup process
         * looks for a promotion once a second). Outside standby mode a promotion does
         * not end recovery before the target; a target not reached still fails. A server that paused at the target
         * before the first connection is promoted there with {@code pg_promote()}. The recovery_target_action in
         * {@code postgresql.auto.conf} is set back to {@code promote} afterwards.
         */
        public Builder promoteAtPause(boolean promote) {
            this.promoteAtPause = promote;
            return this;
        }

        /** How long recovery may take (default 1 hour). */
        public Builder timeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new ConfigurationException("The recovery timeout must be positive.");
            }
            this.timeout = timeout;
            return this;
        }

        /**
         * A setting the server is started with ({@code -c NAME=VALUE}, e.g. {@code listen_addresses=127.0.0.1});
         * repeatable. The value must hold no space or quote.
         */
        public Builder setting(String nameEqualsValue) {
            if (nameEqualsValue == null || !nameEqualsValue.matches("[a-z_.]+=[A-Za-z0-9_.,:/+-]*")) {
                throw new ConfigurationException(
                        "A server setting is NAME=VALUE without spaces or quotes, got '" + nameEqualsValue + "'.");
            }
            settings.add(nameEqualsValue);
            return this;
        }

        /** Builds it; nothing runs until {@link RecoveryServer#startAndWait()}. */
        public RecoveryServer build() {
            return new RecoveryServer(this);
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "RecoveryServer{%s, port %d}", dataDirectory, port);
    }
}
