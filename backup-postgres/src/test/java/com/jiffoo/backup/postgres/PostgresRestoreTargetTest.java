package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.StagedRestore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PostgresRestoreTargetTest {
    private static final int ORDERS = 20_000;

    @TempDir
    static Path shared;
    static String source;
    static Path dump;
    static TableHashes original;

    @TempDir
    Path tmp;
    private final List<String> created = new ArrayList<>();

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
        for (String db : created) {
            PgTestServer.get().dropDatabase(db);
        }
    }

    private String newName(String prefix) {
        String name = "jb_" + prefix + "_" + Long.toHexString(System.nanoTime());
        created.add(name);
        return name;
    }

    private String existing(String prefix, int orders) throws Exception {
        String db = PgTestServer.get().createDatabase(prefix);
        created.add(db);
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
        String db = newName("rt_new");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        assertThat(target.stagesSafely()).isTrue();
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(staged.facts()).containsEntry("database", db).containsEntry("mode", "new-database")
                    .containsEntry("jobs", 1).containsEntry("warnings", 0).containsKey("durationMillis")
                    .doesNotContainKey("spooledBytes");
            staged.commit();
        }
        assertThat(PgTestServer.get().databaseExists(db)).isTrue();
        TableHashes restored = PgTools.hashes(db);
        assertThat(restored).isEqualTo(original);
        assertThat(restored.sequences()).containsEntry("public.invoice_no_seq", "4242/true");
        assertThat(restored.views()).containsKey("public.order_totals");
        assertThat(restored.functions()).containsKeys("public.order_total(oid bigint)", "shop_audit.greet(who text)");
        try (Connection c = PgTestServer.get().connect(db); Statement s = c.createStatement();
             var r = s.executeQuery("SELECT shop_audit.greet('Zoë'), order_total(1) > 0")) {
            r.next();
            assertThat(r.getString(1)).isEqualTo("こんにちは Zoë 👋");
            assertThat(r.getBoolean(2)).isTrue();
        }
    }

    @Test
    void refusesNewDatabaseThatAlreadyExists() throws Exception {
        String db = existing("rt_exists", 100);
        TableHashes before = PgTools.hashes(db);
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        assertThatThrownBy(() -> stage(target, dump)).isInstanceOf(RestoreException.class)
                .hasMessageContaining("already exists").hasMessageContaining("existingDatabase");
        assertThat(PgTools.hashes(db)).isEqualTo(before);
    }

    @Test
    void discardingAStagedRestoreDropsTheNewDatabase() throws Exception {
        String db = newName("rt_discard");
        StagedRestore staged = stage(PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db), dump);
        assertThat(PgTestServer.get().databaseExists(db)).isTrue();
        staged.close();
        staged.close();
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    @Test
    void truncatedDumpIntoNewDatabaseLeavesNoDatabase() throws Exception {
        String db = newName("rt_trunc");
        Path bad = PgTools.truncated(dump, 0.6, tmp.resolve("bad.dump"));
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db);
        assertThatThrownBy(() -> stage(target, bad)).isInstanceOf(RestoreException.class)
                .hasMessageContaining("pg_restore said:").hasMessageContaining("is dropped again")
                .hasMessageContaining("damaged, truncated").hasMessageContaining("input file");
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    @Test
    void unknownRoleIntoNewDatabaseLeavesNoDatabaseAndSaysWhatToDo() throws Exception {
        String db = newName("rt_role");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .role("jb_no_such_role").build();
        assertThatThrownBy(() -> stage(target, dump)).isInstanceOf(RestoreException.class)
                .hasMessageContaining("jb_no_such_role").hasMessageContaining("does not exist")
                .hasMessageContaining("CREATE ROLE").hasMessageContaining("noOwner(true)");
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    @Test
    void replacesContentOfExistingDatabase() throws Exception {
        String db = existing("rt_replace", 300);
        try (Connection c = PgTestServer.get().connect(db); Statement s = c.createStatement()) {
            s.execute("UPDATE customers SET name = 'changed'; SELECT setval('invoice_no_seq', 7)");
        }
        assertThat(PgTools.hashes(db)).isNotEqualTo(original);
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabase(PgTools.connection(db));
        assertThat(target.stagesSafely()).isFalse();
        assertThat(target.singleTransaction()).isTrue();
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(staged.facts()).containsEntry("mode", "existing-database")
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
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabase(PgTools.connection(db));
        assertThatThrownBy(() -> stage(target, bad)).isInstanceOf(RestoreException.class)
                .hasMessageContaining("rolled back").hasMessageContaining("keeps its previous content");
        assertThat(PgTools.hashes(db)).isEqualTo(before);
    }

    @Test
    void existingDatabaseThatDoesNotExistIsRefused() {
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabase(PgTools.connection("jb_absent_x1"));
        assertThatThrownBy(() -> stage(target, dump)).isInstanceOf(RestoreException.class)
                .hasMessageContaining("does not exist").hasMessageContaining("newDatabase");
    }

    @Test
    void parallelRestoreGivesEqualContentAndDeletesTheSpoolFile() throws Exception {
        String db = newName("rt_par");
        Path spool = Files.createDirectory(tmp.resolve("spool"));
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .jobs(2).spoolDirectory(spool).build();
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(staged.facts()).containsEntry("jobs", 2).containsEntry("spooledBytes", Files.size(dump))
                    .hasEntrySatisfying("spool", v -> assertThat((String) v).contains("temporary"));
            assertThat(spool).isEmptyDirectory();
            staged.commit();
        }
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    @Test
    void failedParallelRestoreDeletesTheSpoolFileAndTheDatabase() throws Exception {
        String db = newName("rt_parfail");
        Path spool = Files.createDirectory(tmp.resolve("spool"));
        Path bad = PgTools.truncated(dump, 0.6, tmp.resolve("bad.dump"));
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .jobs(2).spoolDirectory(spool).build();
        assertThatThrownBy(() -> stage(target, bad)).isInstanceOf(RestoreException.class);
        assertThat(spool).isEmptyDirectory();
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }

    @Test
    void singleTransactionCannotBeCombinedWithJobs() {
        assertThatThrownBy(() -> PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection("x")).jobs(2)
                .build()).isInstanceOf(ConfigurationException.class).hasMessageContaining("singleTransaction(false)");
        PostgresRestoreTarget t = PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection("x")).jobs(2)
                .singleTransaction(false).build();
        assertThat(t.toBuilder().build().jobs()).isEqualTo(2);
        assertThatThrownBy(() -> PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), ""))
                .isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), "x".repeat(64)))
                .isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), "x")
                .jobs(0)).isInstanceOf(ConfigurationException.class);
    }

    @Test
    void unreachableServerIsReportedWithoutThePassword() {
        PgConnection nowhere = PgTools.connection("postgres").toBuilder().port(1).password("s3cret-pw".toCharArray())
                .build();
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabase(nowhere, newName("rt_unreach"));
        assertThat(target.describe()).doesNotContain("s3cret-pw");
        assertThat(target.toString()).doesNotContain("s3cret-pw");
        assertThatThrownBy(() -> stage(target, dump)).isInstanceOf(RestoreException.class)
                .hasMessageContaining("Cannot connect").hasMessageContaining(":1/")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret-pw"));
    }

    @Test
    void restoresIntoADatabaseWithAnAwkwardName() throws Exception {
        String db = newName("rt_odd") + " it's=\"x\"";
        created.set(created.size() - 1, db);
        try (StagedRestore staged = stage(PostgresRestoreTarget.newDatabase(PgTools.connection("postgres"), db),
                dump)) {
            staged.commit();
        }
        assertThat(PgTools.hashes(db)).isEqualTo(original);
    }

    /** A stand-in pg_restore that records its arguments and environment, prints warnings and exits with {@code exit}. */
    private Path fakePgRestore(int exit) throws Exception {
        Path script = tmp.resolve("fake_pg_restore");
        Files.writeString(script, "#!/bin/bash\n"
                + "printf '%s\\n' \"$@\" > " + tmp.resolve("args") + "\n"
                + "{ [ -n \"$PGPASSWORD\" ] && echo password-set; echo \"db=$PGDATABASE\"; } > " + tmp.resolve("env") + "\n"
                + "cat > /dev/null\n"
                + "for i in $(seq 1 60); do echo \"pg_restore: warning: line $i\" >&2; done\n"
                + "exit " + exit + "\n");
        script.toFile().setExecutable(true);
        return script;
    }

    @Test
    void passwordReachesPgRestoreOnlyThroughItsEnvironmentAndWarningsAreCounted() throws Exception {
        String db = PgTestServer.get().createDatabase("rt_fake");
        created.add(db);
        PostgresRestoreTarget target = PostgresRestoreTarget.existingDatabaseBuilder(PgTools.connection(db))
                .noOwner(true).noPrivileges(true).pgRestore(fakePgRestore(0)).build();
        try (StagedRestore staged = stage(target, dump)) {
            assertThat(staged.facts()).containsEntry("warnings", 60);
        }
        List<String> args = Files.readAllLines(tmp.resolve("args"));
        assertThat(args).containsExactly("--dbname=dbname='" + db + "'", "--clean", "--if-exists",
                "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges");
        assertThat(String.join(" ", args)).doesNotContain(PgTestServer.get().password());
        assertThat(Files.readAllLines(tmp.resolve("env"))).containsExactly("password-set", "db=" + db);
    }

    @Test
    void failureQuotesTheLastFiftyLinesOfPgRestore() throws Exception {
        String db = newName("rt_fakefail");
        PostgresRestoreTarget target = PostgresRestoreTarget.newDatabaseBuilder(PgTools.connection("postgres"), db)
                .pgRestore(fakePgRestore(3)).build();
        assertThatThrownBy(() -> stage(target, dump)).isInstanceOf(RestoreException.class)
                .hasMessageContaining("exit code 3").hasMessageContaining("warning: line 11\n")
                .hasMessageEndingWith("warning: line 60")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("warning: line 10\n"));
        assertThat(PgTestServer.get().databaseExists(db)).isFalse();
    }
}
