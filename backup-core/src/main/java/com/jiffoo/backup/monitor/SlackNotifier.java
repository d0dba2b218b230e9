package com.jiffoo.backup.monitor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.jiffoo.backup.ConfigurationException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Posts alerts to a Slack <a href="https://api.slack.com/messaging/webhooks">incoming webhook</a> with
 * {@code java.net.http}: a headline with the status and the store, then one line per kind and finding.
 *
 * <pre>{@code
 * Notifier slack = SlackNotifier.builder().webhookUrl(System.getenv("SLACK_WEBHOOK_URL")).build();
 * }</pre>
 *
 * <p>The webhook URL is a secret (whoever has it can post to the channel): it never appears in logs, exceptions,
 * {@link #describe()} or {@link #toString()}, which name only its host. It must be {@code https}, except on a
 * loopback address (tests, a local relay). Delivery is retried on connection failures, HTTP 429 and 5xx (3 attempts
 * by default, honouring {@code Retry-After} up to 30 s); any other answer than 2xx fails at once with Slack's short
 * error text (e.g. {@code no_service}, {@code invalid_token}). Thread-safe.
 */
public final class SlackNotifier implements Notifier {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final URI webhook;
    private final HttpClient client;
    private final Duration timeout;
    private final int attempts;
    private final Duration backoff;
    private final String prefix;

    private SlackNotifier(Builder b) {
        this.webhook = b.webhook;
        this.timeout = b.timeout;
        this.attempts = b.attempts;
        this.backoff = b.backoff;
        this.prefix = b.prefix;
        this.client = HttpClient.newBuilder()
                .connectTimeout(b.timeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void send(Alert alert) throws IOException {
        byte[] body = payload(alert);
        HttpRequest request = HttpRequest.newBuilder(webhook)
                .timeout(timeout)
                .header("Content-Type", "application/json; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        String last = null;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            Duration wait = backoff.multipliedBy(1L << (attempt - 1));
            HttpResponse<String> r;
            // the request timeout ends when the headers arrive; bound the whole exchange, body included
            CompletableFuture<HttpResponse<String>> pending =
                    client.sendAsync(request, HttpResponse.BodyHandlers.ofString());
            try {
                r = pending.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                pending.cancel(true);
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while posting to " + describe());
            } catch (ExecutionException | TimeoutException e) {
                pending.cancel(true);
                // the client's messages can quote the request URI: keep only the exception's type
                Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                r = null;
                last = "cannot reach " + describe() + " (" + cause.getClass().getSimpleName() + ")";
            }
            if (r != null) {
                int code = r.statusCode();
                if (code / 100 == 2) {
                    return;
                }
                String answer = clip(redact(r.body()));
                last = "Slack answered HTTP " + code + (answer.isEmpty() ? "" : " (" + answer + ")");
                if (code != 429 && code / 100 != 5) {
                    throw new IOException(last + " from " + describe() + "; check that the webhook URL is current"
                            + " (Slack's app settings, Incoming Webhooks).");
                }
                wait = r.headers()
                        .firstValue("Retry-After")
                        .map(SlackNotifier::seconds)
                        .map(s -> Duration.ofSeconds(Math.min(30, s)))
                        .orElse(wait);
            }
            if (attempt < attempts) {
                try {
                    Thread.sleep(wait.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while posting to " + describe());
                }
            }
        }
        throw new IOException(last + " after " + attempts + " attempts");
    }

    /** The JSON message Slack receives: {@code text} (shown in notifications) and {@code blocks} (the message). */
    byte[] payload(Alert alert) {
        String icon = alert.recovery()
                ? ":large_green_circle:"
                : switch (alert.status()) {
                    case OK -> ":large_green_circle:";
                    case WARNING -> ":large_yellow_circle:";
                    case CRITICAL -> ":red_circle:";
                };
        String headline = prefix + alert.title();
        StringBuilder details = new StringBuilder();
        for (String line : alert.lines()) {
            if (details.length() > 0) {
                details.append('\n');
            }
            details.append(line.startsWith("  ") ? "    ◦ " + escape(line.strip()) : "• " + escape(line));
        }
        ObjectNode root = MAPPER.createObjectNode();
        root.put("text", icon + " " + headline);
        ArrayNode blocks = root.putArray("blocks");
        ObjectNode head = blocks.addObject();
        head.put("type", "section");
        ObjectNode headText = head.putObject("text");
        headText.put("type", "mrkdwn");
        headText.put("text", icon + " *" + escape(headline) + "*");
        if (details.length() > 0) {
            ObjectNode section = blocks.addObject();
            section.put("type", "section");
            ObjectNode text = section.putObject("text");
            text.put("type", "mrkdwn");
            // Slack limits a section's text to 3000 characters
            text.put("text", details.length() > 2900 ? details.substring(0, 2900) + "\n…" : details.toString());
        }
        if (alert.report() != null) {
            ObjectNode context = blocks.addObject();
            context.put("type", "context");
            ObjectNode el = context.putArray("elements").addObject();
            el.put("type", "mrkdwn");
            el.put(
                    "text",
                    "checked " + alert.report().checkedAt() + " on "
                            + escape(alert.report().host()));
        }
        try {
            return MAPPER.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise a Slack message", e);
        }
    }

    @Override
    public String describe() {
        return "Slack webhook (" + webhook.getHost() + ")";
    }

    @Override
    public String toString() {
        return "SlackNotifier[" + webhook.getHost() + "]";
    }

    /** Slack's mrkdwn treats {@code & < >} as control characters. */
    private static String escape(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    /** An error page may quote the requested URL (a web server's or a proxy's 404): the path is the secret. */
    private String redact(String answer) {
        if (answer == null) {
            return null;
        }
        String out = answer;
        for (String secret : new String[] {webhook.getRawPath(), webhook.getPath()}) {
            if (secret != null && secret.length() > 1) {
                out = out.replace(secret, "…");
                String token = secret.substring(secret.lastIndexOf('/') + 1);
                if (!token.isEmpty()) {
                    out = out.replace(token, "…");
                }
            }
        }
        return out;
    }

    private static String clip(String body) {
        String s = body == null ? "" : body.strip().replaceAll("\\p{Cntrl}", " ");
        return s.length() > 200 ? s.substring(0, 200) + "…" : s;
    }

    private static Long seconds(String header) {
        try {
            return Math.max(0, Long.parseLong(header.trim()));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Builds a {@link SlackNotifier}. Not thread-safe. */
    public static final class Builder {
        private URI webhook;
        private Duration timeout = Duration.ofSeconds(10);
        private int attempts = 3;
        private Duration backoff = Duration.ofSeconds(1);
        private String prefix = "";

        private Builder() {}

        /**
         * The incoming webhook URL ({@code https://hooks.slack.com/services/...}, e.g. from SLACK_WEBHOOK_URL).
         * Required. Kept secret: errors about it never repeat it.
         *
         * @throws ConfigurationException when it is not an absolute https URL (http only on loopback)
         */
        public Builder webhookUrl(String url) {
            if (url == null || url.isBlank()) {
                throw new ConfigurationException("The Slack webhook URL is empty: set SLACK_WEBHOOK_URL to the"
                        + " incoming webhook's URL (https://hooks.slack.com/services/...).");
            }
            URI uri;
            try {
                uri = new URI(url.strip());
            } catch (URISyntaxException e) {
                throw new ConfigurationException("The Slack webhook URL is not a valid URL (not repeated here: it"
                        + " is a secret); copy it again from Slack's Incoming Webhooks page.");
            }
            return webhookUrl(uri);
        }

        /** The incoming webhook URL; see {@link #webhookUrl(String)}. */
        public Builder webhookUrl(URI url) {
            Objects.requireNonNull(url, "url");
            String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(java.util.Locale.ROOT);
            if (!url.isAbsolute() || url.getHost() == null || !(scheme.equals("https") || scheme.equals("http"))) {
                throw new ConfigurationException("The Slack webhook URL must be an absolute https URL"
                        + " (https://hooks.slack.com/services/...); the one given is not (not repeated here: it is a"
                        + " secret).");
            }
            if (scheme.equals("http") && !loopback(url.getHost())) {
                throw new ConfigurationException("The Slack webhook URL for " + url.getHost() + " uses http: the"
                        + " URL is a secret and must travel over https.");
            }
            this.webhook = url;
            return this;
        }

        /** Connect and request timeout per attempt; 10 s by default. */
        public Builder timeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout must be positive, got " + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /** Attempts per alert (1 = no retry); 3 by default. */
        public Builder attempts(int attempts) {
            if (attempts < 1 || attempts > 10) {
                throw new IllegalArgumentException("attempts must be 1..10, got " + attempts);
            }
            this.attempts = attempts;
            return this;
        }

        /** The wait before the first retry, doubled for each next one; 1 s by default. */
        public Builder backoff(Duration backoff) {
            this.backoff = Objects.requireNonNull(backoff, "backoff");
            return this;
        }

        /** Text put before every headline, e.g. {@code "[prod] "}. */
        public Builder prefix(String prefix) {
            this.prefix = Objects.requireNonNull(prefix, "prefix");
            return this;
        }

        /** Builds the notifier. */
        public SlackNotifier build() {
            if (webhook == null) {
                throw new ConfigurationException(
                        "A Slack notifier needs the webhook URL: set SLACK_WEBHOOK_URL" + " or call webhookUrl(...).");
            }
            return new SlackNotifier(this);
        }

        private static boolean loopback(String host) {
            try {
                String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
                return h.equalsIgnoreCase("localhost")
                        || InetAddress.getByName(h).isLoopbackAddress();
            } catch (UnknownHostException e) {
                return false;
            }
        }
    }
}
