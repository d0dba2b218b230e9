package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Metrics for cron jobs, with the real jar: the node_exporter textfile ({@code METRICS_FILE}) that several jobs share,
 * checked by Prometheus' own {@code promtool check metrics}, and a real Pushgateway ({@code PUSHGATEWAY_URL}) on
 * 127.0.0.1 (Debian's prometheus and prometheus-pushgateway packages; .ci/run installs them).
 */
class MetricsIT {
    @TempDir
    Path dir;

    private Map<String, String> env() throws Exception {
        Path uploads = Files.createDirectories(dir.resolve("uploads"));
        Files.writeString(uploads.resolve("invoice.pdf"), "an invoice".repeat(1000));
        Path key = dir.resolve("backup.key");
        if (!Files.exists(key)) {
            assertThat(Jar.run(dir, Map.of(), "keygen", key.toString()).exitCode())
                    .isZero();
        }
        return new HashMap<>(Map.of(
                "SOURCE_DIR", uploads.toString(),
                "BACKUP_DIR", Files.createDirectories(dir.resolve("store")).toString(),
                "ENCRYPTION_KEY_FILE", key.toString()));
    }

    private static double value(String text, String series) {
        Matcher m =
                Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(text);
        assertThat(m.find()).as("%s in%n%s", series, text).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void jobsShareOneTextfileThatPromtoolAcceptsAndFailuresAreCounted() throws Exception {
        Map<String, String> env = env();
        Path textfiles = Files.createDirectories(dir.resolve("textfile"));
        Path prom = textfiles.resolve("jiffoo_backup.prom");
        env.put("METRICS_FILE", prom.toString());
        long before = System.currentTimeMillis() / 1000;

        Jar.Run files = Jar.run(dir, env, "backup", "files", "--json");
        assertThat(files.exitCode()).as(files.toString()).isZero();
        long size = files.json().get("sizeBytes").asLong();
        // a second job on the same file: a restore of a backup that does not exist (exit 8), twice
        for (int i = 0; i < 2; i++) {
            Jar.Run missing = Jar.run(
                    dir,
                    env,
                    "restore",
                    "files",
                    "no-such-backup",
                    "--target",
                    dir.resolve("t").toString());
            assertThat(missing.exitCode()).as(missing.toString()).isEqualTo(8);
        }
        // the flag names the file too, and wins over nothing else here
        Jar.Run verify = Jar.run(dir, env, "verify", "--latest", "--metrics-file", prom.toString());
        assertThat(verify.exitCode()).as(verify.toString()).isZero();

        String text = Files.readString(prom);
        String store = "store=\"" + env.get("BACKUP_DIR") + "\"";
        String backup = "{operation=\"backup\",kind=\"files\"," + store + "}";
        assertThat(value(text, "jiffoo_backup_last_success_timestamp_seconds" + backup))
                .isBetween((double) before, System.currentTimeMillis() / 1000.0 + 1);
        assertThat(value(text, "jiffoo_backup_size_bytes" + backup)).isEqualTo(size);
        assertThat(value(text, "jiffoo_backup_last_exit_code" + backup)).isZero();
        assertThat(value(text, "jiffoo_backup_duration_seconds" + backup)).isPositive();
        String restore = "{operation=\"restore\",kind=\"files\"," + store + "}";
        assertThat(value(text, "jiffoo_backup_last_exit_code" + restore)).isEqualTo(8);
        assertThat(text).doesNotContain("jiffoo_backup_last_success_timestamp_seconds" + restore);
        assertThat(value(text, "jiffoo_backup_failures_total{operation=\"restore\",kind=\"files\",code=\"NOT_FOUND\"}"))
                .isEqualTo(2);
        assertThat(text).contains("jiffoo_backup_last_exit_code{operation=\"verify\"");
        // written whole or not at all: no temporary file left beside it
        try (var left = Files.list(textfiles)) {
            assertThat(left.map(p -> p.getFileName().toString()))
                    .allMatch(n -> n.equals("jiffoo_backup.prom") || n.endsWith(".lock"));
        }

        // Prometheus' own linter: the exposition format, HELP and TYPE, counter names
        Jar.Run lint = Jar.exec(dir, Map.of(), List.of("sh", "-c", "promtool check metrics < " + prom));
        assertThat(lint.exitCode())
                .as("promtool check metrics: %s%n%s", lint, text)
                .isZero();
    }

    @Test
    void aRunIsPushedToAPushgatewayAndAFailureKeepsTheLastSuccess() throws Exception {
        int port;
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Process gateway = new ProcessBuilder("prometheus-pushgateway", "--web.listen-address=127.0.0.1:" + port)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("pushgateway.log").toFile())
                .start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            URI metrics = URI.create("http://127.0.0.1:" + port + "/metrics");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (true) {
                try {
                    if (http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.discarding())
                                    .statusCode()
                            == 200) {
                        break;
                    }
                } catch (java.io.IOException notYet) {
                    // starting
                }
                assertThat(System.nanoTime())
                        .as("the Pushgateway started: %s", Files.readString(dir.resolve("pushgateway.log")))
                        .isLessThan(deadline);
                Thread.sleep(100);
            }
            Map<String, String> env = env();
            env.put("PUSHGATEWAY_URL", "http://127.0.0.1:" + port);
            Jar.Run files = Jar.run(dir, env, "backup", "files", "--json");
            assertThat(files.exitCode()).as(files.toString()).isZero();
            // the same job, failing: the source directory is gone
            env.put("SOURCE_DIR", dir.resolve("gone").toString());
            Jar.Run failed = Jar.run(dir, env, "backup", "files");
            assertThat(failed.exitCode()).as(failed.toString()).isNotZero();

            String text = http.send(
                            HttpRequest.newBuilder(metrics)
                                    .timeout(Duration.ofSeconds(10))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .body();
            String labels = "{instance=\"\",job=\"jiffoo-backup\",kind=\"files\",operation=\"backup\",store=\""
                    + env.get("BACKUP_DIR") + "\"}";
            assertThat(value(text, "jiffoo_backup_last_exit_code" + labels)).isEqualTo(failed.exitCode());
            assertThat(value(text, "jiffoo_backup_size_bytes" + labels))
                    .isEqualTo(files.json().get("sizeBytes").asLong());
            assertThat(value(text, "jiffoo_backup_last_success_timestamp_seconds" + labels))
                    .isLessThanOrEqualTo(value(text, "jiffoo_backup_last_run_timestamp_seconds" + labels));
        } finally {
            gateway.destroy();
            gateway.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
