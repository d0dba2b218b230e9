package com.jiffoo.backup.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;

/**
 * Two replicas of an application (two real Spring contexts in one JVM) against one PostgreSQL database
 * ({@code PGHOST}/{@code PGPORT}/{@code PGUSER}/{@code PGPASSWORD}, 127.0.0.1:5432 by default) and one store: one
 * replica takes its advisory lock through the {@code jiffoo.backup.database.*} connection, the other through its own
 * {@link DataSource} bean. A job triggered in both at once runs once (one backup in the store) and the other replica
 * records a skip; a job holding the lock makes the other replica skip until it ends; a lock whose connection is killed
 * is free for the other replica and the run says it lost it; a cron expression of every second runs the job in one
 * replica per tick; a scheduled run keeps its lock for the least hold, so a replica whose clock is behind skips; a
 * prune whose lock was lost deletes nothing.
 */
class BackupJobsReplicasTest {
    private static final String HOST = env("PGHOST", "127.0.0.1");
    private static final String PORT = env("PGPORT", "5432");
    private static final String USER = env("PGUSER", "jiffoo_test");
    private static final String PASSWORD = env("PGPASSWORD", "jiffoo_test");
    private static final String DB = "postgres";

    /** The replicas' listener's shared state: a backup that committed waits here until the other replica skipped. */
    static volatile CountDownLatch skipSeen = new CountDownLatch(1);

    static final List<String> outcomes = new CopyOnWriteArrayList<>();

    private Path root;
    private Path store;
    private Path key;
    private final List<ConfigurableApplicationContext> contexts = new ArrayList<>();

    /** Replica A: the lock through jiffoo.backup.database.*. */
    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class ReplicaA {
        @Bean
        BackupOperationListener holdUntilTheOtherSkips() {
            return new Holding();
        }
    }

    /** Replica B: the lock through the application's DataSource. */
    @SpringBootConfiguration
    @EnableAutoConfiguration
    static class ReplicaB {
        @Bean
        BackupOperationListener holdUntilTheOtherSkips() {
            return new Holding();
        }

        @Bean
        DataSource dataSource() {
            PGSimpleDataSource ds = new PGSimpleDataSource();
            ds.setServerNames(new String[] {HOST});
            ds.setPortNumbers(new int[] {Integer.parseInt(PORT)});
            ds.setDatabaseName(DB);
            ds.setUser(USER);
            ds.setPassword(PASSWORD);
            return ds;
        }
    }

