package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The metrics of one command's run in Prometheus' text exposition format, for cron jobs and Kubernetes CronJobs,
 * which no Prometheus scrapes while they run: written into a node_exporter textfile-collector file
 * ({@code METRICS_FILE} / {@code --metrics-file}) and/or pushed to a Pushgateway ({@code PUSHGATEWAY_URL} /
 * {@code --pushgateway}).
 *
 * <p>Several jobs share one file: each run reads it, replaces its own series (same name and labels), keeps the
 * others and adds one to its failure counter, then writes the whole file under a lock to a temporary file and renames
 * it over the old one, so that the collector never reads a half-written file. The series:
 *
 * <ul>
 *   <li>{@code jiffoo_backup_last_run_timestamp_seconds{operation,kind,store}}: when the run ended;
 *   <li>{@code jiffoo_backup_last_success_timestamp_seconds{operation,kind,store}}: when the last successful one
 *       ended (kept from the file when this run failed);
 *   <li>{@code jiffoo_backup_last_exit_code{operation,kind,store}} and {@code jiffoo_backup_duration_seconds{…}}: of
 *       this run;
 *   <li>{@code jiffoo_backup_size_bytes{operation,kind,store}}: the stored size of the last backup made;
 *   <li>{@code jiffoo_backup_failures_total{operation,kind,code}}: failed runs, by error code.
 * </ul>
 *
 * <p>{@code operation} is the command's verb ({@code backup}, {@code restore}, {@code verify}, {@code drill},
 * {@code prune}, {@code wal-push}, …), {@code kind} what it worked on ({@code database}, {@code files}, {@code base},
 * {@code wal}, or {@code all}), {@code store} the configured store with any secret left out.
 */
