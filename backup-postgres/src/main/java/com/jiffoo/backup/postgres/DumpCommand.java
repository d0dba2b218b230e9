package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * pg_dump's command line for {@link PostgresSource}, and what it selects: which tables it dumps with the configured
 * {@code -n/-N/-t/-T} (as pg_dump selects them) and which of those it dumps without rows. The command line carries no
 * connection settings and no secret: they travel in the child's environment ({@link ChildEnvironment}).
 *
 * @param compressionLevel pg_dump's {@code -Z}, 0..9
 * @param extraArgs        further options, each checked by {@link #checkExtraArg}
 * @param lockWaitTimeout  {@code --lock-wait-timeout}; zero waits forever
 */
record DumpCommand(
        int compressionLevel,
        List<PgNamePattern> includeSchemas,
        List<PgNamePattern> excludeSchemas,
        List<PgNamePattern> includeTables,
        List<PgNamePattern> excludeTables,
        boolean noOwner,
        boolean noPrivileges,
        List<String> extraArgs,
        Duration lockWaitTimeout) {

    /** Long options of pg_dump that extra arguments must not use (or abbreviate). */
    private static final List<String> FORBIDDEN_LONG = List.of(
            "file",
            "format",
            "dbname",
            "host",
            "port",
            "username",
            "password",
            "snapshot",
            "compress",
            "jobs",
            "version",
            "help",
            "role");
    /** Short options of pg_dump that extra arguments must not use. */
    private static final String FORBIDDEN_SHORT = "fFdhpUWjZV?";
    /** Short options of pg_dump that take an argument (the rest of a bundle is that argument). */
    private static final String SHORT_WITH_ARGUMENT = "defFhjnNpStTUZ";

    /** Copies the lists. */
    DumpCommand {
        includeSchemas = List.copyOf(includeSchemas);
        excludeSchemas = List.copyOf(excludeSchemas);
        includeTables = List.copyOf(includeTables);
        excludeTables = List.copyOf(excludeTables);
        extraArgs = List.copyOf(extraArgs);
    }

    /** The command line dumping in the exported {@code snapshot} (none when null) at {@link #compressionLevel}. */
    List<String> argv(Path pgDump, String snapshot) {
        return argv(pgDump, snapshot, compressionLevel);
    }

    /**
     * The command line dumping in the exported {@code snapshot} (none when null) with pg_dump's {@code --compress} at
     * {@code compress} (0 when the library compresses).
     */
    List<String> argv(Path pgDump, String snapshot, int compress) {
        List<String> cmd = new ArrayList<>();
        cmd.add(pgDump.toString());
        cmd.add("--format=custom");
        cmd.add("--compress=" + compress);
        cmd.add("--no-password"); // never prompt: a missing password fails instead of hanging
        if (!lockWaitTimeout.isZero() && extraArgs.stream().noneMatch(a -> a.startsWith("--lock-wait-timeout"))) {
            cmd.add("--lock-wait-timeout=" + lockWaitTimeout.toMillis());
        }
        if (snapshot != null) {
            cmd.add("--snapshot=" + snapshot);
        }
        includeSchemas.forEach(p -> cmd.add("--schema=" + p.text()));
        excludeSchemas.forEach(p -> cmd.add("--exclude-schema=" + p.text()));
        includeTables.forEach(p -> cmd.add("--table=" + p.text()));
        excludeTables.forEach(p -> cmd.add("--exclude-table=" + p.text()));
        if (noOwner) {
            cmd.add("--no-owner");
        }
        if (noPrivileges) {
            cmd.add("--no-privileges");
        }
        cmd.addAll(extraArgs);
        return cmd;
    }

    /**
     * The tables pg_dump dumps with the configured -n/-N/-t/-T, like pg_dump selects them, of those
     * {@link CountedTables} counts (which relations count, and how, is defined there for both sides).
     */
    List<CountedTables.Table> dumpedTables(Connection jdbc) throws SQLException {
        List<CountedTables.Table> out = new ArrayList<>();
        for (CountedTables.Table t : CountedTables.list(jdbc)) {
            if (selected(t.schema(), t.name(), t.visible())) {
                out.add(t);
            }
        }
        return out;
    }

    /**
     * True when pg_dump, with the configured extra arguments, dumps the definition of {@code t} but none of its rows
     * ({@code --exclude-table-data}, {@code --no-unlogged-table-data}, {@code --schema-only}): its recorded count is
     * then 0, the rows the dump holds and a restore gives back.
     */
    boolean dataLeftOut(CountedTables.Table t) {
        for (String a : extraArgs) {
            if (a.equals("--schema-only") || a.equals("-s") || (a.equals("--no-unlogged-table-data") && t.unlogged())) {
                return true;
            }
            if (a.startsWith("--exclude-table-data=")
                    && PgNamePattern.table(a.substring(a.indexOf('=') + 1))
                            .matchesTable(t.schema(), t.name(), t.visible())) {
                return true;
            }
        }
        return false;
    }

    private boolean selected(String schema, String name, boolean visible) {
        for (PgNamePattern p : excludeTables) {
            if (p.matchesTable(schema, name, visible)) {
                return false;
            }
        }
        if (!includeTables.isEmpty()) { // -n and -N have no effect when -t is used (pg_dump's documentation)
            return includeTables.stream().anyMatch(p -> p.matchesTable(schema, name, visible));
        }
        if (excludeSchemas.stream().anyMatch(p -> p.matchesSchema(schema))) {
            return false;
        }
        return includeSchemas.isEmpty() || includeSchemas.stream().anyMatch(p -> p.matchesSchema(schema));
    }

    /**
     * Refuses an extra pg_dump argument that is not an option, carries a password (also {@code connection}'s), or
     * changes the output, the connection or the snapshot.
     *
     * @throws ConfigurationException saying why
     */
    static void checkExtraArg(String a, PgConnection connection) {
        if (a == null || a.isEmpty() || !a.startsWith("-") || a.equals("-") || a.equals("--")) {
            throw new ConfigurationException("The extra pg_dump argument '" + a + "' is not an option; give each"
                    + " as --option=value (the database comes from the connection).");
        }
        String lower = a.toLowerCase(Locale.ROOT);
        if (lower.contains("password=")
                || lower.matches(".*://[^/@\\s]*:[^/@\\s]*@.*")
                || (connection.hasPassword() && connection.redact(a).contains("***"))) {
            throw new ConfigurationException("An extra pg_dump argument carries a password; passwords go only"
                    + " through PgConnection (the child's environment), never the command line.");
        }
        if (a.startsWith("--")) {
            String name = a.substring(2).split("=", 2)[0];
            for (String f : FORBIDDEN_LONG) {
                if (f.startsWith(name)) {
                    throw new ConfigurationException(
                            "The extra pg_dump argument --" + name + " is not allowed: " + why(f) + ".");
                }
            }
            return;
        }
        for (int i = 1; i < a.length(); i++) {
            char c = a.charAt(i);
            if (FORBIDDEN_SHORT.indexOf(c) >= 0) {
                throw new ConfigurationException("The extra pg_dump argument -" + c + " (in '" + a + "') is not"
                        + " allowed: " + why(String.valueOf(c)) + ".");
            }
            if (SHORT_WITH_ARGUMENT.indexOf(c) >= 0) {
                return; // the rest of the bundle is this option's value
            }
        }
    }

    private static String why(String option) {
        return switch (option) {
            case "file", "f", "format", "F", "jobs", "j" ->
                "the dump is always custom format on stdout, streamed" + " into the backup";
            case "compress", "Z" -> "use compressionLevel(...)";
            case "dbname", "d", "host", "h", "port", "p", "username", "U", "role" ->
                "the connection comes from" + " PgConnection";
            case "password", "W" -> "pg_dump must never prompt; the password comes from PgConnection";
            case "snapshot" -> "the source sets the snapshot itself, to count rows consistently";
            default -> "it does not write a dump";
        };
    }
}
