package com.jiffoo.backup.testing.s3;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.testing.SinkContractTest;
import com.jiffoo.backup.testing.StoreHealthContractTest;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The {@link SinkContractTest} and, nested, the {@link StoreHealthContractTest} for a sink on an in-process
 * {@link S3ProxyServer} (one per test class, objects in memory). A store module's test extends it by building its
 * sink for a server and a key prefix, with 5 MiB parts so that the large-object tests run in several parts:
 *
 * <pre>{@code
 * class S3SinkContractTest extends S3ProxyContractTest {
 *     protected Sink createSink(S3Endpoint server, String prefix) {
 *         return S3Sink.builder().uri("s3://" + server.bucket() + "/" + prefix)...partSize(5 << 20).build();
 *     }
 * }
 * }</pre>
 */
public abstract class S3ProxyContractTest extends SinkContractTest {
    /** The server of the class's tests. */
    @RegisterExtension
    protected static final S3ProxyServer.PerClass S3PROXY = S3ProxyServer.perClass();

    private static final AtomicInteger RUN = new AtomicInteger();
    private String prefix;

    /** A new, empty sink on {@code server} under {@code prefix}, with 5 MiB parts. */
    protected abstract Sink createSink(S3Endpoint server, String prefix) throws Exception;

    @Override
    protected final Sink createSink() throws Exception {
        prefix = "contract/run" + RUN.incrementAndGet();
        return createSink(S3PROXY.server(), prefix);
    }

    @Override
    protected long partSize() {
        return 5L << 20;
    }

    @Override
    protected List<String> openUploads() {
        return S3PROXY.server().openMultipartUploads().stream()
                .filter(k -> k.startsWith(prefix + "/"))
                .toList();
    }

    /** Retention, verification records and the monitor on the same kind of sink. */
    @Nested
    class StoreHealth extends StoreHealthContractTest {
        @Override
        protected Sink createSink() throws Exception {
            return S3ProxyContractTest.this.createSink(S3PROXY.server(), "health/run" + RUN.incrementAndGet());
        }
    }
}
