package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.StagedRestore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 item 10: a path that backs up must restore. A file whose absolute path is just inside PATH_MAX (4,096
 * bytes with its NUL) was backed up, but restoring it into a target of the same length failed with ENAMETOOLONG:
 * the staging directory's name ({@code .t.restore-<19 digits>}) made every path longer than under the target.
 */
class DeepTreeRestoreTest {
    private static final int PATH_MAX = 4096;

    @TempDir
    Path tmp;

    /** A file at {@code root/<rel>} whose absolute path is exactly PATH_MAX - 1 bytes, made with mkdir -p. */
    private static String deepFile(Path root) {
        int room = PATH_MAX - 1 - root.toString().length() - 1;
        StringBuilder dirs = new StringBuilder();
        while (room - dirs.length() > 200 + 1 + 200) {
            dirs.append("d".repeat(200)).append('/');
        }
        String rel = dirs + "f".repeat(room - dirs.length());
        sh(root, "mkdir -p " + q(Path.of(dirs.toString())) + " && printf deep > " + q(Path.of(rel)));
        assertThat(root.resolve(rel).toString()).hasSize(PATH_MAX - 1);
        return rel;
    }

    private byte[] backup(Path source) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DirectorySource.builder(source).compression(Compression.GZIP).build().writeTo(out);
        return out.toByteArray();
    }

    private static void restore(DirectoryRestoreTarget t, byte[] archive) throws IOException {
        try (StagedRestore staged = t.stage(new ByteArrayInputStream(archive), null)) {
            staged.commit();
        }
    }

    @Test
    void aTreeReachingPathMaxRestoresIntoATargetOfTheSameLength() throws IOException {
        Path source = Files.createDirectories(tmp.resolve("s"));
        String rel = deepFile(source);
        assertThat(rel.length()).isGreaterThan(4000);
        byte[] archive = backup(source);

        Path target = tmp.resolve("t");
        DirectoryRestoreTarget t =
                DirectoryRestoreTarget.builder(target).replaceExisting(true).build();
        restore(t, archive);
        assertThat(Files.readString(target.resolve(rel))).isEqualTo("deep");
        restore(t, archive); // again, replacing it: the old tree is moved aside and deleted, no longer either
        assertThat(Files.readString(target.resolve(rel))).isEqualTo("deep");
        assertThat(TestTrees.list(tmp)).containsExactlyInAnyOrder("s", "t");
    }

    /** In place, staging inside the target adds a few bytes to each path: said plainly, with what to do. */
    @Test
    void inPlaceAPathTooLongWhileStagedIsExplained() throws IOException {
        Path source = Files.createDirectories(tmp.resolve("s"));
        String rel = deepFile(source);
        byte[] archive = backup(source);
        Path target = Files.createDirectories(tmp.resolve("t"));
        Files.writeString(target.resolve("old.txt"), "old");
        assertThatThrownBy(() -> restore(
                        DirectoryRestoreTarget.builder(target)
                                .replaceExisting(true)
                                .inPlace(true)
                                .build(),
                        archive))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining(rel.substring(0, 50))
                .hasMessageContaining("too long")
                .hasMessageContaining("shorter");
        assertThat(TestTrees.list(target)).containsExactly("old.txt");
    }
}
