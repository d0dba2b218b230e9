package com.jiffoo.backup.testing.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.BytesSource;
import com.jiffoo.backup.testing.SinkContractTest;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The {@link SinkContractTest} for a sink on s3rver (a second S3 implementation besides S3Proxy, which stores
 * bodies as sent; the class is skipped without node and npm), and a backup through the pipeline whose stored file
 * passes {@code sha256sum -c} of its sidecar. A store module's test extends it by building its sink for the server
 * and a key prefix, with 5 MiB parts.
 */
public abstract class S3rverContractTest extends SinkContractTest {
    /** The server of the class's tests. */
    @RegisterExtension
    protected static final S3rverServer.PerClass S3RVER = S3rverServer.perClass();

    private static final AtomicInteger RUN = new AtomicInteger();

    /** A new, empty sink on {@code server} under {@code prefix}, with 5 MiB parts. */
    protected abstract Sink createSink(S3Endpoint server, String prefix) throws Exception;

    @Override
    protected final Sink createSink() throws Exception {
        return createSink(S3RVER.server(), "contract/run" + RUN.incrementAndGet());
    }

    @Override
    protected long partSize() {
        return 5L << 20;
    }

    /** A single PUT and a multipart upload of three parts: read back as sent, stored as the sidecar says. */
    @Test
    void aBackupRoundTripsAndTheStoredFileMatchesItsSidecar() throws Exception {
        for (int size : new int[] {100_000, 3 * (5 << 20) - 7}) {
            String prefix = "rt" + RUN.incrementAndGet();
            BytesSource source = new BytesSource("files", size, size);
            try (Sink sink = createSink(S3RVER.server(), prefix)) {
                BackupManifest m = BackupPipeline.builder()
                        .source(source)
                        .unencrypted()
                        .sink(sink)
                        .build()
                        .run();
                try (InputStream in = sink.open(m.objectKey())) {
                    assertArrayEquals(source.bytes(), in.readAllBytes(), "read back as sent");
                }
                S3RVER.server().assertStoredAsCommitted(sink, prefix, m); // sha256sum -c on the file s3rver keeps
            }
        }
    }
}
