package com.jiffoo.backup.testing.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/**
 * A TCP proxy on 127.0.0.1 in front of a local server (an {@link S3ProxyServer}, say), for fault tests on the
 * connection: each accepted connection gets its own upstream connection, and the subclass decides how bytes flow
 * ({@link #serve}): {@link TappingProxy} records request heads, {@link CuttingProxy} resets part uploads. Clients
 * connect to {@code http://127.0.0.1:}{@link #port()}. Threads are daemons; {@link #close()} stops accepting.
 *
 * <pre>{@code
 * new LoopbackProxy(server.endpoint().getPort(), "my-proxy") {
 *     protected void serve(Socket client, Socket upstream) {
 *         start(() -> pump(client, upstream), "my-proxy-up");
 *         start(() -> pump(upstream, client), "my-proxy-down");
 *     }
 * };
 * }</pre>
 */
public abstract class LoopbackProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int targetPort;

    /** Listens on a free port of 127.0.0.1 for connections to forward to {@code targetPort}; threads named {@code name}. */
    protected LoopbackProxy(int targetPort, String name) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetPort = targetPort;
        start(this::acceptLoop, name);
    }

    /** The port clients connect to. */
    public final int port() {
        return server.getLocalPort();
    }

    /** Starts the pumps of one connection pair. */
    protected abstract void serve(Socket client, Socket upstream);

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket();
                upstream.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5000);
                serve(client, upstream);
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Runs {@code r} on a new daemon thread named {@code name}. */
    protected static void start(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

    /** Copies {@code from} to {@code to} until either side goes away, then closes both. */
    protected static void pump(Socket from, Socket to) {
        pump(from, to, (buf, n, in, out) -> {
            out.write(buf, 0, n);
            return true;
        });
    }

    /**
     * Hands what {@code from} sends, chunk by chunk, to {@code chunks}, which forwards it to {@code to} or not, until
     * either side goes away or {@code chunks} says stop; then closes both.
     */
    protected static void pump(Socket from, Socket to, Chunks chunks) {
        byte[] buf = new byte[16 * 1024];
        try (InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                if (!chunks.handle(buf, n, in, out)) {
                    return;
                }
            }
        } catch (IOException e) {
            // a side went away
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    /** What a proxy does with each chunk one side sends; see {@link #pump(Socket, Socket, Chunks)}. */
    @FunctionalInterface
    protected interface Chunks {
        /**
         * Handles the {@code n} bytes in {@code buf} read from {@code in}, usually by writing them to {@code out}.
         *
         * @return whether to go on; false closes both sides
         */
        boolean handle(byte[] buf, int n, InputStream in, OutputStream out) throws IOException;
    }

    /** Closes with a TCP reset, as a dropped connection looks to the peer. */
    protected static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** Closes {@code s}, ignoring a failure. */
    protected static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** Stops accepting connections; those accepted run on until a side goes away. */
    @Override
    public void close() throws IOException {
        server.close();
    }
}
