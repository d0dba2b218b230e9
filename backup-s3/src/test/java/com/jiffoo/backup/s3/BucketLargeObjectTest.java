package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.BucketRestoreTarget;
import com.jiffoo.backup.files.BucketSource;
import com.jiffoo.backup.files.Compression;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.ObjectBucket;
import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import java.io.InputStream;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One object over 1 GiB through {@code backup files --from} and {@code restore files --to}, against S3Proxy (objects
 * as files on disk): the content is generated as a stream (never held in memory) and the restored object's SHA-256
 * must be the source's. Slow (a minute or more on two cores): a class of its own, one server only (s3rver's multipart
 * uploads are covered by the store's tests; with it the class took over three minutes on a loaded machine).
 */
class BucketLargeObjectTest {
    /** 1 GiB and 1 byte, so that the last multipart part is a short one. */
    static final long SIZE = (1L << 30) + 1;

    @TempDir
    Path tmp;

    @Test
    void s3proxy() throws Exception {
        try (S3ProxyServer server = S3ProxyServer.startFilesystem(tmp.resolve("s3proxy"))) {
            roundTrip(server, "s3proxy");
        }
    }

    private void roundTrip(S3Endpoint server, String name) throws Exception {
        Path key = tmp.resolve("backup.key");
        if (!key.toFile().exists()) {
            PassphraseKeyFile.generate(key);
        }
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(key))
                .build();
        LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store-" + name));
        try (ObjectBucket source = BucketFilesContract.bucket(server, "large/src");
                ObjectBucket target = BucketFilesContract.bucket(server, "large/dst")) {
            long t0 = System.nanoTime();
            try (InputStream in = new Generated(SIZE, 42)) {
                source.put("videos/big.bin", in, SIZE, "video/mp4", Map.of("duration", "3600"));
            }
            String expected = sha256(new Generated(SIZE, 42));
            long t1 = System.nanoTime();
            BackupManifest m = BackupPipeline.builder()
                    .source(BucketSource.builder(source)
                            .compression(Compression.ZSTD)
                            .build())
                    .encryption(pgp)
                    .sink(store)
                    .build()
                    .run();
            long t2 = System.nanoTime();
            RestorePipeline.builder()
                    .sink(store)
                    .decryption(pgp)
                    .target(BucketRestoreTarget.builder(target).build())
                    .build()
                    .restore(m.objectKey());
            long t3 = System.nanoTime();
            ObjectBucket.Content back = target.get("videos/big.bin");
            assertThat(back.size()).isEqualTo(SIZE);
            assertThat(back.contentType()).isEqualTo("video/mp4");
            assertThat(back.metadata()).containsEntry("duration", "3600");
            assertThat(sha256(back.content())).isEqualTo(expected);
            System.out.printf(
                    "%s: 1 GiB object put %d ms, backup %d ms, restore %d ms, total with checks %d ms%n",
                    name,
                    (t1 - t0) / 1_000_000,
                    (t2 - t1) / 1_000_000,
                    (t3 - t2) / 1_000_000,
                    (System.nanoTime() - t0) / 1_000_000);
        }
    }

    static String sha256(InputStream in) throws Exception {
        try (in) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                sha.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(sha.digest());
        }
    }

    /** Pseudo-random bytes (xorshift), generated as they are read: {@code size} bytes, the same for a seed. */
    static final class Generated extends InputStream {
        private long left;
        private long state;

        Generated(long size, long seed) {
            this.left = size;
            this.state = seed * 0x9E3779B97F4A7C15L + 1;
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (left <= 0) {
                return -1;
            }
            int n = (int) Math.min(len, left);
            for (int i = 0; i < n; i++) {
                if ((i & 7) == 0) {
                    state ^= state << 13;
                    state ^= state >>> 7;
                    state ^= state << 17;
                }
                b[off + i] = (byte) (state >>> ((i & 7) * 8));
            }
            left -= n;
            return n;
        }
    }
}
