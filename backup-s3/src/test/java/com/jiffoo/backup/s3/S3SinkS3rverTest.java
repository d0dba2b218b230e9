package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.testing.s3.S3rverServer;
import com.jiffoo.backup.testutil.GeneratedSource;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;

/**
 * S3Sink against s3rver, an S3 server written independently of S3Proxy that does not decode {@code aws-chunked}
 * bodies: it stores their framing as data. With the settings an endpoint override gets by default a backup
 * round-trips; with the SDK's AWS defaults forced on, the pipeline's check after the upload catches the bad object.
 */
class S3SinkS3rverTest {
    private static final long MIB = 1 << 20;
    private static final AtomicInteger RUN = new AtomicInteger();

    @RegisterExtension
    static final S3rverServer.PerClass S3RVER = S3rverServer.perClass();

    @TempDir
    Path tmp;

    static S3Sink.Builder sinkAt(S3rverServer server, String prefix) {
        return S3SinkContractTest.sinkAt(server, prefix);
    }

    private OpenPgpTransform pgp() {
        Path key = tmp.resolve("backup.key");
        PassphraseKeyFile.generate(key);
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(key))
                .build();
    }

    @Test
    void anEncryptedBackupRoundTripsThroughTheEndpointDefaults() throws Exception {
        String prefix = "enc" + RUN.incrementAndGet();
        GeneratedSource source = new GeneratedSource("files", 6 * MIB + 3, 8);
        OpenPgpTransform pgp = pgp();
        try (S3Sink sink = sinkAt(S3RVER.server(), prefix).build()) {
            assertThat(sink.requestSettings()).contains("when_required", "chunked encoding off");
            BackupManifest m = BackupPipeline.builder()
                    .source(source)
                    .encryption(pgp)
                    .sink(sink)
                    .build()
                    .run();
            com.jiffoo.backup.testutil.MemoryTarget target = new com.jiffoo.backup.testutil.MemoryTarget();
            com.jiffoo.backup.RestorePipeline.builder()
                    .sink(sink)
                    .decryption(pgp)
                    .target(target)
                    .build()
                    .restore(m.objectKey());
            try (InputStream expected = source.stream()) {
                assertThat(Arrays.equals(target.committed(), expected.readAllBytes()))
                        .as("restored as sent")
                        .isTrue();
            }
        }
    }

    /** The failure: the SDK's AWS defaults (aws-chunked with checksum trailers) against this server. */
    @ParameterizedTest
    @ValueSource(longs = {100_000, 12 * MIB + 7})
    void withTheSdkAwsDefaultsForcedTheCheckCatchesTheStoredFramingAndNothingIsCommitted(long size) throws Exception {
        String prefix = "bad" + RUN.incrementAndGet();
        try (S3Sink sink = sinkAt(S3RVER.server(), prefix)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_SUPPORTED)
                .chunkedEncoding(true)
                .build()) {
            BackupPipeline pipeline = BackupPipeline.builder()
                    .source(new GeneratedSource("database", size, 6))
                    .unencrypted()
                    .sink(sink)
                    .build();
            S3RVER.server()
                    .assertStoredFramingIsCaught(
                            pipeline,
                            size,
                            prefix,
                            "chunk-signature=",
                            "requestChecksumCalculation(WHEN_REQUIRED)",
                            "chunkedEncoding(false)",
                            "S3_CHUNKED_ENCODING=false");
            assertThat(sink.list("")).extracting(StoredObject::key).isEmpty();
        }
    }
}
