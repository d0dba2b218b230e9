package com.jiffoo.backup.testing.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on 127.0.0.1 in front of a local server that records the head (request line and headers) of every
 * request it forwards.
 */
public final class TappingProxy extends LoopbackProxy {
    private final List<String> heads = new CopyOnWriteArrayList<>();

    /** A proxy to {@code targetPort} on 127.0.0.1. */
    public TappingProxy(int targetPort) throws IOException {
        super(targetPort, "tapping-proxy");
    }

    /** The heads of the requests forwarded so far (lower-cased header names as sent). */
    public List<String> requestHeads() {
        return heads;
    }

    @Override
    protected void serve(Socket client, Socket upstream) {
        start(() -> pump(client, upstream, this::tap), "tapping-proxy-up");
        start(() -> pump(upstream, client), "tapping-proxy-down");
    }

    private boolean tap(byte[] buf, int n, InputStream in, OutputStream out) throws IOException {
        String text = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        if (end > 0 && text.matches("(?s)^(GET|PUT|POST|HEAD|DELETE) .*")) {
            heads.add(text.substring(0, end));
        }
        out.write(buf, 0, n);
        out.flush();
        return true;
    }
}
