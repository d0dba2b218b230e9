package com.jiffoo.backup.monitor;

import java.io.IOException;

/**
 * Where a {@link BackupMonitor} sends alerts: a Slack webhook ({@link SlackNotifier}), a mail gateway, a pager.
 *
 * <p>An implementation must be thread-safe, must not keep the caller waiting for long (bound its timeouts), and must
 * keep its secrets (webhook URLs, tokens) out of exceptions and {@link #describe()}. The monitor catches and logs
 * every failure of a notifier: a failed alert never stops a health check from returning its report.
 */
public interface Notifier {
    /** Sends nothing. */
    Notifier NONE = new Notifier() {
        @Override
        public void send(Alert alert) {}

        @Override
        public String describe() {
            return "none";
        }
    };

    /**
     * Delivers one alert.
     *
     * @throws IOException when it could not be delivered (the message must not contain secrets)
     */
    void send(Alert alert) throws IOException;

    /** A short, secret-free description for logs and reports, e.g. {@code Slack webhook (hooks.slack.com)}. */
    String describe();
}
