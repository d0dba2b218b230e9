package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testing.DrillSources;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Content fingerprints on the test server: recorded at backup time for chosen tables (types whose text depends on
 * session settings included), matched after a drill's restore; one row changed in the scratch database with psql
 * after the restore fails the check naming the table (the other still matches); a table the backup did not
 * fingerprint, or that does not exist, fails it too.
 */
class TableFingerprintDrillTest {
    private static PgTestServer pg;
    private static String db;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        pg = PgTestServer.get();
        db = pg.createDatabase("fingerprint");
        try (Connection c = pg.connect(db);
                Statement s = c.createStatement()) {
            s.execute("CREATE TABLE orders (id int PRIMARY KEY, note text, made timestamptz, amount numeric,"
                    + " ratio float8, raw bytea, doc jsonb, span interval)");
            s.execute("INSERT INTO orders SELECT g, md5(g::text), timestamptz '2026-01-01 00:00+02' + g * interval"
                    + " '1 minute', g / 7.0, g / 3.0::float8, decode(md5(g::text), 'hex'), jsonb_build_object('g',"
                    + " g), g * interval '1 second' FROM generate_series(1, 2000) g");
            s.execute("CREATE TABLE customers (id int PRIMARY KEY, name text)");
            s.execute("INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 30) g");
        }
    }

    @AfterAll
    static void stop() throws Exception {
        pg.dropDatabase(db);
    }

    private BackupManifest backup(LocalDirectorySink store, String... fingerprint) {
        PostgresSource.Builder b = PostgresSource.builder(pg.connection(db));
        for (String t : fingerprint) {
            b.fingerprintTable(t);
        }
        return BackupPipeline.builder()
                .unencrypted()
                .source(b.build())
                .sink(store)
                .build()
                .run();
    }

    private DrillReport drill(DrillSource source, String scratch, String... tables) {
        return DatabaseDrill.builder()
                .server(pg.connection("postgres"))
                .source(source)
                .scratchName(scratch)
                .checkTables(List.of(tables))
                .build()
                .run();
    }

    private static DrillReport.Check fingerprints(DrillReport r) {
        return r.checks().stream()
                .filter(c -> c.name().equals("fingerprints"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no fingerprints check: " + r));
    }

    /** The real source, then {@code sql} run by psql in the scratch database {@code scratch}. */
    private static DrillSource tampering(DrillSource real, String scratch, String sql) {
        return DrillSources.afterRestore(real, target -> {
            ProcessBuilder pb = new ProcessBuilder(
                            "psql",
                            "-X",
                            "-v",
                            "ON_ERROR_STOP=1",
                            "-h",
                            pg.host(),
                            "-p",
                            String.valueOf(pg.port()),
                            "-U",
                            pg.user(),
                            "-d",
                            scratch,
                            "-c",
                            sql)
                    .inheritIO();
            if (pg.password() != null) { // none where the server trusts local connections
                pb.environment().put("PGPASSWORD", pg.password());
            }
            Process p = pb.start();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
        });
    }

    @Test
    void recordedFingerprintsMatchAfterTheRestoreAndAChangedRowFailsNamingItsTable() throws Exception {
        try (LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"))) {
            BackupManifest m = backup(store, "orders", "public.customers");
            Map<?, ?> recorded = (Map<?, ?>) m.sourceFacts().get("fingerprints");
            assertThat(recorded.keySet().toString()).isEqualTo("[public.customers, public.orders]");
            assertThat(recorded.get("public.orders").toString()).startsWith("2000:");
            assertThat(recorded.get("public.customers").toString()).startsWith("30:");
            DrillSource real = DrillSource.of(store, null, BackupTrust.STORE, "database", null);

            DrillReport ok = drill(real, DatabaseDrill.newScratchName(Instant.now()), "orders", "customers");
            assertThat(ok.passed()).as(ok.toString()).isTrue();
            assertThat(fingerprints(ok).detail()).contains("2 table(s) have the content fingerprint");

            String scratch = DatabaseDrill.newScratchName(Instant.now());
            DrillReport changed = drill(
                    tampering(real, scratch, "UPDATE orders SET note = 'changed' WHERE id = 1234"),
                    scratch,
                    "orders",
                    "customers");
            assertThat(changed.outcome()).isEqualTo(DrillReport.Outcome.FAILED);
            assertThat(fingerprints(changed).detail())
                    .startsWith("1 of 2 table(s) differ: public.orders: restored 2000:")
                    .doesNotContain("public.customers");
            assertThat(pg.databaseExists(scratch)).isFalse();

            DrillReport unknown = drill(real, DatabaseDrill.newScratchName(Instant.now()), "nosuch");
            assertThat(fingerprints(unknown).status()).isEqualTo(DrillReport.Status.FAILED);
            assertThat(fingerprints(unknown).detail()).contains("'nosuch'").contains("is not among the tables");
        }
    }

    @Test
    void aTableTheBackupDidNotFingerprintFailsTheCheck() throws Exception {
        try (LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store2"))) {
            backup(store, "customers");
            DrillReport r = drill(
                    DrillSource.of(store, null, BackupTrust.STORE, "database", null),
                    DatabaseDrill.newScratchName(Instant.now()),
                    "orders");
            assertThat(r.outcome()).isEqualTo(DrillReport.Outcome.FAILED);
            assertThat(fingerprints(r).detail())
                    .contains("public.orders: the backup recorded no fingerprint of it (back it up with"
                            + " --fingerprint-table public.orders)");
        }
    }
}
