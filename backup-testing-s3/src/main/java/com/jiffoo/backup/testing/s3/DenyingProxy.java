package com.jiffoo.backup.testing.s3;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A {@link LoopbackProxy} that answers the requests whose first line (e.g. {@code DELETE /bucket/key HTTP/1.1}) a
 * predicate picks with {@code 403 AccessDenied}, as a bucket policy that denies them would, and forwards the rest.
 * {@link #denied()} counts the requests it answered.
 *
 * <pre>{@code
 * try (DenyingProxy proxy = DenyingProxy.deletes(s3mock.port())) {
 *     // a sink on http://127.0.0.1:proxy.port(): credentials that may write but not delete
 * }
 * }</pre>
 */
public final class DenyingProxy extends LoopbackProxy {
    private final AtomicInteger denied = new AtomicInteger();
    private final Predicate<String> denies;

    /** Forwards to {@code targetPort} on 127.0.0.1, denying the requests whose first line {@code denies} picks. */
    public DenyingProxy(int targetPort, Predicate<String> denies) throws IOException {
        super(targetPort, "denying");
        this.denies = denies;
    }

    /** Denies every DELETE and multi-object delete: credentials that may write but not delete. */
    public static DenyingProxy deletes(int targetPort) throws IOException {
        return new DenyingProxy(
                targetPort, line -> line.startsWith("DELETE ") || line.matches("^POST [^ ]*\\?delete[ &=].*"));
    }

    /** How many requests were denied so far. */
    public int denied() {
        return denied.get();
    }

    @Override
    protected void serve(Socket client, Socket upstream) {
        start(() -> pump(client, upstream, (buf, n, in, out) -> deny(client, buf, n, out)), "deny-up");
        start(() -> pump(upstream, client), "deny-down");
    }

    private boolean deny(Socket client, byte[] buf, int n, OutputStream out) throws IOException {
        String text = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
        int eol = text.indexOf("\r\n");
        if (eol > 0 && denies.test(text.substring(0, eol))) {
            denied.incrementAndGet();
            String body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                    + "<Message>Access Denied</Message><RequestId>denied</RequestId></Error>";
            client.getOutputStream()
                    .write(("HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: "
                                    + body.length() + "\r\nConnection: close\r\n\r\n" + body)
                            .getBytes(StandardCharsets.ISO_8859_1));
            client.getOutputStream().flush();
            return false;
        }
        out.write(buf, 0, n);
        out.flush();
        return true;
    }
}
