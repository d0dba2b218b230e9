package com.jiffoo.backup.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.HealthReport;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.SlackNotifier;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalDirectoryStoreHealthTest extends StoreHealthContractTest {
    @TempDir
    Path dir;

    @Override
    protected Sink createSink() {
        return LocalDirectorySink.create(dir.resolve("store"));
    }

    /** This module's tests log through slf4j-simple to System.err, so the log line can be read here. */
    @Test
    void aFailedAlertIsLoggedWithoutTheWebhookUrl() throws Exception {
        try (Sink store = LocalDirectorySink.create(dir.resolve("other"))) {
            String url;
            try (WebhookServer slack = WebhookServer.start()) {
                url = slack.url();
            }
            PrintStream original = System.err;
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            HealthReport report;
            try {
                System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
                report = BackupMonitor.builder()
                        .sink(store)
                        .kinds("database")
                        .clock(MutableClock.at(Instant.parse("2026-01-11T02:00:00Z")))
                        .notifier(SlackNotifier.builder()
                                .webhookUrl(url)
                                .attempts(1)
                                .build())
                        .build()
                        .runHealthChecks();
            } finally {
                System.setErr(original);
            }
            assertEquals(HealthStatus.CRITICAL, report.status());
            String log = captured.toString(StandardCharsets.UTF_8);
            assertTrue(
                    log.contains("WARN")
                            && log.contains("could not send the CRITICAL alert through Slack webhook"
                                    + " (127.0.0.1): cannot reach"),
                    log);
            assertFalse(log.contains(WebhookServer.PATH), log);
        }
    }
}
