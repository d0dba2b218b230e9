package com.jiffoo.backup.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.monitor.Alert;
import com.jiffoo.backup.monitor.HealthStatus;
import com.jiffoo.backup.monitor.SlackNotifier;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class SlackNotifierTest {
    private static final Alert ALERT = new Alert(
            HealthStatus.WARNING,
            false,
            "jiffoo-backup WARNING: s3://b/p",
            List.of(
                    "database: WARNING — newest db_backup_20260111_020000, 3h 0m old",
                    "  database: <never> verified & co"),
            null);

    @Test
    void postsAReadableMessageAsJson() throws Exception {
        try (WebhookServer slack = WebhookServer.start()) {
            SlackNotifier n = SlackNotifier.builder()
                    .webhookUrl(slack.url())
                    .prefix("[prod] ")
                    .build();
            n.send(ALERT);
            JsonNode body = new ObjectMapper().readTree(slack.bodies().get(0));
            assertEquals(
                    ":large_yellow_circle: [prod] jiffoo-backup WARNING: s3://b/p",
                    body.get("text").asText());
            String details = body.get("blocks").get(1).get("text").get("text").asText();
            assertEquals(
                    "• database: WARNING — newest db_backup_20260111_020000, 3h 0m old\n"
                            + "    ◦ database: &lt;never&gt; verified &amp; co",
                    details);
        }
    }

    @Test
    void retriesServerErrorsButNotARevokedWebhook() throws Exception {
        try (WebhookServer slack = WebhookServer.start()) {
            SlackNotifier n = SlackNotifier.builder()
                    .webhookUrl(slack.url())
                    .backoff(Duration.ofMillis(5))
                    .build();
            slack.answer(503, 500);
            n.send(ALERT); // third attempt gets 200
            assertEquals(3, slack.bodies().size());

            slack.answer(404);
            IOException e = assertThrows(IOException.class, () -> n.send(ALERT));
            assertEquals(4, slack.bodies().size(), "a 404 is not retried");
            assertTrue(e.getMessage().contains("HTTP 404 (no_service)"), e.getMessage());
            assertFalse(e.getMessage().contains(WebhookServer.PATH), "the webhook URL is a secret");
        }
    }

    @Test
    void theWebhookUrlIsASecretAndMustUseHttps() {
        String secret = "http://hooks.slack.com/services/T1/B2/topsecret";
        ConfigurationException plain = assertThrows(
                ConfigurationException.class, () -> SlackNotifier.builder().webhookUrl(secret));
        assertTrue(plain.getMessage().contains("must travel over https"), plain.getMessage());
        assertFalse(plain.getMessage().contains("topsecret"));
        ConfigurationException garbage = assertThrows(
                ConfigurationException.class,
                () -> SlackNotifier.builder().webhookUrl("hooks.slack.com/services/topsecret"));
        assertFalse(garbage.getMessage().contains("topsecret"));
        assertThrows(ConfigurationException.class, () -> SlackNotifier.builder().webhookUrl(" "));

        SlackNotifier n = SlackNotifier.builder()
                .webhookUrl("https://hooks.slack.com/services/T1/B2/topsecret")
                .build();
        assertEquals("Slack webhook (hooks.slack.com)", n.describe());
        assertFalse(n.toString().contains("topsecret"));
    }

    @Test
    void aWebhookThatSendsHeadersAndThenStallsDoesNotHangTheMonitor() throws Exception {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.createContext("/services/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(200, 100); // promises 100 bytes of body, sends none
            try {
                done.await(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.close();
        });
        http.start();
        try {
            SlackNotifier n = SlackNotifier.builder()
                    .timeout(Duration.ofSeconds(1))
                    .attempts(1)
                    .webhookUrl("http://127.0.0.1:" + http.getAddress().getPort() + WebhookServer.PATH)
                    .build();
            IOException e = assertTimeoutPreemptively(
                    Duration.ofSeconds(10), () -> assertThrows(IOException.class, () -> n.send(ALERT)));
            assertFalse(e.getMessage().contains(WebhookServer.PATH), e.getMessage());
        } finally {
            done.countDown();
            http.stop(0);
        }
    }

    @Test
    void anErrorPageQuotingTheRequestedUrlDoesNotLeakTheWebhook() throws Exception {
        HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.createContext("/services/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            // what a web server's default 404 page (or a proxy's) says
            byte[] page = ("<h1>Not Found</h1><p>The requested URL "
                            + exchange.getRequestURI().getRawPath() + " was not found on this server.</p>")
                    .getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(404, page.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(page);
            }
        });
        http.start();
        try {
            SlackNotifier n = SlackNotifier.builder()
                    .attempts(1)
                    .webhookUrl("http://127.0.0.1:" + http.getAddress().getPort() + WebhookServer.PATH)
                    .build();
            IOException e = assertThrows(IOException.class, () -> n.send(ALERT));
            assertTrue(e.getMessage().contains("HTTP 404"), e.getMessage());
            assertFalse(e.getMessage().contains("s3cr3tW3bh00kT0k3n"), e.getMessage());
        } finally {
            http.stop(0);
        }
    }
}
