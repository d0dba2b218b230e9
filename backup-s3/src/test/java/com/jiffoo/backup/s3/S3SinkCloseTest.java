package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.testing.s3.LoopbackProxy;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** Closing the sink while writers wait for part uploads must end them, not hang them (a review finding). */
class S3SinkCloseTest {

    /** Forwards everything but part uploads, which it holds: never forwarded, never answered. */
    static final class StallParts extends LoopbackProxy {
        StallParts(int port) throws IOException {
            super(port, "stall-parts");
        }

        @Override
        protected void serve(Socket client, Socket upstream) {
            start(
                    () -> pump(client, upstream, (buf, n, in, out) -> {
                        String t = new String(buf, 0, n, StandardCharsets.ISO_8859_1);
                        int eol = t.indexOf("\r\n");
                        if (t.startsWith("PUT ")
                                && eol > 0
                                && t.substring(0, eol).contains("partNumber=")) {
                            in.transferTo(OutputStream.nullOutputStream()); // swallow it until the client gives up
                            return false;
                        }
                        out.write(buf, 0, n);
                        out.flush();
                        return true;
                    }),
                    "stall-parts-up");
            start(() -> pump(upstream, client), "stall-parts-down");
        }
    }

    @Test
    void closingTheSinkEndsWritersWaitingForPartsAndAbortsTheirUploads() throws Exception {
        try (S3ProxyServer server = S3ProxyServer.startTransient();
                StallParts proxy = new StallParts(server.endpoint().getPort())) {
            S3Sink sink = S3Sink.builder()
                    .uri("s3://" + server.bucket() + "/closing")
                    .endpointOverride(URI.create("http://127.0.0.1:" + proxy.port()))
                    .pathStyleAccess(true)
                    .credentialsProvider(StaticCredentialsProvider.create(
                            AwsBasicCredentials.create(server.accessKey(), server.secretKey())))
                    .partSize(S3Sink.MIN_PART_SIZE)
                    .partsInFlight(2)
                    .maxAttempts(1)
                    .build();
            List<Throwable> ended = new CopyOnWriteArrayList<>();
            Thread[] writers = new Thread[2];
            for (int w = 0; w < writers.length; w++) {
                int id = w;
                writers[w] = new Thread(
                        () -> {
                            try (SinkOutput out = sink.create("obj" + id)) {
                                byte[] chunk = new byte[64 * 1024];
                                for (long done = 0; done < 4 * S3Sink.MIN_PART_SIZE; done += chunk.length) {
                                    out.write(chunk);
                                }
                                out.commit();
                            } catch (Throwable t) {
                                ended.add(t);
                            }
                        },
                        "writer-" + w);
                writers[w].setDaemon(true);
                writers[w].start();
            }
            Thread.sleep(3000); // both writers now wait for their held parts
            sink.close();
            for (Thread t : writers) {
                t.join(60_000);
                assertThat(t.isAlive())
                        .as(t.getName() + " still waiting after close")
                        .isFalse();
            }
            assertThat(ended).hasSize(2);
            assertThat(server.openMultipartUploads()).noneMatch(k -> k.startsWith("closing/"));
        }
    }
}
