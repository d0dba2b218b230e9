package com.jiffoo.backup.testing;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A local HTTP server on 127.0.0.1 that stands in for a Slack incoming webhook: it records the body of every POST to
 * {@link #url()} and answers {@code 200 ok}, or the statuses queued with {@link #answer(int...)} first.
 *
 * <pre>{@code
 * try (WebhookServer slack = WebhookServer.start()) {
 *     notifier = SlackNotifier.builder().webhookUrl(slack.url()).build();
 *     ...
 *     assertTrue(slack.bodies().get(0).contains("CRITICAL"));
 * }
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class WebhookServer implements AutoCloseable {
    /** The path of the fake webhook; it looks like Slack's and is a secret in the same way. */
    public static final String PATH = "/services/T000TEST/B000TEST/s3cr3tW3bh00kT0k3n";

    private final HttpServer server;
    private final ExecutorService executor;
    private final List<String> bodies = new ArrayList<>();
    private final Deque<Integer> answers = new ArrayDeque<>();

    private WebhookServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Starts a server on a free port of 127.0.0.1. */
    public static WebhookServer start() throws IOException {
        HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "webhook-server");
            t.setDaemon(true);
            return t;
        });
        WebhookServer s = new WebhookServer(http, executor);
        http.createContext(PATH, exchange -> {
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
                body = in.readAllBytes();
            }
            int status;
            synchronized (s) {
                if ("POST".equals(exchange.getRequestMethod())) {
                    s.bodies.add(new String(body, StandardCharsets.UTF_8));
                }
                Integer next = s.answers.poll();
                status = next == null ? 200 : next;
            }
            byte[] reply = (status == 200 ? "ok" : status == 404 ? "no_service" : "server_error")
                    .getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, reply.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(reply);
            }
        });
        http.setExecutor(executor);
        http.start();
        return s;
    }

    /** The webhook URL: {@code http://127.0.0.1:PORT/services/...}. */
    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + PATH;
    }

    /** Answers the next requests with these HTTP statuses, in order, then with 200 again. */
    public synchronized WebhookServer answer(int... statuses) {
        for (int s : statuses) {
            answers.add(s);
        }
        return this;
    }

    /** The bodies of the POSTs received so far (also those answered with an error), oldest first. */
    public synchronized List<String> bodies() {
        return List.copyOf(bodies);
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
