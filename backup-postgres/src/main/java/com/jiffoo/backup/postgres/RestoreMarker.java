package com.jiffoo.backup.postgres;

import com.jiffoo.backup.internal.Processes;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The comment a restore into a new database sets on it while it is not committed:
 * {@code jiffoo-backup: restore in progress by pid 4711 (started 2026-12-01T02:00:00.120Z) on host db-restore-1
 * since ...}. A database still marked when its restore's process is gone was left by a killed restore: it is half
 * restored, and the next restore drops it.
 */
final class RestoreMarker {
    static final String PREFIX = "jiffoo-backup: restore in progress";
    private static final Pattern OWNER = Pattern.compile(" by pid (\\d+) \\(started ([^)]*)\\) on host (\\S+)");

    /** A marked database. */
    record Marked(String database, String marker) {
        /** True when the restore that marked it ran on this host and its process is gone. */
        boolean abandoned() {
            Matcher m = OWNER.matcher(marker);
            if (!m.find() || !m.group(3).equals(Processes.host())) {
                return false;
            }
            Instant started;
            try {
                started = m.group(2).isEmpty() ? null : Instant.parse(m.group(2));
            } catch (DateTimeParseException e) {
                started = null;
            }
            return !Processes.running(Long.parseLong(m.group(1)), started);
        }
    }

    private RestoreMarker() {}

    /** The marker of a restore run by this process, now. */
    static String text() {
        return PREFIX + " by pid " + Processes.pid() + " (started "
                + Processes.started().map(Instant::toString).orElse("") + ") on host " + Processes.host() + " since "
                + Instant.now()
                + "; a database still marked when that process is gone is half restored and dropped by the next"
                + " restore";
    }

    /**
     * The marker of a restore drill's scratch database, held while this process checks it: when the process is gone
     * (the drill was killed), the next restore or drill on this host drops it as it drops a half-restored one.
     */
    static String drillText() {
        return PREFIX + " (a restore drill's scratch database) by pid " + Processes.pid() + " (started "
                + Processes.started().map(Instant::toString).orElse("") + ") on host " + Processes.host() + " since "
                + Instant.now() + "; dropped when the drill ends, or by the next restore once that process is gone";
    }

    /** The marked databases of the server {@code c} is connected to. */
    static List<Marked> find(Connection c) throws SQLException {
        List<Marked> out = new ArrayList<>();
        try (Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT datname, d FROM (SELECT datname, shobj_description(oid,"
                        + " 'pg_database') AS d FROM pg_database) m WHERE d LIKE 'jiffoo-backup: restore in progress%'"
                        + " ORDER BY datname")) {
            while (r.next()) {
                out.add(new Marked(r.getString(1), r.getString(2)));
            }
        }
        return out;
    }
}
