package com.jiffoo.backup.cli;

import java.util.Arrays;
import java.util.List;

/**
 * Loads and initialises the PostgreSQL JDBC driver on a daemon thread of its own while the main thread builds the
 * command line and reads the settings, for the commands that open a database connection. A database restore's critical
 * path is JVM start, then the connection and {@code CREATE DATABASE}, then pg_restore: every millisecond before the
 * connection opens delays pg_restore by as much (docs/benchmarks.md, "A small restore's fixed cost"). Measured there
 * too: warming the JSON reader of manifests as well was slower (two CPUs: it competes with the main thread, whose work
 * is not on that path), so only the driver is warmed.
 *
 * <p>Only class initialisation, which the JVM makes safe across threads (a thread that needs a class another one is
 * initialising waits for it); nothing here has an effect a command could see. A class whose initialisation fails here
 * fails again where the command uses it, but on JDK 17 as {@code NoClassDefFoundError: Could not initialize class}
 * without the first error's cause (the JDK attaches it from 18 on); pgjdbc's initialisers only make loggers, enums and
 * constants.
 */
final class WarmUp {
    private static final List<String> JDBC = List.of(
            "org.postgresql.Driver",
            "org.postgresql.PGProperty",
            "org.postgresql.core.v3.ConnectionFactoryImpl",
            "org.postgresql.core.v3.QueryExecutorImpl",
            "org.postgresql.core.PGStream",
            "org.postgresql.jdbc.PgConnection",
            "org.postgresql.jdbc.PgStatement",
            "org.postgresql.jdbc.PgPreparedStatement",
            "org.postgresql.jdbc.PgResultSet");

    private WarmUp() {}

    /**
     * Starts the warm-up for a run of {@code args} whose only command is {@code command} (null: help, a usage error,
     * several commands: nothing to warm).
     */
    static void start(Class<?> command, String... args) {
        List<String> classes = classesFor(command, args);
        if (classes.isEmpty()) {
            return;
        }
        Thread t = new Thread(() -> load(classes), "jiffoo-warm-up");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    /** What a run of {@code command} with {@code args} will load: the JDBC driver when it works on a database. */
    static List<String> classesFor(Class<?> command, String... args) {
        if (command == null
                || command == KeygenCommand.class
                || command == WalCommands.Push.class
                || command == WalCommands.Fetch.class) {
            return List.of();
        }
        List<String> a = Arrays.asList(args);
        return a.contains("database") || a.contains("pitr") ? JDBC : List.of();
    }

    private static void load(List<String> classes) {
        ClassLoader loader = WarmUp.class.getClassLoader();
        for (String name : classes) {
            try {
                Class.forName(name, true, loader);
            } catch (Throwable e) { // NOPMD: it fails again where it is used
                // not logged: this thread may run before the command has configured logging, and a logger made now
                // would fix slf4j-simple's settings (level, file, redaction) before it does
            }
        }
    }
}
