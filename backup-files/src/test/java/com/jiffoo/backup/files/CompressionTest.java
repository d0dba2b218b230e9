package com.jiffoo.backup.files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.RestoreException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CompressionTest {
    private static final byte[] DATA =
            "a tar archive, or anything else\n".repeat(5000).getBytes(StandardCharsets.UTF_8);

    @ParameterizedTest
    @EnumSource(Compression.class)
    void whatOneCompressesIsRecognisedAndDecompressedOnAnyNumberOfThreads(Compression c) throws Exception {
        for (int threads : new int[] {1, 3}) {
            ByteArrayOutputStream packed = new ByteArrayOutputStream();
            try (OutputStream out = c.compress(packed, c.defaultLevel(), threads)) {
                out.write(DATA);
            }
            assertThat(Compression.detect(packed.toByteArray())).isEqualTo(c);
            ByteArrayInputStream source = new ByteArrayInputStream(packed.toByteArray());
            try (InputStream in = Compression.decompress(source)) {
                assertThat(in.readAllBytes()).isEqualTo(DATA);
            }
        }
    }

    @Test
    void shortOrUnknownHeadsArePlainAndAnEmptyStreamIsRefused() {
        assertThat(Compression.detect(new byte[] {0x1f})).isEqualTo(Compression.NONE);
        assertThat(Compression.detect(new byte[] {0x28, (byte) 0xb5, 0x2f})).isEqualTo(Compression.NONE);
        assertThat(Compression.detect("ustar".getBytes(StandardCharsets.US_ASCII)))
                .isEqualTo(Compression.NONE);
        assertThatThrownBy(() -> Compression.decompress(new ByteArrayInputStream(new byte[0])))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("empty");
    }
}
