package com.jiffoo.backup.postgres;

import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** The databases one test makes: unique names, created on the test server, all dropped by {@link #dropAll()}. */
final class TestDatabases {
    private final List<String> names = new CopyOnWriteArrayList<>();

    /** A unique name {@code jb_<prefix>_<hex>} that {@link #dropAll()} drops if something created it. */
    String newName(String prefix) {
        String name = "jb_" + prefix + "_" + Long.toHexString(System.nanoTime());
        names.add(name);
        return name;
    }

    /** Remembers a database made elsewhere, so {@link #dropAll()} drops it. */
    String remember(String name) {
        names.add(name);
        return name;
    }

    /** Creates an empty database and remembers it. */
    String create(String prefix) throws SQLException {
        String name = PgTestServer.get().createDatabase(prefix);
        names.add(name);
        return name;
    }

    /** Drops every database named or created here. */
    void dropAll() throws SQLException {
        for (String name : names) {
            PgTestServer.get().dropDatabase(name);
        }
        names.clear();
    }
}
