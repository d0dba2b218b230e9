package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.postgres.ThrowawayCluster;
import com.jiffoo.backup.s3.S3Sink;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * {@link WalUploader} with a copy store (S3Proxy) that is down: no file gets its {@code .ok} while the copy lacks it,
 * the backlog stays visible (files, failing) and the {@code .error} names the copy; once the copy is back, the
 * backlog drains and the copy holds every file the store holds.
 */
class WalUploaderCopiesTest {
    @TempDir
    Path tmp;

    @Test
    void aCopyDownKeepsTheBacklogUntilEveryStoreHoldsTheFiles() throws Exception {
        Path s3data = tmp.resolve("s3");
        S3ProxyServer s3 = S3ProxyServer.startFilesystem(s3data);
        Path spool = Files.createDirectories(tmp.resolve("spool"));
        Path key = TestKeys.keyFile(tmp, "backup.key");
        try (ThrowawayCluster pg = ThrowawayCluster.withArchiving("false"); // only the uploader archives here
                Connection c = pg.connect();
                Statement st = c.createStatement();
                LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store"));
                Sink copy = S3Sink.builder()
                        .uri("s3://" + s3.bucket() + "/wal-copy")
                        .endpointOverride(s3.endpoint())
                        .pathStyleAccess(true)
                        .credentialsProvider(StaticCredentialsProvider.create(
                                AwsBasicCredentials.create(s3.accessKey(), s3.secretKey())))
                        .build()) {
            WalArchive archive = WalArchive.builder()
                    .sink(store)
                    .copy(copy)
                    .encryption(OpenPgpTransform.builder()
                            .passphrase(PassphraseKeyFile.read(key))
                            .build())
                    .build();
            st.execute("create table t (id int)");
            for (int i = 0; i < 2; i++) {
                st.execute("insert into t select generate_series(1, 1000)");
                st.execute("select pg_switch_wal()");
            }
            WalUploader uploader = WalUploader.builder()
                    .archive(archive)
                    .pgdata(pg.dataDirectory())
                    .spool(spool)
                    .poll(Duration.ofMillis(50))
                    .retryDelay(Duration.ofSeconds(1))
                    .build();
            int ready = uploader.backlog().files();
            assertThat(ready).isGreaterThanOrEqualTo(2);

            s3.close(); // the copy's region goes away
            Thread t = new Thread(uploader::run, "uploader");
            t.start();
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (uploader.backlog().failing() < ready && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                WalUploader.Backlog down = uploader.backlog();
                assertThat(down.files()).isEqualTo(ready);
                assertThat(down.failing()).isEqualTo(ready);
                try (var errors = Files.list(spool)) {
                    Path error = errors.filter(p -> p.toString().endsWith(WalUploader.ERROR))
                            .findFirst()
                            .orElseThrow();
                    assertThat(Files.readString(error)).contains("FAILED in the copy " + copy.location());
                }
                try (var oks = Files.list(spool)) {
                    assertThat(oks.filter(p -> p.toString().endsWith(WalUploader.OK)))
                            .isEmpty();
                }

                s3 = S3ProxyServer.restartFilesystem(s3data, s3); // back
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (uploader.backlog().files() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                assertThat(uploader.backlog().files()).isZero();
            } finally {
                uploader.stop();
                t.join(60_000);
            }
            // the copy holds every manifest the store holds
            Path copyRoot = s3data.resolve(s3.bucket()).resolve("wal-copy");
            try (var inStore = Files.walk(tmp.resolve("store").resolve("wal"));
                    var inCopy = Files.walk(copyRoot.resolve("wal"))) {
                assertThat(inCopy.filter(p -> p.toString().endsWith(".manifest.json"))
                                .map(p -> copyRoot.relativize(p).toString())
                                .sorted()
                                .toList())
                        .isEqualTo(inStore.filter(p -> p.toString().endsWith(".manifest.json"))
                                .map(p -> tmp.resolve("store").relativize(p).toString())
                                .sorted()
                                .toList())
                        .hasSizeGreaterThanOrEqualTo(ready);
            }
        } finally {
            s3.close();
        }
    }
}
