package com.jiffoo.backup.wal;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.store.StoreLayout;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The name of a file PostgreSQL archives, and what it tells: its type, timeline and (for a segment) where it starts.
 * Immutable.
 */
record WalFileName(String name, Type type) {
    /** The suffixes of every stored WAL object: zstd, then OpenPGP. */
    static final String SUFFIXES = ".zst.gpg";

    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern PARTIAL = Pattern.compile("[0-9A-F]{24}\\.partial");
    private static final Pattern HISTORY = Pattern.compile("[0-9A-F]{8}\\.history");
    private static final Pattern BACKUP = Pattern.compile("[0-9A-F]{24}\\.[0-9A-F]{8}\\.backup");

    /** What kind of file a name names. */
    enum Type {
        SEGMENT,
        PARTIAL,
        HISTORY,
        BACKUP
    }

    /**
     * Parses a file name.
     *
     * @throws ConfigurationException when it is not the name of a file PostgreSQL archives
     */
    static WalFileName parse(String name) {
        Type type = SEGMENT.matcher(name).matches()
                ? Type.SEGMENT
                : PARTIAL.matcher(name).matches()
                        ? Type.PARTIAL
                        : HISTORY.matcher(name).matches()
                                ? Type.HISTORY
                                : BACKUP.matcher(name).matches() ? Type.BACKUP : null;
        if (type == null) {
            throw new ConfigurationException("'" + name + "' is not the name of a file PostgreSQL archives: a WAL"
                    + " segment (24 upper-case hex digits), <segment>.partial, <timeline>.history or"
                    + " <segment>.<offset>.backup. Give archive_command %p and restore_command %f and %p.");
        }
        return new WalFileName(name, type);
    }

    /** The stored data object's key ({@link StoreLayout#walFileKey}). */
    String dataKey() {
        return StoreLayout.walFileKey(name, SUFFIXES);
    }

    /** The timeline, from the name's first 8 hex digits. */
    long timeline() {
        return Long.parseLong(name.substring(0, 8), 16);
    }

    /**
     * The manifest's source facts: the file's name and type, its timeline, and for a whole segment its size and start
     * LSN ({@code X/Y}, computed from the name and the segment size).
     */
    Map<String, Object> facts(long size) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("walFile", name);
        f.put("type", type.name().toLowerCase(Locale.ROOT));
        f.put("timeline", timeline());
        if (type == Type.SEGMENT && Long.bitCount(size) == 1 && size >= (1 << 20) && size <= (1L << 30)) {
            long log = Long.parseLong(name.substring(8, 16), 16);
            long seg = Long.parseLong(name.substring(16, 24), 16);
            long lsn = (log << 32) + seg * size;
            f.put("segmentSize", size);
            f.put(
                    "startLsn",
                    Long.toHexString(lsn >>> 32).toUpperCase(Locale.ROOT) + "/"
                            + Long.toHexString(lsn & 0xFFFFFFFFL).toUpperCase(Locale.ROOT));
        }
        return f;
    }
}
