package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.StagedRestore;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PostgresRestoreTargetTest {
    private static final int ORDERS = 20_000;

    @TempDir
    static Path shared;

    static String source;
    static Path dump;
    static TableHashes original;

    @TempDir
    Path tmp;

    private final TestDatabases dbs = new TestDatabases();

    @BeforeAll
    static void makeSourceAndDump() throws Exception {
        PgTestServer server = PgTestServer.get();
        source = server.createDatabase("rt_src");
        try (Connection c = server.connect(source)) {
            ShopSchema.create(c, ORDERS);
        }
        original = PgTools.hashes(source);
        assertThat(original.count("public.order_items")).isEqualTo(2L * ORDERS);
        assertThat(original.totalRows()).isGreaterThan(3L * ORDERS);
        dump = PgTools.dump(source, shared.resolve("shop.dump"));
    }

    @AfterAll
    static void dropSource() throws Exception {
        PgTestServer.get().dropDatabase(source);
    }

    @AfterEach
    void dropCreated() throws Exception {
        dbs.dropAll();
    }

    private String existing(String prefix, int orders) throws Exception {
        String db = dbs.create(prefix);
        try (Connection c = PgTestServer.get().connect(db)) {
            ShopSchema.create(c, orders);
        }
        return db;
    }

    private static StagedRestore stage(PostgresRestoreTarget target, Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            return target.stage(in, null);
        }
    }

    @Test
    void restoresIntoNewDatabaseWithEqualContent() throws Exception {
        String db = dbs.newName("rt_new");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        assertThat(target.stagesSafely()).isTrue();
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(staged.facts())
                    .containsEntry("database", db)
                    .containsEntry("mode", "new-database")
                    .containsEntry("jobs", 1)
                    .containsEntry("warnings", 0)
                    .containsKey("durationMillis")
                    .doesNotContainKey("spooledBytes");
            staged.commit();
        }
        assertThat(PgTestServer.get().databaseExists(db)).isTrue();
        TableHashes restored = PgTools.hashes(db);
        assertThat(restored).isEqualTo(original);
        assertThat(restored.sequences()).containsEntry("public.invoice_no_seq", "4242/true");
        assertThat(restored.views()).containsKey("public.order_totals");
        assertThat(restored.functions()).containsKeys("public.order_total(oid bigint)", "shop_audit.greet(who text)");
        try (Connection c = PgTestServer.get().connect(db);
                Statement s = c.createStatement();
                var r = s.executeQuery("SELECT shop_audit.greet('Zoë'), order_total(1) > 0")) {
            r.next();
            assertThat(r.getString(1)).isEqualTo("こんにちは Zoë 👋");
            assertThat(r.getBoolean(2)).isTrue();
        }
    }

    /** Waits (up to a minute) until {@code db} exists or not. */
    private static void awaitExists(String db, boolean exists) throws Exception {
        long end = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(1);
        while (PgTestServer.get().databaseExists(db) != exists) {
            assertThat(System.nanoTime())
                    .as("database " + db + " exists: " + exists)
                    .isLessThan(end);
            Thread.sleep(20);
        }
    }

    @Test
    void aPreparedTargetCreatesTheDatabaseBeforeTheStreamComesAndDropsItWhenNoStageTakesIt() throws Exception {
        String db = dbs.newName("rt_prep");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        try (PostgresRestoreTarget.Prepared prepared = target.prepare()) {
            awaitExists(db, true); // created on its own thread, before any byte of the backup
            assertThat(prepared.stagesSafely()).isTrue();
            assertThat(prepared.describe()).isEqualTo(target.describe());
            try (StagedRestore staged = prepared.stage(Files.newInputStream(dump), null)) {
                assertThat(staged.facts()).containsEntry("database", db).containsEntry("mode", "new-database");
                staged.commit();
            }
        }
        assertThat(PgTools.hashes(db)).isEqualTo(original); // closing after the stage leaves the restore

        // never staged (the store had no backup, the manifest was refused): close drops the database it made
        String unused = dbs.newName("rt_prep_unused");
        try (PostgresRestoreTarget.Prepared prepared = PostgresRestoreTarget.newDatabase(
                        PgTools.connection("postgres"), unused)
                .prepare()) {
            awaitExists(unused, true);
        }
        assertThat(PgTestServer.get().databaseExists(unused)).isFalse();
    }

    @Test
    void aPreparedTargetForANameThatExistsFailsAtStageAndLeavesThatDatabase() throws Exception {
        String db = existing("rt_prep_exists", 50);
        TableHashes before = PgTools.hashes(db);
        PostgresRestoreTarget.Prepared prepared = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db)
                .prepare();
        // checkReady waits for the (empty) check only: the pipeline sets up its decoders while CREATE DATABASE runs,
        // and that failure comes at stage
        prepared.checkReady(null);
        assertThatThrownBy(() -> prepared.stage(Files.newInputStream(dump), null))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("already exists");
        prepared.close();
        prepared.close();
        assertThat(PgTools.hashes(db)).isEqualTo(before);
    }

    @Test
    void aPreparedTargetWhoseCheckRefusesCreatesNothingAndReportsTheRefusalAtCheckReady() throws Exception {
        String db = dbs.newName("rt_prep_refused");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        java.util.concurrent.atomic.AtomicReference<String> checkedOn =
                new java.util.concurrent.atomic.AtomicReference<>();
        IllegalStateException refusal = new IllegalStateException("refused by the caller's check");
        PostgresRestoreTarget.Prepared prepared = target.prepare(() -> {
            checkedOn.set(Thread.currentThread().getName());
            throw refusal;
        });
        assertThatThrownBy(() -> prepared.checkReady(null)).isSameAs(refusal);
        assertThat(checkedOn.get())
                .as("the check ran on the preparing thread")
                .isNotEqualTo(Thread.currentThread().getName());
        assertThatThrownBy(() -> prepared.stage(Files.newInputStream(dump), null))
                .isSameAs(refusal);
        prepared.close();
        assertThat(PgTestServer.get().databaseExists(db)).as("nothing created").isFalse();

        // a check that passes: checkReady returns once it has; stage waits for CREATE DATABASE
        String ok = dbs.newName("rt_prep_checked");
        PostgresRestoreTarget okTarget = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), ok);
        try (PostgresRestoreTarget.Prepared p = okTarget.prepare(() -> {
            if (okTarget.databaseExists()) {
                throw new IllegalStateException("exists");
            }
        })) {
            p.checkReady(null);
            try (StagedRestore staged = p.stage(Files.newInputStream(dump), null)) {
                staged.commit();
            }
            p.checkReady(null); // taken over: returns at once
        }
        assertThat(PgTools.hashes(ok)).isEqualTo(original);
    }

    @Test
    void aPreparedTargetStagedAgainAfterAFailureStartsFromTheBeginning() throws Exception {
        String db = dbs.newName("rt_prep_again");
        Path bad = PgTools.truncated(dump, 0.5, tmp.resolve("half.dump"));
        try (PostgresRestoreTarget.Prepared prepared = PostgresRestoreTarget.newDatabase(
                        PgTools.connection("postgres"), db)
                .prepare()) {
            assertThatThrownBy(() -> prepared.stage(Files.newInputStream(bad), null))
                    .isInstanceOf(RestoreException.class);
            assertThat(PgTestServer.get().databaseExists(db)).isFalse(); // dropped by the failed stage
            try (StagedRestore staged = prepared.stage(Files.newInputStream(dump), null)) {
                staged.commit();
            }
        }
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    @Test
    void databaseExistsCountsNeitherAMissingDatabaseNorOneAKilledRestoreLeft() throws Exception {
        PgConnection server = PgTools.connection("postgres");
        assertThat(PostgresRestoreTarget.newDatabase(server, dbs.newName("rt_exists_missing"))
                        .databaseExists())
                .isFalse();
        String there = dbs.create("rt_exists_there");
        assertThat(PostgresRestoreTarget.newDatabase(server, there).databaseExists())
                .isTrue();
        assertThat(PostgresRestoreTarget.existingDatabase(PgTools.connection(there))
                        .databaseExists())
                .isTrue();
        String left = dbs.create("rt_exists_left");
        comment(
                left,
                RestoreMarker.PREFIX + " by pid " + deadPid() + " (started ) on host "
                        + com.jiffoo.backup.internal.Processes.host() + " since x");
        assertThat(PostgresRestoreTarget.newDatabase(server, left).databaseExists())
                .as("stage drops it first")
                .isFalse();
        String running = dbs.create("rt_exists_running");
        comment(running, RestoreMarker.text());
        assertThat(PostgresRestoreTarget.newDatabase(server, running).databaseExists())
                .isTrue();
    }

    @Test
    void refusesNewDatabaseThatAlreadyExists() throws Exception {
        String db = existing("rt_exists", 100);
        TableHashes before = PgTools.hashes(db);
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        assertThatThrownBy(() -> stage(target, dump))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("already exists")
                .hasMessageContaining("existingDatabase");
        assertThat(PgTools.hashes(db)).isEqualTo(before);
    }

    @Test
    void discardingAStagedRestoreDropsTheNewDatabase() throws Exception {
        String db = dbs.newName("rt_discard");
        StagedRestore staged = stage(PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db), dump);
        assertThat(PgTestServer.get().databaseExists(db)).isTrue();
        staged.close();
        staged.close();
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    @Test
    void truncatedDumpIntoNewDatabaseLeavesNoDatabase() throws Exception {
        String db = dbs.newName("rt_trunc");
        Path bad = PgTools.truncated(dump, 0.6, tmp.resolve("bad.dump"));
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        assertThatThrownBy(() -> stage(target, bad))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("pg_restore said:")
                .hasMessageContaining("is dropped again")
                .hasMessageContaining("damaged, truncated")
                .hasMessageContaining("input file");
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    @Test
    void unknownRoleIntoNewDatabaseLeavesNoDatabaseAndSaysWhatToDo() throws Exception {
        String db = dbs.newName("rt_role");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .role("jb_no_such_role")
                .build();
        assertThatThrownBy(() -> stage(target, dump))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("jb_no_such_role")
                .hasMessageContaining("does not exist")
                .hasMessageContaining("CREATE ROLE")
                .hasMessageContaining("noOwner(true)");
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    @Test
    void replacesContentOfExistingDatabaseInPlaceWithClean() throws Exception {
        String db = existing("rt_replace", 300);
        try (Connection c = PgTestServer.get().connect(db);
                Statement s = c.createStatement()) {
            s.execute("UPDATE customers SET name = 'changed'; SELECT setval('invoice_no_seq', 7)");
        }
        assertThat(PgTools.hashes(db)).isNotEqualTo(original);
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection(db))
                .cleanInPlace(true)
                .build();
        assertThat(target.stagesSafely()).isFalse();
        assertThat(target.singleTransaction()).isTrue();
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(staged.facts())
                    .containsEntry("mode", "existing-database")
                    .containsEntry("method", "clean-in-place")
                    .containsEntry("singleTransaction", true);
            staged.commit();
        }
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    @Test
    void failedRestoreIntoExistingDatabaseInOneTransactionKeepsOldContent() throws Exception {
        String db = existing("rt_keep", 300);
        TableHashes before = PgTools.hashes(db);
        Path bad = PgTools.truncated(dump, 0.6, tmp.resolve("bad.dump"));
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection(db))
                .cleanInPlace(true)
                .build();
        assertThatThrownBy(() -> stage(target, bad))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("rolled back")
                .hasMessageContaining("keeps its previous content");
        assertThat(PgTools.hashes(db)).isEqualTo(before);
    }

    /** Databases whose names start with {@code prefix}. */
    /** The databases whose name starts with {@code prefix}, sorted. */
    static List<String> databasesStartingWith(String prefix) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = PgTestServer.get().connect("postgres");
                java.sql.PreparedStatement s = c.prepareStatement(
                        "SELECT datname FROM pg_database WHERE" + " starts_with(datname, ?) ORDER BY 1")) {
            s.setString(1, prefix);
            try (java.sql.ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(r.getString(1));
                }
            }
        }
        return out;
    }

    /** The properties of a database a swap must carry over, as one comparable string. */
    private static String databaseProperties(String db) throws Exception {
        try (Connection c = PgTestServer.get().connect("postgres");
                java.sql.PreparedStatement s = c.prepareStatement("SELECT pg_get_userbyid(d.datdba) || ' '"
                        + " || pg_encoding_to_char(d.encoding) || ' ' || d.datcollate || ' ' || d.datconnlimit || ' '"
                        + " || coalesce(d.datacl::text, '-') || ' ' || coalesce(shobj_description(d.oid, 'pg_database'),"
                        + " '-') || ' ' || coalesce((SELECT string_agg(array_to_string(setconfig, ';'), '|' ORDER BY"
                        + " setrole) FROM pg_db_role_setting WHERE setdatabase = d.oid), '-')"
                        + " FROM pg_database d WHERE datname = ?")) {
            s.setString(1, db);
            try (java.sql.ResultSet r = s.executeQuery()) {
                r.next();
                return r.getString(1);
            }
        }
    }

    @Test
    void replacesAnExistingDatabaseByASwapThatKeepsItsPropertiesAndLeavesNothingBehind() throws Exception {
        String db = existing("rt_swap", 300);
        String role = "jb_rt_reader_" + Long.toHexString(System.nanoTime());
        try (Connection c = PgTestServer.get().connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("CREATE ROLE " + role + " NOLOGIN");
            s.execute("ALTER DATABASE " + db + " SET search_path = \"$user\", public, \"Odd, name\"");
            s.execute("ALTER DATABASE " + db + " SET work_mem = '7MB'");
            s.execute("ALTER ROLE " + role + " IN DATABASE " + db + " SET statement_timeout = '5s'");
            s.execute("ALTER DATABASE " + db + " CONNECTION LIMIT 40");
            s.execute("REVOKE CONNECT, TEMPORARY ON DATABASE " + db + " FROM PUBLIC");
            s.execute("GRANT CONNECT ON DATABASE " + db + " TO " + role + " WITH GRANT OPTION");
            s.execute("COMMENT ON DATABASE " + db + " IS 'the shop''s live database'");
        }
        try {
            try (Connection c = PgTestServer.get().connect(db);
                    Statement s = c.createStatement()) {
                s.execute("UPDATE customers SET name = 'changed'; DELETE FROM order_items WHERE order_id < 50");
            }
            String properties = databaseProperties(db);
            PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabase(PgTools.connection(db));
            assertThat(target.stagesSafely()).isTrue();
            assertThat(target.singleTransaction()).isFalse();
            try (StagedRestore staged = stage(target, dump)) {
                assertThat(staged.facts())
                        .containsEntry("mode", "existing-database")
                        .containsEntry("method", "swap");
                assertThat(databasesStartingWith(db + "_jbr_")).hasSize(1);
                assertThat(PgTools.hashes(db)).as("untouched until the commit").isNotEqualTo(original);
                staged.commit();
                assertThat(staged.facts()).containsEntry("previousDatabase", "dropped");
            }
            assertThat(PgTools.hashes(db)).isEqualTo(original);
            assertThat(databaseProperties(db))
                    .isEqualTo(properties)
                    .contains("40")
                    .contains("Odd, name")
                    .contains(role + "=c*/")
                    .contains("work_mem=7MB")
                    .contains("statement_timeout=5s")
                    .contains("the shop's live database");
            assertThat(databasesStartingWith(db + "_jb")).isEmpty();
        } finally {
            dbs.dropAll();
            try (Connection c = PgTestServer.get().connect("postgres");
                    Statement s = c.createStatement()) {
                s.execute("DROP ROLE " + role);
            }
        }
    }

    @Test
    void aFailedSwapRestoreLeavesTheExistingDatabaseAndNoCopy() throws Exception {
        String db = existing("rt_swapfail", 300);
        TableHashes before = PgTools.hashes(db);
        Path bad = PgTools.truncated(dump, 0.6, tmp.resolve("bad.dump"));
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabase(PgTools.connection(db));
        assertThatThrownBy(() -> stage(target, bad))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("fresh database, which is dropped again")
                .hasMessageContaining(db + " was not touched");
        assertThat(PgTools.hashes(db)).isEqualTo(before);
        assertThat(databasesStartingWith(db + "_jb")).isEmpty();

        // discarded after staging (the pipeline found a checksum mismatch at the end): the same
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(databasesStartingWith(db + "_jbr_")).hasSize(1);
        }
        assertThat(PgTools.hashes(db)).isEqualTo(before);
        assertThat(databasesStartingWith(db + "_jb")).isEmpty();
    }

    @Test
    void aSwapWhoseCopyDoesNotMatchTheBackupsRowCountsNeverReplacesTheDatabase() throws Exception {
        String db = existing("rt_swapcounts", 300);
        TableHashes before = PgTools.hashes(db);
        Map<String, Object> counts = new java.util.TreeMap<>();
        original.tables().forEach((t, v) -> counts.put(t.replace("\"", ""), original.count(t)));
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabase(PgTools.connection(db));

        try (StagedRestore staged =
                target.stage(Files.newInputStream(dump), RowCountCheckTest.manifest(counts, true))) {
            assertThat(staged.facts().get(PostgresRestoreTarget.ROW_COUNT_CHECK))
                    .isInstanceOfSatisfying(
                            RowCountCheck.Report.class,
                            r -> assertThat(r.passed()).isTrue());
        }
        counts.put("public.orders", (long) counts.get("public.orders") + 1);
        assertThatThrownBy(() -> target.stage(Files.newInputStream(dump), RowCountCheckTest.manifest(counts, true)))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("public.orders " + (ORDERS + 1) + " -> " + ORDERS);
        assertThat(PgTools.hashes(db)).isEqualTo(before);
        assertThat(databasesStartingWith(db + "_jb")).isEmpty();
    }

    @Test
    void aSwapIsRefusedWhileTheApplicationIsConnectedAndChangesNothing() throws Exception {
        String db = existing("rt_swapbusy", 300);
        TableHashes before = PgTools.hashes(db);
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabase(PgTools.connection(db));
        try (Connection app = PgTestServer.get().connect(db);
                Statement s = app.createStatement()) {
            s.execute("SET application_name = 'shop-frontend'");
            assertThatThrownBy(() -> stage(target, dump))
                    .isInstanceOf(RestoreException.class)
                    .hasMessageContaining("1 session(s) are connected to " + db + " (shop-frontend on " + db + ")")
                    .hasMessageContaining("Stop the application")
                    .hasMessageContaining("is unchanged");
            assertThat(databasesStartingWith(db + "_jb")).isEmpty();

            // connected after the restore began: the swap at commit is refused, the copy dropped
            app.close();
            try (StagedRestore staged = stage(target, dump);
                    Connection late = PgTestServer.get().connect(db)) {
                assertThatThrownBy(staged::commit)
                        .isInstanceOf(RestoreException.class)
                        .hasMessageContaining("session(s) are connected to " + db);
            }
        }
        assertThat(PgTools.hashes(db)).isEqualTo(before);
        assertThat(databasesStartingWith(db + "_jb")).isEmpty();
    }

    @Test
    void aSwapKeepsThePreviousDatabaseWhenItHoldsTablesTheBackupLacks() throws Exception {
        String db = existing("rt_swapkeep", 300);
        try (Connection c = PgTestServer.get().connect(db);
                Statement s = c.createStatement()) {
            s.execute(
                    "CREATE TABLE public.made_after_the_backup (x int); INSERT INTO made_after_the_backup VALUES (1)");
        }
        String previous;
        try (StagedRestore staged = stage(PostgresRestoreTarget.existingDatabase(PgTools.connection(db)), dump)) {
            staged.commit();
            previous = String.valueOf(staged.facts().get("previousDatabase"));
            assertThat(staged.facts().get("relationsOnlyInPrevious"))
                    .isEqualTo(List.of("public.made_after_the_backup"));
        }
        dbs.remember(previous);
        assertThat(previous).startsWith(db + "_jbp_");
        assertThat(PgTools.hashes(db)).isEqualTo(original);
        assertThat(PgTools.hashes(previous).tables())
                .containsEntry(
                        "public.made_after_the_backup",
                        "1:"
                                + PgTools.hashes(previous)
                                        .tables()
                                        .get("public.made_after_the_backup")
                                        .split(":")[1]);
        // not mistaken for a half-restored database by the next restore
        try (Connection c = PgTestServer.get().connect("postgres")) {
            assertThat(RestoreMarker.find(c)).noneMatch(m -> m.database().equals(previous));
        }
    }

    @Test
    void existingDatabaseThatDoesNotExistIsRefused() {
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabase(PgTools.connection("jb_absent_x1"));
        assertThatThrownBy(() -> stage(target, dump))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("does not exist")
                .hasMessageContaining("newDatabase");
    }

    @Test
    void parallelRestoreGivesEqualContentAndDeletesTheSpoolFile() throws Exception {
        String db = dbs.newName("rt_par");
        Path spool = Files.createDirectory(tmp.resolve("spool"));
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .jobs(2)
                .spoolDirectory(spool)
                .build();
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(staged.facts())
                    .containsEntry("jobs", 2)
                    .containsEntry("spooledBytes", Files.size(dump))
                    .hasEntrySatisfying("spool", v -> assertThat((String) v).contains("temporary"));
            assertThat(spool).isEmptyDirectory();
            staged.commit();
        }
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    @Test
    void theSpoolHasNoNameOnDiskWhilePgRestoreRunsAndAKilledRunsSpoolIsRemoved() throws Exception {
        String db = dbs.newName("rt_parspool");
        Path spool = Files.createDirectory(tmp.resolve("spool"));
        long gone = deadPid();
        Path killed = Files.createDirectories(spool.resolve("jiffoo-pgrestore-" + gone + "-1"));
        Files.writeString(killed.resolve("dump"), "plaintext of a killed run");
        Path running = Files.createDirectories(
                spool.resolve("jiffoo-pgrestore-" + ProcessHandle.current().pid() + "-2"));
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .jobs(2)
                .spoolDirectory(spool)
                .build();
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(staged.facts())
                    .hasEntrySatisfying("spool", v -> assertThat((String) v).contains("unlinked"));
            staged.commit();
        }
        assertThat(killed).doesNotExist();
        assertThat(running).as("a running restore's").exists();
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    @Test
    void aDatabaseMarkedByAGoneRestoreIsDroppedByTheNextAndACommittedOneIsNotMarked() throws Exception {
        long gone = deadPid();
        String abandoned = dbs.create("rt_abandoned");
        String running = dbs.create("rt_running");
        String other = dbs.create("rt_otherhost");
        String host = com.jiffoo.backup.internal.Processes.host();
        comment(abandoned, RestoreMarker.PREFIX + " by pid " + gone + " (started ) on host " + host + " since x");
        comment(running, RestoreMarker.text());
        comment(other, RestoreMarker.PREFIX + " by pid " + gone + " (started ) on host not-" + host + " x");
        String db = dbs.newName("rt_marked");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(comment(db))
                    .as("marked until committed")
                    .startsWith(RestoreMarker.PREFIX + " by pid "
                            + ProcessHandle.current().pid());
            assertThat(staged.facts())
                    .containsEntry("abandonedDatabasesDropped", List.of(abandoned))
                    .hasEntrySatisfying(
                            "markedDatabasesLeft",
                            v -> assertThat((List<Object>) v).contains(running, other));
            staged.commit();
        }
        assertThat(PgTestServer.get().databaseExists(abandoned)).isFalse();
        assertThat(PgTestServer.get().databaseExists(running)).isTrue();
        assertThat(PgTestServer.get().databaseExists(other)).isTrue();
        assertThat(comment(db)).isNull();
    }

    private static void comment(String db, String text) throws Exception {
        try (Connection c = PgTestServer.get().connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("COMMENT ON DATABASE " + PostgresRestoreTarget.ident(db) + " IS '" + text + "'");
        }
    }

    private static String comment(String db) throws Exception {
        try (Connection c = PgTestServer.get().connect("postgres");
                java.sql.PreparedStatement s = c.prepareStatement(
                        "SELECT shobj_description(oid, 'pg_database')" + " FROM pg_database WHERE datname = ?")) {
            s.setString(1, db);
            try (java.sql.ResultSet r = s.executeQuery()) {
                assertThat(r.next()).isTrue();
                return r.getString(1);
            }
        }
    }

    @Test
    void failedParallelRestoreDeletesTheSpoolFileAndTheDatabase() throws Exception {
        String db = dbs.newName("rt_parfail");
        Path spool = Files.createDirectory(tmp.resolve("spool"));
        Path bad = PgTools.truncated(dump, 0.6, tmp.resolve("bad.dump"));
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .jobs(2)
                .spoolDirectory(spool)
                .build();
        assertThatThrownBy(() -> stage(target, bad)).isInstanceOf(RestoreException.class);
        assertThat(spool).isEmptyDirectory();
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    @Test
    void singleTransactionCannotBeCombinedWithJobs() {
        assertThatThrownBy(() -> PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection("x"))
                        .cleanInPlace(true)
                        .jobs(2)
                        .build())
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("singleTransaction(false)");
        PostgresRestoreTarget t = PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection("x"))
                .cleanInPlace(true)
                .jobs(2)
                .singleTransaction(false)
                .build();
        assertThat(t.toBuilder().build().jobs()).isEqualTo(2);
        assertThat(t.toBuilder().build().cleanInPlace()).isTrue();
        // a swap restores into a fresh database: parallel jobs need no single transaction
        assertThat(PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection("x"))
                        .jobs(2)
                        .build()
                        .jobs())
                .isEqualTo(2);
        assertThatThrownBy(() -> PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), "x")
                        .cleanInPlace(true))
                .isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), ""))
                .isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), "x".repeat(64)))
                .isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), "x")
                        .jobs(0))
                .isInstanceOf(ConfigurationException.class);
    }

    @Test
    void unreachableServerIsReportedWithoutThePassword() {
        PgConnection nowhere = PgTools.connection("postgres").toBuilder()
                .port(1)
                .password("s3cret-pw".toCharArray())
                .build();
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(nowhere, dbs.newName("rt_unreach"));
        assertThat(target.describe()).doesNotContain("s3cret-pw");
        assertThat(target.toString()).doesNotContain("s3cret-pw");
        assertThatThrownBy(() -> stage(target, dump))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("Cannot connect")
                .hasMessageContaining(":1/")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret-pw"));
    }

    @Test
    void restoresIntoADatabaseWithAnAwkwardName() throws Exception {
        String db = dbs.remember("jb_rt_odd_" + Long.toHexString(System.nanoTime()) + " it's=\"x\"");
        try (StagedRestore staged =
                stage(PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db), dump)) {
            staged.commit();
        }
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    /** A stand-in pg_restore that records its arguments and environment, prints warnings and exits with {@code exit}. */
    @Test
    void passwordReachesPgRestoreOnlyThroughItsEnvironment() throws Exception {
        // a cluster of its own that asks every connection for a scram password (the shared server may trust local
        // connections), so the restore below only succeeds if pg_restore really received the password
        String password = "s3cret-Rs-" + Long.toHexString(System.nanoTime());
        String db = dbs.newName("rt_pw");
        try (ThrowawayCluster scram = ThrowawayCluster.withPasswords()) {
            PgTestServer server = scram.server();
            try (Connection c = server.connect("postgres");
                    Statement s = c.createStatement()) {
                s.execute("CREATE ROLE jiffoo_pw_test LOGIN CREATEDB PASSWORD '" + password + "'");
            }
            PgConnection conn = server.connection("postgres").toBuilder()
                    .user("jiffoo_pw_test")
                    .password(password.toCharArray())
                    .build();
            PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(conn, db)
                    .noOwner(true)
                    .noPrivileges(true)
                    .build();
            List<List<String>> argv = new java.util.concurrent.CopyOnWriteArrayList<>();
            try (InputStream in = ChildProcesses.onceAfterRead(
                            Files.newInputStream(dump), 64 * 1024, ChildProcesses.recordArguments("pg_restore", argv));
                    StagedRestore staged = target.stage(in, null)) {
                staged.commit();
            }
            assertThat(argv)
                    .singleElement()
                    .satisfies(a -> assertThat(a)
                            .isNotEmpty()
                            .noneMatch(arg -> arg.contains(password))
                            .contains("--dbname=dbname='" + db + "'"));
            try (Connection c = server.connect(db)) {
                assertThat(TableHashes.of(c).tables()).isEqualTo(original.tables());
            }

            PgConnection wrong =
                    conn.toBuilder().password("not-the-password".toCharArray()).build();
            String other = dbs.newName("rt_pw_wrong");
            assertThatThrownBy(() -> stage(
                            PostgresRestoreTarget.newDatabaseBuilder(wrong, other)
                                    .noOwner(true)
                                    .noPrivileges(true)
                                    .build(),
                            dump))
                    .isInstanceOf(com.jiffoo.backup.BackupException.class)
                    .hasMessageContaining("jiffoo_pw_test")
                    .hasMessageContaining("password authentication failed")
                    .satisfies(e -> assertThat(stackTrace(e)).doesNotContain(password, "not-the-password"));
            assertThat(server.databaseExists(other)).isFalse();
        }
    }

    @Test
    void failureQuotesTheLastFiftyLinesOfPgRestore() throws Exception {
        // a real dump whose 60 tables belong to a role the target server does not have: without --exit-on-error
        // pg_restore reports an error (3 lines) for each ALTER ... OWNER TO and exits 1
        String role = "jb_gone_" + Long.toHexString(System.nanoTime());
        String src = PgTestServer.get().createDatabase("rt_owned");
        dbs.remember(src);
        StringBuilder sql = new StringBuilder("CREATE ROLE " + role + ";");
        for (int i = 1; i <= 60; i++) {
            sql.append(String.format("CREATE TABLE t%03d (id int); ALTER TABLE t%03d OWNER TO %s;", i, i, role));
        }
        PgTools.bash("psql -v ON_ERROR_STOP=1 -q -c \"" + sql + "\"", src, java.util.Map.of());
        Path owned = PgTools.dump(src, tmp.resolve("owned.dump"));
        PgTestServer.get().dropDatabase(src);
        PgTools.bash("psql -v ON_ERROR_STOP=1 -q -c 'DROP ROLE " + role + "'", "postgres", java.util.Map.of());

        String db = dbs.newName("rt_owned_restore");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .exitOnError(false)
                .build();
        assertThatThrownBy(() -> stage(target, owned))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("exit code 1")
                .hasMessageContaining("role \"" + role + "\" does not exist")
                .hasMessageContaining("t060")
                .hasMessageContaining("errors ignored on restore: 60")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("t001"));
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    private static String stackTrace(Throwable t) {
        java.io.StringWriter w = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    /** The pid of a process that ran and ended: what a killed run's pid is. */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }
}
