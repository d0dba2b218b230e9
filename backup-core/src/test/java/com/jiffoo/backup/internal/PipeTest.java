package com.jiffoo.backup.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.testutil.GeneratedSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class PipeTest {

    @Test
    void movesBytesBetweenThreadsUnchanged() throws Exception {
        Pipe pipe = new Pipe(4096, 2);
        long size = 5_000_123;
        Thread writer = new Thread(() -> {
            try (InputStream in = GeneratedSource.stream(size, 7);
                    OutputStream out = pipe.outputStream()) {
                byte[] b = new byte[999]; // neither a multiple of the chunk size nor of 8
                int n;
                while ((n = in.read(b)) > 0) {
                    out.write(b, 0, n);
                }
            } catch (IOException e) {
                pipe.fail(e);
            }
        });
        writer.start();
        MessageDigest got = Sha256.newDigest();
        long count = 0;
        try (InputStream in = pipe.inputStream()) {
            byte[] b = new byte[777];
            int n;
            while ((n = in.read(b)) >= 0) {
                got.update(b, 0, n);
                count += n;
            }
        }
        writer.join();
        MessageDigest want = Sha256.newDigest();
        try (InputStream in = GeneratedSource.stream(size, 7)) {
            want.update(in.readAllBytes());
        }
        assertThat(count).isEqualTo(size);
        assertThat(got.digest()).isEqualTo(want.digest());
    }

    @Test
    void writerFailureReachesTheReader() {
        Pipe pipe = new Pipe(4096, 2);
        pipe.fail(new IOException("disk on fire"));
        assertThatThrownBy(() -> pipe.inputStream().read(new byte[10]))
                .isInstanceOf(Pipe.WriterFailedException.class)
                .hasMessageContaining("disk on fire");
    }

    @Test
    void readerClosingEarlyStopsABlockedWriter() throws Exception {
        Pipe pipe = new Pipe(4096, 1);
        AtomicReference<Throwable> writerError = new AtomicReference<>();
        Thread writer = new Thread(() -> {
            try {
                OutputStream out = pipe.outputStream();
                byte[] b = new byte[4096];
                for (int i = 0; i < 1000; i++) {
                    out.write(b);
                }
            } catch (IOException e) {
                writerError.set(e);
            }
        });
        writer.start();
        pipe.inputStream().read(new byte[10]);
        pipe.closeReader();
        writer.join(10_000);
        assertThat(writer.isAlive()).isFalse();
        assertThat(Pipe.isReaderClosed(writerError.get())).isTrue();
    }
}
