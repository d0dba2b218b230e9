package com.jiffoo.backup.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on 127.0.0.1 in front of a local server that resets a connection after it forwarded {@code cutAfter}
 * bytes of an S3 part upload (a request whose line has {@code partNumber=}), {@code cuts} times (or always when
 * negative). Everything else passes. Threads are daemons; {@link #close()} stops accepting.
 */
final class CuttingProxy implements AutoCloseable {
    private static final byte[] MARK = "partNumber=".getBytes(StandardCharsets.US_ASCII);
    private final ServerSocket server;
    private final int targetPort;
    private final long cutAfter;
    private final AtomicInteger cutsLeft;
    private final boolean always;
    private final AtomicInteger cutsDone = new AtomicInteger();

    CuttingProxy(int targetPort, long cutAfter, int cuts) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetPort = targetPort;
        this.cutAfter = cutAfter;
        this.always = cuts < 0;
        this.cutsLeft = new AtomicInteger(cuts);
        Thread t = new Thread(this::acceptLoop, "cutting-proxy");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return server.getLocalPort();
    }

    int cutsDone() {
        return cutsDone.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket();
                upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5000);
                start(() -> pumpUp(client, upstream));
                start(() -> pump(upstream, client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void start(Runnable r) {
        Thread t = new Thread(r, "cutting-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    /** Client to server, watching for part uploads. */
    private void pumpUp(Socket client, Socket upstream) {
        byte[] buf = new byte[16 * 1024];
        int matched = 0;
        long sinceMark = -1; // bytes forwarded since a part request was seen, -1 when none is being cut
        try (InputStream in = client.getInputStream(); OutputStream out = upstream.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                for (int i = 0; i < n; i++) {
                    if (sinceMark < 0) {
                        matched = buf[i] == MARK[matched] ? matched + 1 : (buf[i] == MARK[0] ? 1 : 0);
                        if (matched == MARK.length) {
                            matched = 0;
                            if (always || cutsLeft.getAndDecrement() > 0) {
                                sinceMark = 0;
                            }
                        }
                    }
                }
                if (sinceMark >= 0) {
                    if (sinceMark + n >= cutAfter) {
                        out.write(buf, 0, (int) (cutAfter - sinceMark));
                        out.flush();
                        cutsDone.incrementAndGet();
                        reset(client);
                        reset(upstream);
                        return;
                    }
                    sinceMark += n;
                }
                out.write(buf, 0, n);
            }
        } catch (IOException e) {
            // the other side went away
        } finally {
            closeQuietly(client);
            closeQuietly(upstream);
        }
    }

    private static void pump(Socket from, Socket to) {
        byte[] buf = new byte[16 * 1024];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
            }
        } catch (IOException e) {
            // the other side went away
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
