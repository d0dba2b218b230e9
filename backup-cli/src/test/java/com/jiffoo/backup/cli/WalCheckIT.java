package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.testing.WebhookServer;
import com.jiffoo.backup.wal.WalSegment;
import com.jiffoo.backup.wal.WalStores;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code wal-verify}, the monitor's WAL check and WAL retention with the real jar, on a local store holding WAL
 * under the layout's keys and a base backup: no WAL (8), continuous (0), a deleted segment (5, the gap and the base
 * backup named; the monitor CRITICAL with a Slack alert), an archive that stopped (CRITICAL beyond --wal-max-lag),
 * and prune deleting exactly the WAL before the base backup's start.
 */
class WalCheckIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static String seg(long n) {
        return new WalSegment(1, n, WalSegment.DEFAULT_SIZE).name();
    }

    private static void age(Path root, Duration by) throws Exception {
        FileTime t = FileTime.from(Instant.now().minus(by));
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                Files.setLastModifiedTime(p, t);
            }
        }
    }

    @Test
    void walVerifyMonitorAndPruneOnAStoreWithWal() throws Exception {
        Path store = Files.createDirectories(dir.resolve("store"));
        Sink sink = LocalDirectorySink.create(store);
        WalStores.base(sink, "base_1", 1, seg(3), seg(3), Instant.now());
        try (WebhookServer slack = WebhookServer.start()) {
            Map<String, String> env = Map.of(
                    "BACKUP_DIR",
                    store.toString(),
                    "ALLOW_UNAUTHENTICATED",
                    "true",
                    "ALLOW_UNENCRYPTED",
                    "true",
                    "SLACK_WEBHOOK_URL",
                    slack.url());

            Jar.Run none = Jar.run(dir, env, "wal-verify");
            assertThat(none.exitCode()).as(none.toString()).isEqualTo(8);
            assertThat(none.stdout()).contains("no WAL is archived");

            for (int n = 1; n <= 6; n++) {
                WalStores.push(sink, seg(n), new byte[] {(byte) n});
            }
            Jar.Run ok = Jar.run(dir, env, "wal-verify", "--json");
            assertThat(ok.exitCode()).as(ok.toString()).isZero();
            JsonNode j = ok.json();
            assertThat(j.get("status").asText()).isEqualTo("continuous");
            assertThat(j.get("start").asText()).isEqualTo(seg(3));
            assertThat(j.get("newestSegment").asText()).isEqualTo(seg(6));

            WalStores.deleteAll(sink, StoreLayout.walSegmentKey(seg(5), WalStores.SUFFIXES));
            Jar.Run gap = Jar.run(dir, env, "wal-verify");
            assertThat(gap.exitCode()).as(gap.toString()).isEqualTo(5);
            assertThat(gap.stdout())
                    .contains("MISSING on timeline 1: " + seg(5) + " (1 segment); cannot be replayed past it: base_1")
                    .contains("base backup base_1 (" + seg(3) + ".." + seg(3) + "): restorable");

            Jar.Run monitorGap = Jar.run(dir, env, "monitor", "--kind", "base", "--freshness-only");
            assertThat(monitorGap.exitCode()).as(monitorGap.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
            assertThat(monitorGap.stdout()).contains("wal: CRITICAL").contains(seg(5));
            assertThat(slack.bodies()).hasSize(1);
            JsonNode alert = JSON.readTree(slack.bodies().get(0));
            assertThat(alert.get("blocks").get(1).get("text").get("text").asText())
                    .contains("wal: CRITICAL")
                    .contains("missing WAL on timeline 1: " + seg(5));

            WalStores.push(sink, seg(5), new byte[] {5});
            age(store.resolve("wal"), Duration.ofMinutes(10));
            Jar.Run late = Jar.run(dir, env, "monitor", "--kind", "base", "--freshness-only", "--json");
            assertThat(late.exitCode()).as(late.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
            JsonNode wal = late.json().get("report").get("storeChecks").get(0);
            assertThat(wal.get("name").asText()).isEqualTo("wal");
            assertThat(wal.get("findings").get(0).get("check").asText()).isEqualTo("wal-lag");
            assertThat(wal.get("facts").get("ageSeconds").asLong()).isBetween(599L, 660L);

            Jar.Run tolerant =
                    Jar.run(dir, env, "monitor", "--kind", "base", "--freshness-only", "--wal-max-lag", "15m");
            assertThat(tolerant.exitCode()).as(tolerant.toString()).isZero();
            assertThat(tolerant.stdout()).contains("wal: OK");

            Jar.Run dry = Jar.run(dir, env, "prune", "--dry-run");
            assertThat(dry.exitCode()).as(dry.toString()).isZero();
            assertThat(dry.stdout()).contains("WAL: kept from " + seg(3)).contains("would delete 2 archived file(s)");
            assertThat(sink.list(StoreLayout.walSegmentKey(seg(1), ""))).isNotEmpty();

            Jar.Run prune = Jar.run(dir, env, "prune");
            assertThat(prune.exitCode()).as(prune.toString()).isZero();
            List<String> left = sink.list(StoreLayout.WAL_PREFIX).stream()
                    .map(o -> o.key())
                    .filter(k -> k.endsWith(WalStores.SUFFIXES))
                    .sorted()
                    .toList();
            assertThat(left)
                    .containsExactly(
                            StoreLayout.walSegmentKey(seg(3), WalStores.SUFFIXES),
                            StoreLayout.walSegmentKey(seg(4), WalStores.SUFFIXES),
                            StoreLayout.walSegmentKey(seg(5), WalStores.SUFFIXES),
                            StoreLayout.walSegmentKey(seg(6), WalStores.SUFFIXES));
            Jar.Run after = Jar.run(dir, env, "wal-verify");
            assertThat(after.exitCode()).as(after.toString()).isZero();
        }
    }

    private static List<String> walData(Sink sink) throws Exception {
        return sink.list(StoreLayout.WAL_PREFIX).stream()
                .map(o -> o.key())
                .filter(k -> k.endsWith(WalStores.SUFFIXES))
                .sorted()
                .toList();
    }

    @Test
    void walVerifyMonitorAndPruneTakeEveryStoreOnItsOwn() throws Exception {
        Path storeDir = Files.createDirectories(dir.resolve("store"));
        Path copyDir = Files.createDirectories(dir.resolve("copy"));
        Sink store = LocalDirectorySink.create(storeDir);
        Sink copy = LocalDirectorySink.create(copyDir);
        for (Sink s : List.of(store, copy)) {
            WalStores.base(s, "base_1", 1, seg(3), seg(3), Instant.now());
            for (int n = 1; n <= 6; n++) {
                WalStores.push(s, seg(n), new byte[] {(byte) n});
            }
        }
        Map<String, String> env = new java.util.HashMap<>(Map.of(
                "BACKUP_DIR",
                storeDir.toString(),
                "BACKUP_COPIES",
                copyDir.toString(),
                "ALLOW_UNAUTHENTICATED",
                "true",
                "ALLOW_UNENCRYPTED",
                "true"));

        Jar.Run ok = Jar.run(dir, env, "wal-verify", "--json");
        assertThat(ok.exitCode()).as(ok.toString()).isZero();
        assertThat(ok.json().get("stores")).hasSize(2);
        assertThat(ok.json().get("stores").get(1).get("store").asText()).isEqualTo(copy.location());
        assertThat(ok.json().get("stores").get(1).get("status").asText()).isEqualTo("continuous");

        // a segment lost in the copy only: the store is whole, the copy is not, and the run says which
        WalStores.deleteAll(copy, StoreLayout.walSegmentKey(seg(5), WalStores.SUFFIXES));
        Jar.Run gap = Jar.run(dir, env, "wal-verify");
        assertThat(gap.exitCode()).as(gap.toString()).isEqualTo(5);
        assertThat(gap.stdout())
                .contains("WAL archive in " + store.location() + ": 6 segments")
                .contains("WAL archive in " + copy.location() + ": 5 segments")
                .contains("MISSING on timeline 1: " + seg(5))
                .contains("NOT every store's WAL archive is whole: the copy " + copy.location() + " (gap)")
                .doesNotContain("the store " + store.location() + " (");
        Jar.Run onlyStore = Jar.run(dir, env, "--store", storeDir.toString(), "wal-verify");
        assertThat(onlyStore.exitCode())
                .as("--store: that store alone; " + onlyStore)
                .isZero();
        assertThat(onlyStore.stdout()).doesNotContain(copy.location());

        Jar.Run monitor = Jar.run(dir, env, "monitor", "--kind", "base", "--freshness-only", "--json");
        assertThat(monitor.exitCode()).as(monitor.toString()).isEqualTo(MonitorCommand.EXIT_CRITICAL);
        JsonNode report = monitor.json().get("report");
        assertThat(report.get("storeChecks").get(0).get("status").asText()).isEqualTo("OK");
        JsonNode copyWal = report.get("copies").get(0).get("storeChecks").get(0);
        assertThat(copyWal.get("name").asText()).isEqualTo("wal");
        assertThat(copyWal.get("findings").get(0).get("check").asText()).isEqualTo("wal-continuity");
        assertThat(copyWal.get("findings").get(0).get("store").asText()).isEqualTo(copy.location());

        // prune: the same rules in each store, each on its own (the copy's own base backups decide its WAL)
        WalStores.push(copy, seg(5), new byte[] {5});
        Jar.Run dry = Jar.run(dir, env, "--store", copyDir.toString(), "prune", "--dry-run");
        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.stdout()).contains("pruning " + copy.location()).doesNotContain("pruning " + store.location());
        Jar.Run prune = Jar.run(dir, env, "prune", "--json");
        assertThat(prune.exitCode()).as(prune.toString()).isZero();
        assertThat(prune.json().get("stores")).hasSize(2);
        for (Sink s : List.of(store, copy)) {
            assertThat(walData(s))
                    .as(s.location())
                    .containsExactly(
                            StoreLayout.walSegmentKey(seg(3), WalStores.SUFFIXES),
                            StoreLayout.walSegmentKey(seg(4), WalStores.SUFFIXES),
                            StoreLayout.walSegmentKey(seg(5), WalStores.SUFFIXES),
                            StoreLayout.walSegmentKey(seg(6), WalStores.SUFFIXES));
        }

        // a copy that cannot be reached: the others are pruned and checked, the exit names it
        for (int n = 1; n <= 2; n++) {
            WalStores.push(store, seg(n), new byte[] {(byte) n});
            WalStores.push(copy, seg(n), new byte[] {(byte) n});
        }
        String down = "s3://gone/prod?endpoint=http://127.0.0.1:1&region=us-east-1";
        env.put("BACKUP_COPIES", down + "," + copyDir);
        env.put("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE");
        env.put("AWS_SECRET_ACCESS_KEY", "secret-example");
        Jar.Run partial = Jar.run(dir, env, "prune");
        assertThat(partial.exitCode()).as(partial.toString()).isEqualTo(4);
        assertThat(partial.stderr() + partial.stdout()).contains("prune FAILED in the copy s3://gone/prod");
        for (Sink s : List.of(store, copy)) {
            assertThat(walData(s)).as(s.location()).hasSize(4);
        }
        Jar.Run verifyDown = Jar.run(dir, env, "wal-verify");
        assertThat(verifyDown.exitCode()).as(verifyDown.toString()).isEqualTo(4);
        assertThat(verifyDown.stdout())
                .contains("WAL archive in " + copy.location() + ": 4 segments")
                .contains("NOT every store's WAL archive is whole: the copy s3://gone/prod");
    }
}