final class PrometheusMetrics {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PrometheusMetrics.class);

    static final String LAST_RUN = "jiffoo_backup_last_run_timestamp_seconds";
    static final String LAST_SUCCESS = "jiffoo_backup_last_success_timestamp_seconds";
    static final String EXIT_CODE = "jiffoo_backup_last_exit_code";
    static final String DURATION = "jiffoo_backup_duration_seconds";
    static final String SIZE = "jiffoo_backup_size_bytes";
    static final String FAILURES = "jiffoo_backup_failures_total";

    /** Each series' type and help line, in the order they are written. */
    private static final Map<String, String[]> FAMILIES = new java.util.LinkedHashMap<>();

    static {
        FAMILIES.put(LAST_RUN, new String[] {"gauge", "When the last run of this operation ended (Unix time)."});
        FAMILIES.put(
                LAST_SUCCESS,
                new String[] {"gauge", "When the last successful run of this operation ended (Unix time)."});
        FAMILIES.put(EXIT_CODE, new String[] {"gauge", "The exit code of the last run (0: success)."});
        FAMILIES.put(DURATION, new String[] {"gauge", "How long the last run took, in seconds."});
        FAMILIES.put(SIZE, new String[] {"gauge", "The stored size of the last backup made, in bytes."});
        FAMILIES.put(FAILURES, new String[] {"counter", "Failed runs, by error code."});
    }

    private static final Pattern SAMPLE =
            Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})?\\s+(\\S+)(\\s+-?\\d+)?$");

    /** One run's facts. */
    record Run(
            String operation,
            String kind,
            String store,
            int exitCode,
            String errorCode,
            Duration took,
            Instant ended,
            Long sizeBytes) {}

    private PrometheusMetrics() {}

    /**
     * The operation and kind of a command: {@code backup database} → backup, database; {@code wal-push} → wal-push,
     * wal; {@code verify} → verify and the summary's kind, else {@code all}.
     */
    static String[] operationAndKind(String command, Object summaryKind) {
        String[] words = command.trim().split("\\s+");
        String operation = words[0];
        String kind;
        if (words.length > 1) {
            kind = words[1];
        } else if (operation.startsWith("wal-")) {
            kind = "wal";
        } else if (summaryKind != null) {
            kind = summaryKind.toString();
        } else {
            kind = "all";
        }
        return new String[] {operation, kind};
    }

    /**
     * Merges this run into the file (mode 0644, owned by the user that ran the job), atomically. Jobs of different
     * users need different files (e.g. {@code jiffoo_backup.prom} for root's jobs, {@code jiffoo_wal.prom} for the
     * postgres user's {@code wal-push}): one cannot replace the other's file.
     */
    static void writeFile(Path file, Run run) {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new ConfigurationException("the metrics file's directory " + dir + " does not exist (METRICS_FILE "
                    + abs + "): create it, e.g. node_exporter's --collector.textfile.directory");
        }
        Path lockFile = dir.resolve("." + abs.getFileName() + ".lock");
        try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock ignored = lock(lockChannel, abs)) {
            Map<String, Double> samples = Files.exists(abs) ? read(Files.readString(abs)) : new TreeMap<>();
            merge(samples, run, true);
            Path tmp = dir.resolve("." + abs.getFileName() + ".tmp");
            Files.writeString(tmp, format(samples), StandardCharsets.UTF_8);
            // node_exporter runs as another user: readable by all, writable by this job's user
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the metrics file " + abs + ": " + e.getMessage(), e);
        }
    }

    /** The lock of the file, waiting at most 10 s (an archive_command must not hang on a stuck job). */
    private static FileLock lock(FileChannel channel, Path file) throws IOException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (true) {
            FileLock l = channel.tryLock();
            if (l != null) {
                return l;
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(
                        "another job has held the lock of " + file + " for 10 s; this run is not" + " recorded there");
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the lock of " + file);
            }
        }
    }

    /**
     * Pushes this run's series to a Pushgateway with
     * {@code POST URL/metrics/job/jiffoo-backup/operation/O/kind/K/store@base64/S}: in the group of this operation, kind
     * and store, the gateway replaces the series of the names pushed and keeps the others,
     * so a failed run leaves the last success's time and size as they were. The gateway cannot add to a counter, so
     * {@code jiffoo_backup_failures_total} is not pushed: alert on {@code jiffoo_backup_last_exit_code} and on the
     * age of {@code jiffoo_backup_last_success_timestamp_seconds}.
     */
    static void push(URI gateway, Run run) {
        Map<String, Double> samples = new TreeMap<>();
        merge(samples, run, false);
        String base = gateway.toString().replaceAll("/+$", "");
        URI target = URI.create(base + "/metrics/job/jiffoo-backup/operation/" + pathSegment(run.operation())
                + "/kind/" + pathSegment(run.kind()) + "/store@base64/"
                + (run.store().isEmpty()
                        ? "="
                        : java.util.Base64.getUrlEncoder()
                                .encodeToString(run.store().getBytes(StandardCharsets.UTF_8))));
        HttpRequest request = HttpRequest.newBuilder(target)
                .timeout(Duration.ofSeconds(10))
                .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofString(format(samples), StandardCharsets.UTF_8))
                .build();
        try {
            HttpResponse<String> r = HttpClient.newBuilder()
                    .connectTimeout(Duration.ofSeconds(5))
                    .build()
                    .send(request, HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() / 100 != 2) {
                throw new UncheckedIOException(new IOException("the Pushgateway " + redact(gateway) + " answered HTTP "
                        + r.statusCode() + ": " + r.body().strip()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(
                    new IOException("could not push metrics to " + redact(gateway) + ": " + e.getMessage(), e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UncheckedIOException(
                    new IOException("pushing metrics to " + redact(gateway) + " was interrupted"));
        }
    }

    private static String redact(URI u) {
        return u.getUserInfo() == null ? u.toString() : u.toString().replace(u.getRawUserInfo() + "@", "***@");
    }

    private static String pathSegment(String s) {
        return java.net.URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static void merge(Map<String, Double> samples, Run run, boolean countFailures) {
        String labels = labels("operation", run.operation(), "kind", run.kind(), "store", run.store());
        double ended = run.ended().toEpochMilli() / 1000.0;
        samples.put(LAST_RUN + labels, ended);
        samples.put(EXIT_CODE + labels, (double) run.exitCode());
        samples.put(DURATION + labels, run.took().toMillis() / 1000.0);
        if (run.exitCode() == 0) {
            samples.put(LAST_SUCCESS + labels, ended);
            if (run.sizeBytes() != null) {
                samples.put(SIZE + labels, run.sizeBytes().doubleValue());
            }
        }
        if (countFailures && run.errorCode() != null) {
            String key = FAILURES + labels("operation", run.operation(), "kind", run.kind(), "code", run.errorCode());
            samples.merge(key, 1.0, Double::sum);
        }
    }

    /** The series of a file this class wrote; lines it does not understand (and comments) are dropped. */
    static Map<String, Double> read(String text) {
        Map<String, Double> samples = new TreeMap<>();
        for (String line : text.split("\n")) {
            Matcher m = SAMPLE.matcher(line.strip());
            if (line.startsWith("#") || !m.matches() || !FAMILIES.containsKey(m.group(1))) {
                continue;
            }
            try {
                samples.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), Double.parseDouble(m.group(4)));
            } catch (NumberFormatException e) {
                LOG.warn("dropped a metrics line that is not a number: {}", line);
            }
        }
        return samples;
    }

    /** The samples in the text format: each family's HELP and TYPE once, then its samples. */
    static String format(Map<String, Double> samples) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, String[]> f : FAMILIES.entrySet()) {
            List<String> lines = new ArrayList<>();
            for (Map.Entry<String, Double> s : samples.entrySet()) {
                String key = s.getKey();
                String name = key.indexOf('{') < 0 ? key : key.substring(0, key.indexOf('{'));
                if (name.equals(f.getKey())) {
                    lines.add(key + " " + number(s.getValue()));
                }
            }
            if (lines.isEmpty()) {
                continue;
            }
            b.append("# HELP ")
                    .append(f.getKey())
                    .append(' ')
                    .append(f.getValue()[1])
                    .append('\n');
            b.append("# TYPE ")
                    .append(f.getKey())
                    .append(' ')
                    .append(f.getValue()[0])
                    .append('\n');
            lines.forEach(l -> b.append(l).append('\n'));
        }
        return b.toString();
    }

    private static String number(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return String.format(Locale.ROOT, "%.3f", v);
    }

    /** {@code {a="x",b="y"}} with the values escaped as the text format requires. */
    static String labels(String... pairs) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < pairs.length; i += 2) {
            if (i > 0) {
                b.append(',');
            }
            b.append(pairs[i]).append("=\"").append(escape(pairs[i + 1])).append('"');
        }
        return b.append('}').toString();
    }

    private static String escape(String v) {
        return (v == null ? "" : v).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
