package com.jiffoo.backup.wal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A timeline history file ({@code 00000002.history}) as PostgreSQL writes it when a server is promoted: one line per
 * ancestor timeline, {@code <parent timeline>\t<switch point LSN>\t<reason>}, oldest first; blank lines and lines
 * starting with {@code #} are ignored. The timeline whose history it is begins at the last switch point.
 *
 * @param timeline the timeline the file belongs to
 * @param switches the switches that led to it, oldest first
 */
public record TimelineHistory(long timeline, List<Switch> switches) {
    /** Copies the list. */
    public TimelineHistory {
        switches = List.copyOf(switches);
    }

    /**
     * One line: the parent timeline ended at {@code lsn} and its child began there.
     *
     * @param parent the timeline that ended
     * @param lsn    where it ended
     * @param reason PostgreSQL's words, e.g. {@code no recovery target specified}
     */
    public record Switch(long parent, long lsn, String reason) {}

    /** The name of the history file of {@code timeline}: {@code 00000002.history}. */
    public static String fileName(long timeline) {
        return String.format(Locale.ROOT, "%08X.history", timeline);
    }

    /**
     * Parses the text of the history file of {@code timeline}.
     *
     * @throws IllegalArgumentException when a line is not {@code <timeline>\t<LSN>\t<reason>}, or the timelines do not
     *                                  increase and stay below {@code timeline}
     */
    public static TimelineHistory parse(long timeline, String text) {
        List<Switch> out = new ArrayList<>();
        long previous = 0;
        for (String raw : text.split("\n", -1)) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\s+", 3);
            try {
                long parent = Long.parseLong(f[0]);
                long lsn = WalSegment.parseLsn(f[1]);
                if (parent <= previous || parent >= timeline) {
                    throw new IllegalArgumentException("timelines out of order");
                }
                previous = parent;
                out.add(new Switch(parent, lsn, f.length > 2 ? f[2] : ""));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(
                        "the history file of timeline " + timeline + " has a line that is not <parent timeline>"
                                + " <switch point> <reason>: '" + line + "' (" + e.getMessage() + ")",
                        e);
            }
        }
        return new TimelineHistory(timeline, out);
    }
}