    /**
     * On the job's thread, while the job still holds its lock: a committed backup waits (at most 90 s) until the
     * other replica has tried and skipped, so that "at the same time" does not depend on how fast a backup is.
     */
    static final class Holding implements BackupOperationListener {
        @Override
        public void succeeded(Operation operation, String kind, BackupManifest manifest, Duration elapsed) {
            if (operation == Operation.BACKUP) {
                try {
                    skipSeen.await(90, TimeUnit.SECONDS); // the other replica may still be starting
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public void scheduled(String job, BackupJobs.Outcome outcome) {
            outcomes.add(job + ":" + outcome.label());
            if (outcome == BackupJobs.Outcome.SKIPPED) {
                skipSeen.countDown();
            }
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createTempDirectory("jiffoo-boot-replicas");
        store = Files.createDirectories(root.resolve("store"));
        Path source = Files.createDirectories(root.resolve("uploads"));
        Files.writeString(source.resolve("order-1.json"), "{\"order\":1}\n");
        key = root.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        skipSeen = new CountDownLatch(1);
        outcomes.clear();
    }

    @AfterEach
    void tearDown() throws IOException {
        contexts.forEach(ConfigurableApplicationContext::close);
        contexts.clear();
        try (var files = Files.walk(root)) {
            files.sorted(java.util.Comparator.reverseOrder())
                    .forEach(p -> p.toFile().delete());
        }
    }

    private ConfigurableApplicationContext start(Class<?> app, Map<String, String> extra) {
        List<String> props = new ArrayList<>(List.of(
                "jiffoo.backup.store=" + store,
                "jiffoo.backup.encryption.key-file=" + key,
                "jiffoo.backup.files.source-directory=" + root.resolve("uploads"),
                "jiffoo.backup.monitor.kinds=files",
                "jiffoo.backup.schedule.lock.check-interval=200ms",
                "spring.main.banner-mode=off"));
        if (app == ReplicaA.class) {
            props.addAll(List.of(
                    "jiffoo.backup.database.name=" + DB,
                    "jiffoo.backup.database.host=" + HOST,
                    "jiffoo.backup.database.port=" + PORT,
                    "jiffoo.backup.database.user=" + USER,
                    "jiffoo.backup.database.password=" + PASSWORD));
        }
        extra.forEach((k, v) -> props.add(k + "=" + v));
        ConfigurableApplicationContext c = new SpringApplicationBuilder(app)
                .web(WebApplicationType.NONE)
                .properties(props.toArray(String[]::new))
                .run();
        contexts.add(c);
        return c;
    }

    private List<BackupManifest> filesBackups(ConfigurableApplicationContext c) {
        return StoredBackups.of(c.getBean(BackupStores.class).store(), c.getBean(BackupTrust.class))
                .committed("files");
    }

    private static double skips(ConfigurableApplicationContext c, String job) {
        Counter counter = c.getBean(MeterRegistry.class)
                .find("jiffoo.backup.scheduled.runs")
                .tags("job", job, "outcome", "skipped")
                .counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void aJobTriggeredInBothReplicasAtOnceRunsOnce() throws Exception {
        ConfigurableApplicationContext a = start(ReplicaA.class, Map.of());
        ConfigurableApplicationContext b = start(ReplicaB.class, Map.of());
        assertThat(a.getBean(BackupJobs.class).lockKey("files"))
                .isEqualTo(b.getBean(BackupJobs.class).lockKey("files"));
        assertThat(a.getBean(BackupJobs.class).schedule()).isEmpty(); // nothing scheduled unless configured

        CyclicBarrier together = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<BackupJobs.Run> inA = pool.submit(() -> {
                together.await();
                return a.getBean(BackupJobs.class).run("files");
            });
            Future<BackupJobs.Run> inB = pool.submit(() -> {
                together.await();
                return b.getBean(BackupJobs.class).run("files");
            });
            List<BackupJobs.Outcome> got = List.of(
                    inA.get(60, TimeUnit.SECONDS).outcome(),
                    inB.get(60, TimeUnit.SECONDS).outcome());
            assertThat(got).containsExactlyInAnyOrder(BackupJobs.Outcome.RAN, BackupJobs.Outcome.SKIPPED);
        } finally {
            pool.shutdownNow();
        }
        assertThat(filesBackups(a)).hasSize(1);
        assertThat(skips(a, "files") + skips(b, "files")).isEqualTo(1.0);
        assertThat(heldLocks(a.getBean(BackupJobs.class).lockKey("files"))).isZero(); // released
    }

    @Test
    void aJobHoldingTheLockMakesTheOtherReplicaSkipUntilItEnds() throws Exception {
        ConfigurableApplicationContext a = start(ReplicaA.class, Map.of());
        ConfigurableApplicationContext b = start(ReplicaB.class, Map.of());
        skipSeen.countDown(); // no waiting in the listener here: the job itself holds the lock
        BackupJobs jobsA = a.getBean(BackupJobs.class);
        long lockKey = jobsA.lockKey("files");
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<BackupJobs.Run> inA = pool.submit(() -> jobsA.runExclusively("files", () -> {
                a.getBean(JiffooBackup.class).backUpFiles();
                holding.countDown();
                await(release);
            }));
            assertThat(holding.await(60, TimeUnit.SECONDS)).isTrue();
            assertThat(heldLocks(lockKey)).isEqualTo(1); // PostgreSQL shows the session lock

            BackupJobs.Run tried = b.getBean(BackupJobs.class).run("files");
            assertThat(tried.outcome()).isEqualTo(BackupJobs.Outcome.SKIPPED);
            assertThat(skips(b, "files")).isEqualTo(1.0);
            assertThat(filesBackups(a)).hasSize(1);

            release.countDown();
            BackupJobs.Run ran = inA.get(60, TimeUnit.SECONDS);
            assertThat(ran.outcome()).isEqualTo(BackupJobs.Outcome.RAN);
            assertThat(ran.lockLost()).isFalse();
        } finally {
            release.countDown();
            pool.shutdownNow();
        }
        assertThat(heldLocks(lockKey)).isZero();
        // the lock is free again: the other replica runs the job now
        Thread.sleep(1100); // a backup's name has the second it started in
        assertThat(b.getBean(BackupJobs.class).run("files").outcome()).isEqualTo(BackupJobs.Outcome.RAN);
        assertThat(filesBackups(a)).hasSize(2);
        // the drill job: a restore drill of the newest files backup, its report in the store
        assertThat(b.getBean(BackupJobs.class).run("drill").outcome()).isEqualTo(BackupJobs.Outcome.RAN);
        assertThat(com.jiffoo.backup.DrillReport.keysIn(
                        a.getBean(BackupStores.class).store()))
                .hasSize(1);
        // the verify job (deep) and the monitor job run too; prune without retention rules fails and says why
        assertThat(a.getBean(BackupJobs.class).run("verify").outcome()).isEqualTo(BackupJobs.Outcome.RAN);
        BackupManifest newest = filesBackups(a).stream()
                .max(java.util.Comparator.comparing(BackupManifest::completedAt))
                .orElseThrow();
        assertThat(StoredBackups.of(a.getBean(BackupStores.class).store(), a.getBean(BackupTrust.class))
                        .verifications(newest))
                .anyMatch(v -> v.passed() && v.deep());
        assertThat(b.getBean(BackupJobs.class).run("monitor").outcome()).isEqualTo(BackupJobs.Outcome.RAN);
        BackupJobs.Run prune = b.getBean(BackupJobs.class).run("prune");
        assertThat(prune.outcome()).isEqualTo(BackupJobs.Outcome.FAILED);
        assertThat(prune.error()).hasMessageContaining("no retention rule is configured");
    }

    @Test
    void aLockWhoseConnectionDiesIsNoLongerClaimed() throws Exception {
        ConfigurableApplicationContext a = start(ReplicaA.class, Map.of());
        ConfigurableApplicationContext b = start(ReplicaB.class, Map.of());
        BackupJobs jobsA = a.getBean(BackupJobs.class);
        long lockKey = jobsA.lockKey("export");
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<BackupJobs.Run> inA = pool.submit(() -> jobsA.runExclusively("export", () -> {
                holding.countDown();
                await(release);
            }));
            assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(b.getBean(BackupJobs.class)
                            .runExclusively("export", () -> {})
                            .outcome())
                    .isEqualTo(BackupJobs.Outcome.SKIPPED);

            // the connection holding the lock dies (as when the network or the server drops it)
            terminate(lockKey);
            // the server released it: the other replica gets it while the first run is still going
            assertThat(b.getBean(BackupJobs.class)
                            .runExclusively("export", () -> {})
                            .outcome())
                    .isEqualTo(BackupJobs.Outcome.RAN);
            release.countDown();
            BackupJobs.Run first = inA.get(30, TimeUnit.SECONDS);
            assertThat(first.lockLost()).as("the run says it lost its lock").isTrue();
        } finally {
            release.countDown();
            pool.shutdownNow();
        }
    }

    /**
     * The prune job's lock is killed (pg_terminate_backend from another connection) as the run starts, before it
     * deletes anything: another replica may take the lock and prune too, so the run deletes nothing, fails and says it
     * lost its lock.
     */
    @Test
    void aPruneThatLostItsLockDeletesNothing() throws Exception {
        skipSeen.countDown(); // no waiting in the listener: one replica here
        ConfigurableApplicationContext a = start(ReplicaA.class, Map.of("jiffoo.backup.retention.keep-last", "1"));
        JiffooBackup backups = a.getBean(JiffooBackup.class);
        backups.backUpFiles();
        Thread.sleep(1100); // a backup's name has the second it started in
        backups.backUpFiles();
        assertThat(filesBackups(a)).hasSize(2);
        BackupJobs jobs = a.getBean(BackupJobs.class);
        long lockKey = jobs.lockKey("prune");

        // on the job's thread, once it holds its lock and before it prunes: its connection dies
        ch.qos.logback.classic.Logger logger =
                (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(BackupJobs.class);
        List<Exception> killFailed = new CopyOnWriteArrayList<>();
        ch.qos.logback.core.AppenderBase<ch.qos.logback.classic.spi.ILoggingEvent> killer =
                new ch.qos.logback.core.AppenderBase<>() {
                    @Override
                    protected void append(ch.qos.logback.classic.spi.ILoggingEvent event) {
                        if (!event.getFormattedMessage().equals("backup job prune: started")) {
                            return;
                        }
                        try {
                            terminate(lockKey);
                        } catch (Exception e) {
                            killFailed.add(e);
                        }
                    }
                };
        killer.start();
        logger.addAppender(killer);
        BackupJobs.Run run;
        try {
            run = jobs.run("prune");
        } finally {
            logger.detachAppender(killer);
        }
        assertThat(killFailed).isEmpty();
        assertThat(run.outcome()).isEqualTo(BackupJobs.Outcome.FAILED);
        assertThat(run.lockLost()).isTrue();
        assertThat(run.error())
                .hasMessageContaining("backup job prune lost its advisory lock (key " + lockKey + ")")
                .hasMessageContaining("another replica may be running prune");
        assertThat(filesBackups(a)).hasSize(2); // nothing pruned

        // with its lock, the job prunes
        assertThat(jobs.run("prune").outcome()).isEqualTo(BackupJobs.Outcome.RAN);
        assertThat(filesBackups(a)).hasSize(1);
    }

    /** Terminates the session holding the advisory lock {@code key} and waits until the server released it. */
    private static void terminate(long key) throws SQLException, InterruptedException {
        try (Connection c = connect();
                PreparedStatement ps = c.prepareStatement("select pg_terminate_backend(pid) from pg_locks where"
                        + " locktype = 'advisory' and granted and ((classid::bigint << 32) | objid::bigint) = ?")) {
            ps.setLong(1, key);
            ps.execute();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (heldLocks(key) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
    }

    @Test
    void aCronOfEverySecondRunsTheJobInOneReplicaPerTick() throws Exception {
        Map<String, String> cron =
                Map.of("jiffoo.backup.schedule.files", "* * * * * *", "jiffoo.backup.schedule.lock.min-hold", "2s");
        ConfigurableApplicationContext a = start(ReplicaA.class, cron);
        ConfigurableApplicationContext b = start(ReplicaB.class, cron);
        assertThat(a.getBean(BackupJobs.class).schedule()).containsEntry("files", "* * * * * *");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (outcomes.stream().noneMatch(o -> o.equals("files:ran")) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        a.close();
        b.close();
        List<String> seen = List.copyOf(outcomes);
        long ran = seen.stream().filter("files:ran"::equals).count();
        assertThat(ran).as(seen.toString()).isPositive();
        assertThat(seen).as(seen.toString()).contains("files:skipped");
        // (a run may fail when both replicas' runs of one tick fall in the same second one after the other: a backup's
        // name has its second, and the second is refused; never two backups at once)
        assertThat(seen).doesNotContain("files:lock_failed");
        // every backup was made by a run that held the lock: as many backups as runs
        try (var s = com.jiffoo.backup.store.StoreProviders.open(
                store.toString(), com.jiffoo.backup.store.StoreSettings.of(Map.of()))) {
            assertThat(StoredBackups.of(s).committed("files")).hasSize((int) ran);
        }
    }

    @Test
    void aScheduledRunHoldsItsLockLongEnoughForAReplicaWhoseClockIsBehind() throws Exception {
        // the same job, one second later in B, as on a replica whose clock is a second behind: the monitor job takes
        // well under a second, so without the least hold B would run it again for the same cron time
        ConfigurableApplicationContext a = start(
                ReplicaA.class,
                Map.of(
                        "jiffoo.backup.schedule.monitor",
                        "0/5 * * * * *",
                        "jiffoo.backup.schedule.lock.min-hold",
                        "3s"));
        ConfigurableApplicationContext b = start(
                ReplicaB.class,
                Map.of(
                        "jiffoo.backup.schedule.monitor",
                        "1/5 * * * * *",
                        "jiffoo.backup.schedule.lock.min-hold",
                        "3s"));
        // A's runs before B was up have no skip to match (B's start may take several ticks on a loaded machine); a run
        // of A in flight now may still be matched by a skip of B's: the ±1 below
        outcomes.clear();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (outcomes.stream().filter("monitor:skipped"::equals).count() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        a.close();
        b.close();
        List<String> seen = List.copyOf(outcomes);
        long ran = seen.stream().filter("monitor:ran"::equals).count();
        long skipped = seen.stream().filter("monitor:skipped"::equals).count();
        assertThat(skipped).as(seen.toString()).isGreaterThanOrEqualTo(2);
        assertThat(ran).as(seen.toString()).isBetween(skipped - 1, skipped + 1); // once per cron time
        assertThat(seen).doesNotContain("monitor:failed", "monitor:lock_failed");
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static int heldLocks(long key) throws SQLException {
        try (Connection c = connect();
                PreparedStatement ps = c.prepareStatement("select count(*) from pg_locks where locktype = 'advisory'"
                        + " and granted and ((classid::bigint << 32) | objid::bigint) = ?")) {
            ps.setLong(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private static Connection connect() throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://" + HOST + ":" + PORT + "/" + DB, USER, PASSWORD);
    }

    private static String env(String name, String otherwise) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? otherwise : v;
    }
}
