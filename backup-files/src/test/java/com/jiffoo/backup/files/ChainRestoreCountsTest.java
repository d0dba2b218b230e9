package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restoring a chain reports what it applied (links, files, directories, deletions) and checks the final tree's file
 * count against the full file list the newest link's manifest records.
 */
class ChainRestoreCountsTest {
    @TempDir
    Path dir;

    private Path tree;
    private Path keyFile;
    private LocalDirectorySink store;
    private OpenPgpTransform pgp;
    private Instant now = Instant.parse("2026-03-01T00:00:00Z");

    @BeforeEach
    void setUp() throws Exception {
        tree = dir.resolve("uploads");
        TestTrees.createSampleTree(tree);
        keyFile = TestKeys.keyFile(dir, "backup.key");
        store = LocalDirectorySink.create(dir.resolve("store"));
        pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
    }

    private BackupManifest backUp() {
        now = now.plus(Duration.ofHours(1));
        FileChain.Plan plan = FileChain.policy().plan(StoredBackups.of(store).committed("files"), tree, now);
        return BackupPipeline.builder()
                .source(DirectorySource.builder(tree)
                        .compression(Compression.NONE)
                        .chain(plan.parent().orElse(null))
                        .build())
                .encryption(pgp)
                .sink(store)
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .build()
                .run();
    }

    private static long count(Path root, String type) {
        return Long.parseLong(
                sh(root, "find . -mindepth 1 -type " + type + " | wc -l").strip());
    }

    @Test
    void aChainRestoreCountsTheLinksTheFinalTreeAndTheDeletionsAndChecksTheFileList() throws Exception {
        backUp();
        sh(tree, "echo new > added.txt && mkdir -p d1/d2 && echo x > d1/d2/f && rm private.txt");
        backUp();
        sh(tree, "rm -r d1 && echo changed >> added.txt");
        BackupManifest newest = backUp();

        Path target = dir.resolve("restored");
        RestoreResult r = RestorePipeline.builder()
                .sink(store)
                .decryption(pgp)
                .target(DirectoryRestoreTarget.builder(target).build())
                .build()
                .restoreLatest("files");
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(tree));
        assertThat(r.facts().get("links")).isEqualTo(3L);
        assertThat(r.facts().get("files")).isEqualTo(count(tree, "f"));
        assertThat(r.facts().get("directories")).isEqualTo(count(tree, "d"));
        assertThat(r.facts().get("symlinks")).isEqualTo(count(tree, "l"));
        // private.txt by the second link; d1 (with d1/d2 and d1/d2/f inside: one entry) by the third
        assertThat(r.facts().get("deleted")).isEqualTo(2L);
        assertThat((String) r.facts().get("treeCheck"))
                .isEqualTo(count(tree, "f") + " files, as the file list of " + newest.id() + " records");
    }

    @Test
    void aLinkThatDoesNotHoldWhatItsManifestsFileListSaysIsAnIntegrityFailure() throws Exception {
        BackupManifest full = backUp();
        sh(tree, "echo one > one.txt");
        BackupManifest inc1 = backUp();
        sh(tree, "echo two > two.txt");
        BackupManifest inc2 = backUp();
        // the plaintext of each link, decrypted by gpg (no compression: the tar itself)
        Path gnupg = Files.createDirectories(dir.resolve("gnupg"));
        for (BackupManifest m : new BackupManifest[] {full, inc1}) {
            sh(
                    dir,
                    "gpg --homedir " + q(gnupg) + " --batch --quiet --pinentry-mode loopback --passphrase-file "
                            + q(keyFile) + " -d " + q(store.pathOf(m.objectKey())) + " > " + m.id() + ".tar");
        }
        Path target = dir.resolve("restored");
        DirectoryRestoreTarget t = DirectoryRestoreTarget.builder(target).build();
        StagedRestore staged;
        try (InputStream in = Files.newInputStream(dir.resolve(full.id() + ".tar"))) {
            staged = t.stage(in, full);
        }
        // the first increment's archive under the second's manifest: its file list records two.txt, which the
        // archive does not hold
        try (InputStream in = Files.newInputStream(dir.resolve(inc1.id() + ".tar"))) {
            assertThatThrownBy(() -> t.stageOnto(staged, in, inc2))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("The chain restored up to " + inc2.id() + " holds " + (count(tree, "f") - 1)
                            + " files, but the file list its manifest records has " + count(tree, "f"));
        }
        staged.close();
        assertThat(target).doesNotExist();
        // with its own manifest, the same archive passes
        StagedRestore again;
        try (InputStream in = Files.newInputStream(dir.resolve(full.id() + ".tar"))) {
            again = t.stage(in, full);
        }
        try (InputStream in = Files.newInputStream(dir.resolve(inc1.id() + ".tar"))) {
            assertThat(t.stageOnto(again, in, inc1).facts().get("treeCheck"))
                    .asString()
                    .contains(inc1.id());
        }
        again.close();
    }
}
