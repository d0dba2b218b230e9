package com.jiffoo.backup.postgres;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One installed PostgreSQL client tool, as found by {@link PgToolLocator}.
 *
 * <pre>{@code
 * PgTool t = PgToolLocator.system().locate("pg_dump", 15);
 * t.path();     // /usr/lib/postgresql/15/bin/pg_dump
 * t.version();  // "15.14"
 * t.major();    // 15
 * }</pre>
 *
 * @param name    the tool's name, e.g. {@code pg_dump}
 * @param path    the executable
 * @param version the version it reports, e.g. {@code 15.14} or {@code 16beta2}
 * @param major   the major version (15; 9 for 9.x)
 * @param minor   the minor version (14 for 15.14)
 */
public record PgTool(String name, Path path, String version, int major, int minor) implements Comparable<PgTool> {

    /** Checks that nothing is null. */
    public PgTool {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(version, "version");
    }

    /** Orders by major, then minor version. */
    @Override
    public int compareTo(PgTool o) {
        int c = Integer.compare(major, o.major);
        return c != 0 ? c : Integer.compare(minor, o.minor);
    }
}
