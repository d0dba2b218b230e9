package com.jiffoo.backup.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on 127.0.0.1 in front of a local server that records the head (request line and headers) of every
 * request it forwards and, when asked, lets the first multipart completion ({@code POST …?uploadId=}) reach the
 * server, then drops the server's answer and resets the client's connection: the client cannot know the completion
 * succeeded, and retries it.
 */
final class TappingProxy extends LoopbackProxy {
    private static final byte[] MARK = "POST ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] UPLOAD_ID = "?uploadId=".getBytes(StandardCharsets.US_ASCII);
    private final AtomicBoolean armed;
    private final java.util.List<String> heads = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicInteger answersLost = new AtomicInteger();

    TappingProxy(int targetPort, boolean loseFirstCompletionAnswer) throws IOException {
        super(targetPort, "tapping-proxy");
        this.armed = new AtomicBoolean(loseFirstCompletionAnswer);
    }

    int answersLost() {
        return answersLost.get();
    }

    /** The heads of the requests forwarded so far (lower-cased header names as sent). */
    java.util.List<String> requestHeads() {
        return heads;
    }

    @Override
    void serve(Socket client, Socket upstream) {
        AtomicBoolean dropNextAnswer = new AtomicBoolean();
        start(() -> pumpUp(client, upstream, dropNextAnswer), "tapping-proxy-up");
        start(() -> pumpDown(upstream, client, dropNextAnswer), "tapping-proxy-down");
    }

    /** Client to server: a POST whose request line has {@code ?uploadId=} marks this connection, once. */
    private void pumpUp(Socket client, Socket upstream, AtomicBoolean dropNextAnswer) {
        byte[] buf = new byte[16 * 1024];
        try (InputStream in = client.getInputStream(); OutputStream out = upstream.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                String text = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
                int end = text.indexOf("\r\n\r\n");
                if (end > 0 && text.matches("(?s)^(GET|PUT|POST|HEAD|DELETE) .*")) {
                    heads.add(text.substring(0, end));
                }
                if (armed.get() && startsWith(buf, n, MARK) && lineContains(buf, n, UPLOAD_ID)
                        && armed.compareAndSet(true, false)) {
                    dropNextAnswer.set(true);
                }
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // a side went away
        } finally {
            closeQuietly(client);
            closeQuietly(upstream);
        }
    }

    /** Server to client: a marked connection's answer is read from the server, then the client is reset. */
    private void pumpDown(Socket upstream, Socket client, AtomicBoolean dropNextAnswer) {
        byte[] buf = new byte[16 * 1024];
        try (InputStream in = upstream.getInputStream(); OutputStream out = client.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                if (dropNextAnswer.get()) {
                    answersLost.incrementAndGet();
                    reset(client);
                    closeQuietly(upstream);
                    return;
                }
                out.write(buf, 0, n);
            }
        } catch (IOException e) {
            // a side went away
        } finally {
            closeQuietly(client);
            closeQuietly(upstream);
        }
    }

    private static boolean startsWith(byte[] b, int n, byte[] prefix) {
        if (n < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (b[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static boolean lineContains(byte[] b, int n, byte[] needle) {
        int end = 0;
        while (end < n && b[end] != '\n') {
            end++;
        }
        outer:
        for (int i = 0; i + needle.length <= end; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (b[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
