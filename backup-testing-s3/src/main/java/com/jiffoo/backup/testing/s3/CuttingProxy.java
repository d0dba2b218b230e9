package com.jiffoo.backup.testing.s3;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on 127.0.0.1 in front of a local server that resets a connection after it forwarded {@code cutAfter}
 * bytes of an S3 part upload (a request whose line has {@code partNumber=}), {@code cuts} times (or always when
 * negative). Everything else passes. Threads are daemons; {@link #close()} stops accepting.
 */
public final class CuttingProxy extends LoopbackProxy {
    private static final byte[] MARK = "partNumber=".getBytes(StandardCharsets.US_ASCII);
    private final long cutAfter;
    private final AtomicInteger cutsLeft;
    private final boolean always;
    private final AtomicInteger cutsDone = new AtomicInteger();

    /**
     * A proxy to {@code targetPort} on 127.0.0.1 that cuts {@code cuts} part uploads (all when negative) after
     * {@code cutAfter} bytes.
     */
    public CuttingProxy(int targetPort, long cutAfter, int cuts) throws IOException {
        super(targetPort, "cutting-proxy");
        this.cutAfter = cutAfter;
        this.always = cuts < 0;
        this.cutsLeft = new AtomicInteger(cuts);
    }

    /** How many connections it has cut so far. */
    public int cutsDone() {
        return cutsDone.get();
    }

    @Override
    protected void serve(Socket client, Socket upstream) {
        start(() -> pump(client, upstream, new Cutter(client, upstream)), "cutting-proxy-up");
        start(() -> pump(upstream, client), "cutting-proxy-down");
    }

    /** Client to server on one connection, watching for part uploads. */
    private final class Cutter implements Chunks {
        private final Socket client;
        private final Socket upstream;
        private int matched;
        private long sinceMark = -1; // bytes forwarded since a part request was seen, -1 when none is being cut

        Cutter(Socket client, Socket upstream) {
            this.client = client;
            this.upstream = upstream;
        }

        @Override
        public boolean handle(byte[] buf, int n, InputStream in, OutputStream out) throws IOException {
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
                    return false;
                }
                sinceMark += n;
            }
            out.write(buf, 0, n);
            return true;
        }
    }
}
