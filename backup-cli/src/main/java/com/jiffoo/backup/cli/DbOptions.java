package com.jiffoo.backup.cli;

import picocli.CommandLine.Option;

/** The flags that stand for the database settings (DB_HOST, DB_PORT, DB_NAME, DB_USER); never the password. */
final class DbOptions {
    @Option(names = "--db-host", paramLabel = "HOST", description = "Default DB_HOST, else PGHOST, else 127.0.0.1.")
    String host;

    @Option(names = "--db-port", paramLabel = "PORT", description = "Default DB_PORT, else PGPORT, else 5432.")
    String port;

    @Option(names = "--db-name", paramLabel = "NAME", description = "Default DB_NAME, else PGDATABASE.")
    String name;

    @Option(names = "--db-user", paramLabel = "USER", description = "Default DB_USER, else PGUSER.")
    String user;

    /** Puts the flags given into the settings. */
    void apply(Settings s) {
        s.flag("DB_HOST", host).flag("DB_PORT", port).flag("DB_NAME", name).flag("DB_USER", user);
    }
}
