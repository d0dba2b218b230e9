package com.jiffoo.backup;

import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GeneratedSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BackupVerifierTest {
    @TempDir
    Path dir;

    @Test
    void quickAndDeepVerificationPassOnAGoodBackupAndCatchAFlippedByte() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        BackupManifest m = BackupPipeline.builder().source(new GeneratedSource("files", 1_000_000, 13)).sink(sink)
                .unencrypted().build().run();
        BackupVerifier verifier = BackupVerifier.builder().sink(sink).build();
        assertThat(verifier.verify(m.objectKey(), false).deep()).isFalse();
        assertThat(verifier.verify(m.objectKey(), true).deep()).isTrue();

        RestorePipelineTest.flipByte(dir.resolve(m.objectKey()), 999_999);
        assertThatThrownBy(() -> verifier.verify(m.objectKey(), false))
                .isInstanceOf(IntegrityException.class).hasMessageContaining("damaged");
        assertThatThrownBy(() -> verifier.verify(m.objectKey(), true))
                .isInstanceOf(IntegrityException.class).hasMessageContaining("does not match its manifest");
    }
}
