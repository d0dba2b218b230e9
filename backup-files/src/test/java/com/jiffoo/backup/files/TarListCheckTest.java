package com.jiffoo.backup.files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.StagedRestore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TarListCheckTest {
    @TempDir
    Path dir;

    private byte[] archive(Compression c) throws Exception {
        Path tree = dir.resolve("tree");
        TestTrees.createSampleTree(tree);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DirectorySource.builder(tree).compression(c).build().writeTo(out);
        return out.toByteArray();
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void readsEveryEntryOfAGoodArchiveAndWritesNothing(Compression c) throws Exception {
        byte[] tar = archive(c);
        try (StagedRestore staged = TarListCheck.create().stage(new ByteArrayInputStream(tar), null)) {
            assertThat((Long) staged.facts().get("entries")).isGreaterThan(5);
            assertThat((Long) staged.facts().get("files")).isGreaterThan(3);
        }
        assertThat(TestTrees.list(dir)).containsExactly("tree");
    }

    @ParameterizedTest
    @EnumSource(
            value = Compression.class,
            names = {"GZIP", "ZSTD"})
    void damagedCompressedDataIsAnIntegrityError(Compression c) throws Exception {
        byte[] tar = archive(c);
        tar[tar.length / 2] ^= 0x20;
        assertThatThrownBy(() -> TarListCheck.create().stage(new ByteArrayInputStream(tar), null))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("cannot be read");
    }

    @Test
    void truncatedArchiveIsAnIntegrityError() throws Exception {
        byte[] tar = archive(Compression.GZIP);
        byte[] cut = Arrays.copyOf(tar, tar.length / 2);
        assertThatThrownBy(() -> TarListCheck.create().stage(new ByteArrayInputStream(cut), null))
                .isInstanceOf(IntegrityException.class);
    }
}
