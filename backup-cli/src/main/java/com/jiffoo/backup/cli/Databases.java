package com.jiffoo.backup.cli;

import com.jiffoo.backup.postgres.PgConnection;
import java.util.Map;
import java.util.Optional;

/**
 * The PostgreSQL connection the settings describe: {@code DB_HOST}, {@code DB_PORT}, {@code DB_NAME},
 * {@code DB_USER}, {@code DB_PASSWORD}, {@code DB_SSLMODE}; each falls back to libpq's variable ({@code PGHOST},
 * ...) and then libpq's default. The password reaches pg_dump and pg_restore only through their environment.
 */
final class Databases {
    private Databases() {}

    /** The connection to the configured database ({@code DB_NAME} or {@code PGDATABASE} required). */
    static PgConnection connection(Settings s) {
        String name = setting(s, "DB_NAME", "PGDATABASE")
                .orElseThrow(() -> new com.jiffoo.backup.ConfigurationException(
                        "DB_NAME is not set: set DB_NAME to the database to back up or restore, e.g. DB_NAME=jiffoo_mall,"
                                + " or pass --db-name."));
        return server(s).toBuilder().database(name).build();
    }

    /** The connection for work on the whole cluster (a base backup): DB_NAME when set, else {@code postgres}. */
    static PgConnection cluster(Settings s) {
        PgConnection server = server(s);
        return setting(s, "DB_NAME", "PGDATABASE")
                .map(name -> server.toBuilder().database(name).build())
                .orElse(server);
    }

    /** The connection to the server's maintenance database {@code postgres}, for CREATE DATABASE. */
    static PgConnection server(Settings s) {
        PgConnection.Builder b = PgConnection.builder().database("postgres");
        setting(s, "DB_HOST", "PGHOST").ifPresent(b::host);
        if (s.get("DB_PORT").isPresent()) {
            b.port(s.integer("DB_PORT", 5432, 1));
        } else if (setting(s, "DB_PORT", "PGPORT").isPresent()) {
            b.port(PgConnection.fromEnvironment(Map.of("PGPORT", s.environment().get("PGPORT")))
                    .port());
        }
        setting(s, "DB_USER", "PGUSER").ifPresent(b::user);
        setting(s, "DB_PASSWORD", "PGPASSWORD").ifPresent(p -> b.password(p.toCharArray()));
        setting(s, "DB_SSLMODE", "PGSSLMODE").ifPresent(b::sslMode);
        return b.build();
    }

    private static Optional<String> setting(Settings s, String name, String libpqName) {
        Optional<String> v = s.get(name);
        if (v.isPresent()) {
            return v;
        }
        String lib = s.environment().get(libpqName);
        return lib == null || lib.isBlank() ? Optional.empty() : Optional.of(lib.trim());
    }
}
