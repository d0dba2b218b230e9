package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.RestoreResult;
import com.jiffoo.backup.RetentionPolicy;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.retention.Pruner;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Chains of incremental file backups, with GNU tar as the referee: each link, decrypted by gpg and extracted in order
 * with {@code tar -x -g /dev/null}, must reproduce the tree as it was at that backup, deletions included.
 */
class IncrementalChainTest {
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

    /** One backup planned by the default policy, an hour after the previous one. */
    private BackupManifest backUp(Compression compression) {
        now = now.plus(Duration.ofHours(1));
        FileChain.Plan plan = FileChain.policy().plan(StoredBackups.of(store).committed("files"), tree, now);
        return BackupPipeline.builder()
                .source(DirectorySource.builder(tree)
                        .compression(compression)
                        .chain(plan.parent().orElse(null))
                        .build())
                .encryption(pgp)
                .sink(store)
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .build()
                .run();
    }

    /** Decrypts a link with gpg and applies it with GNU tar's incremental extraction, as docs/incremental.md says. */
    private void applyWithGnuTar(BackupManifest m, Compression compression, Path into) throws Exception {
        String decompress =
                compression == Compression.ZSTD ? " | zstd -d" : compression == Compression.GZIP ? " | gzip -d" : "";
        sh(
                dir,
                "set -o pipefail; gpg --homedir " + q(Files.createDirectories(dir.resolve("gnupg")))
                        + " --batch --quiet --pinentry-mode loopback --passphrase-file " + q(keyFile) + " -d "
                        + q(store.pathOf(m.objectKey())) + decompress + " | tar -x -g /dev/null -C " + q(into));
    }

    private RestorePipeline restoreInto(Path target) {
        return RestorePipeline.builder()
                .sink(store)
                .decryption(pgp)
                .target(DirectoryRestoreTarget.builder(target)
                        .replaceExisting(true)
                        .build())
                .build();
    }

    /** The changes between links: every kind the issue names. */
    private void change(int step) throws Exception {
        switch (step) {
            case 1 -> { // additions, a content change of the same size, a deletion
                Files.writeString(tree.resolve("new.txt"), "added");
                Files.createDirectories(tree.resolve("newdir/inner"));
                Files.writeString(tree.resolve("newdir/inner/x.bin"), "x".repeat(5000));
                byte[] secret = Files.readAllBytes(tree.resolve("private.txt"));
                secret[0] ^= 1;
                Files.write(tree.resolve("private.txt"), secret);
                Files.delete(tree.resolve("empty.txt"));
            }
            case 2 -> { // a rename of a file and of a directory, a mode change
                Files.move(tree.resolve("new.txt"), tree.resolve("renamed.txt"));
                Files.move(tree.resolve("newdir"), tree.resolve("moveddir"));
                Files.setPosixFilePermissions(
                        tree.resolve("private.txt"), PosixFilePermissions.fromString("rw-r-----"));
            }
            case 3 -> { // a directory replaced by a file, a file by a directory, a link changed
                sh(tree, "rm -r moveddir && echo now-a-file > moveddir");
                Files.delete(tree.resolve("renamed.txt"));
                Files.createDirectories(tree.resolve("renamed.txt/sub"));
                Files.writeString(tree.resolve("renamed.txt/sub/f"), "in a dir now");
                sh(tree, "for l in $(find . -type l | head -1); do rm \"$l\"; ln -s private.txt \"$l\"; done");
            }
            case 4 -> { // nothing changed
            }
            case 5 -> { // a whole subtree deleted, a file appended to
                sh(tree, "rm -rf renamed.txt && echo more >> private.txt");
            }
            default -> throw new IllegalArgumentException();
        }
    }

    @ParameterizedTest
    @EnumSource(
            value = Compression.class,
            names = {"GZIP", "ZSTD"})
    void gnuTarAppliesTheChainInOrderAndReproducesEveryState(Compression compression) throws Exception {
        Path byTar = Files.createDirectory(dir.resolve("by-tar"));
        Path ours = dir.resolve("ours");
        List<Map<String, String>> states = new ArrayList<>();
        List<BackupManifest> chain = new ArrayList<>();
        for (int step = 0; step <= 5; step++) {
            if (step > 0) {
                change(step);
            }
            BackupManifest m = backUp(compression);
            chain.add(m);
            assertThat(FileChain.level(m)).contains((long) step);
            applyWithGnuTar(m, compression, byTar);
            Map<String, String> expected = TestTrees.snapshot(tree);
            states.add(expected);
            assertThat(TestTrees.snapshot(byTar))
                    .as("GNU tar after link %d", step)
                    .isEqualTo(expected);
            RestoreResult r = restoreInto(ours).restoreLatest("files");
            assertThat(TestTrees.snapshot(ours))
                    .as("our restore of link %d", step)
                    .isEqualTo(expected);
            if (step > 0) {
                assertThat((List<?>) r.facts().get("chain")).hasSize(step + 1);
            }
        }
        // a restore drill of the newest increment restores its chain and checks the whole tree's count and bytes
        DrillReport drill = FilesDrill.builder()
                .source(DrillSource.of(store, pgp, StoredBackups.of(store).trust(), "files", null))
                .scratchParent(Files.createDirectories(dir.resolve("scratch")))
                .build()
                .run();
        assertThat(drill.passed()).as(drill.toString()).isTrue();
        // as of the time of link 2: the chain up to it
        Path asOf = dir.resolve("as-of");
        restoreInto(asOf).restoreAsOf("files", chain.get(2).completedAt().plusSeconds(60));
        assertThat(TestTrees.snapshot(asOf)).isEqualTo(states.get(2));
        // an increment holds only what changed: the unchanged step 4 stores no file at all
        assertThat(chain.get(4).sourceFacts()).containsEntry("fileCount", 0L);
        assertThat(((Number) chain.get(1).sourceFacts().get("fileCount")).longValue())
                .isEqualTo(3); // new.txt, x.bin, private.txt
        Map<?, ?> c = (Map<?, ?>) chain.get(3).sourceFacts().get(DirectorySource.CHAIN_FACT);
        assertThat(c.get("base")).isEqualTo(chain.get(0).id());
        assertThat(((Map<?, ?>) c.get("parent")).get("objectSha256"))
                .isEqualTo(chain.get(2).objectSha256());
        // the links of the newest backup, in order
        assertThat(com.jiffoo.backup.BackupChain.links(
                        chain.get(5), StoredBackups.of(store).committed("files")))
                .extracting(BackupManifest::id)
                .containsExactlyElementsOf(
                        chain.stream().map(BackupManifest::id).toList());
    }

    @Test
    void aDamagedLinkFailsTheRestoreNamingItAndLeavesTheTargetAlone() throws Exception {
        backUp(Compression.GZIP);
        Files.writeString(tree.resolve("a"), "1");
        BackupManifest inc1 = backUp(Compression.GZIP);
        Files.writeString(tree.resolve("b"), "2");
        backUp(Compression.GZIP);
        Path target = dir.resolve("restored");
        restoreInto(target).restoreLatest("files");
        Map<String, String> before = TestTrees.snapshot(target);
        BackupVerifier verifier = BackupVerifier.builder()
                .sink(store)
                .transforms(List.of(pgp))
                .innerCheck(TarListCheck.create())
                .build();
        BackupManifest latest = StoredBackups.of(store).latest("files").orElseThrow();
        verifier.verify(latest.objectKey(), true);
        // one byte of the middle link overwritten in place, as a failing disk would
        sh(dir, "printf 'X' | dd of=" + q(store.pathOf(inc1.objectKey())) + " bs=1 seek=200 conv=notrunc status=none");
        for (boolean deep : new boolean[] {false, true}) {
            assertThatThrownBy(() -> verifier.verify(latest.objectKey(), deep))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("chain of " + latest.id() + " is broken")
                    .hasMessageContaining(inc1.objectKey());
        }
        assertThatThrownBy(() -> restoreInto(target).restoreLatest("files"))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(inc1.objectKey());
        assertThat(TestTrees.snapshot(target)).isEqualTo(before);
    }

    @Test
    void pruneNeverLeavesAnIncrementWithoutItsBase() throws Exception {
        List<BackupManifest> first = new ArrayList<>();
        List<Map<String, String>> states = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Files.writeString(tree.resolve("f" + i), "v" + i);
            first.add(backUp(Compression.GZIP));
            states.add(TestTrees.snapshot(tree));
        }
        now = now.plus(Duration.ofDays(1)); // the next backup starts a new chain
        BackupManifest secondFull = backUp(Compression.GZIP);
        Files.writeString(tree.resolve("g"), "g");
        BackupManifest secondInc = backUp(Compression.GZIP);
        assertThat(FileChain.level(secondFull)).contains(0L);
        assertThat(FileChain.level(first.get(2))).contains(2L);

        // a policy that keeps only the newest backup and the second increment of the first chain
        String keptId = first.get(2).id();
        RetentionPolicy policy = (backups, clock) -> backups.stream()
                .map(b -> new RetentionPolicy.Verdict(
                        b, b.id().equals(keptId) || b.id().equals(secondInc.id()), "test rule"))
                .toList();
        Pruner.PruneReport report = Pruner.builder()
                .sink(store)
                .policy(policy)
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .build()
                .prune("files", false);
        // the links before each kept increment stay; only the first chain's last increment goes
        assertThat(report.deleted()).containsExactly(first.get(3).objectKey());
        assertThat(StoredBackups.of(store).committed("files"))
                .extracting(BackupManifest::id)
                .containsExactlyInAnyOrder(
                        first.get(0).id(), first.get(1).id(), first.get(2).id(), secondFull.id(), secondInc.id());
        Path target = dir.resolve("restored");
        restoreInto(target).restore(first.get(2).objectKey());
        assertThat(TestTrees.snapshot(target)).isEqualTo(states.get(2));
    }

    @Test
    void theArchiveCarriesGnuTarsDumpdirRecords() throws Exception {
        backUp(Compression.NONE);
        Files.writeString(tree.resolve("added.txt"), "a");
        Files.delete(tree.resolve("private.txt"));
        BackupManifest inc = backUp(Compression.NONE);
        Path plain = dir.resolve("inc.tar");
        sh(
                dir,
                "gpg --homedir " + q(Files.createDirectories(dir.resolve("gnupg")))
                        + " --batch --quiet --pinentry-mode loopback --passphrase-file " + q(keyFile) + " -o "
                        + q(plain) + " -d " + q(store.pathOf(inc.objectKey())));
        String listing = sh(dir, "tar --list --incremental --verbose --verbose -f " + q(plain));
        assertThat(listing).contains("Y added.txt").doesNotContain("private.txt");
        assertThat(listing).containsPattern("\\./\\n");
        assertThat(new String(Files.readAllBytes(plain), StandardCharsets.ISO_8859_1))
                .contains("GNU.dumpdir=");
    }

    @Test
    void theDefaultPolicyStartsAChainAndAFullOneAfterADayOrTwentyThreeIncrements() throws Exception {
        FileChain.Plan first = FileChain.policy().plan(List.of(), tree, now);
        assertThat(first.parent()).isEmpty();
        assertThat(first.reason()).contains("no earlier backup");
        BackupManifest full = backUp(Compression.NONE);
        BackupManifest inc = backUp(Compression.NONE);
        List<BackupManifest> committed = StoredBackups.of(store).committed("files");
        assertThat(FileChain.policy().plan(committed, tree, now).parent()).contains(inc);
        assertThat(FileChain.policy()
                        .plan(committed, tree, full.completedAt().plus(Duration.ofDays(1)))
                        .parent())
                .isEmpty();
        assertThat(FileChain.policy(1, Duration.ofDays(1))
                        .plan(committed, tree, now)
                        .parent())
                .isEmpty();
        assertThat(FileChain.policy().plan(committed, dir.resolve("other"), now).parent())
                .isEmpty();
    }

    @Test
    void aMissingOrReplacedLinkIsAClearErrorNamingIt() throws Exception {
        BackupManifest full = backUp(Compression.NONE);
        Files.writeString(tree.resolve("a"), "1");
        BackupManifest inc1 = backUp(Compression.NONE);
        Files.writeString(tree.resolve("b"), "2");
        BackupManifest inc2 = backUp(Compression.NONE);

        // the middle link deleted, as an operator would with rm
        sh(dir, "rm " + q(store.pathOf(inc1.manifestKey())));
        List<BackupManifest> committed = StoredBackups.of(store).committed("files");
        assertThatThrownBy(() -> com.jiffoo.backup.BackupChain.links(inc2, committed))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(inc1.id())
                .hasMessageContaining("broken");

        Path target = dir.resolve("restored");
        assertThatThrownBy(() -> restoreInto(target).restoreLatest("files"))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(inc1.id());
        assertThat(target).doesNotExist();

        // a different backup under the parent's name: the SHA-256 recorded by its successor differs
        BackupManifest forged = inc1.toBuilder()
                .object(inc1.objectKey(), inc1.objectSize(), "0".repeat(64))
                .build();
        assertThatThrownBy(() -> com.jiffoo.backup.BackupChain.links(inc2, List.of(inc2, forged, full)))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining(inc1.id())
                .hasMessageContaining("replaced");
    }

    @Test
    void aChainWithAMissingLinkIsNotBuiltOnTheNextBackupIsFullAndRestorable() throws Exception {
        backUp(Compression.GZIP);
        Files.writeString(tree.resolve("a"), "1");
        BackupManifest inc1 = backUp(Compression.GZIP);
        Files.writeString(tree.resolve("b"), "2");
        BackupManifest inc2 = backUp(Compression.GZIP);
        // the middle link's manifest deleted by hand, as an operator would with rm
        sh(dir, "rm " + q(store.pathOf(inc1.manifestKey())));

        Files.writeString(tree.resolve("c"), "3");
        FileChain.Plan plan =
                FileChain.policy().plan(StoredBackups.of(store).committed("files"), tree, now.plusSeconds(60));
        assertThat(plan.parent()).isEmpty();
        assertThat(plan.reason()).contains(inc2.id()).contains(inc1.id()).contains("full backup");

        BackupManifest next = backUp(Compression.GZIP);
        assertThat(FileChain.level(next)).contains(0L);
        Path target = dir.resolve("restored");
        restoreInto(target).restore(next.objectKey());
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(tree));
    }

    @Test
    void anIncrementGoesToCopiesOnlyWhenEveryOneHoldsItsParent() throws Exception {
        LocalDirectorySink copy = LocalDirectorySink.create(dir.resolve("copy"));
        List<com.jiffoo.backup.Sink> both = List.of(store, copy);
        java.util.function.Function<com.jiffoo.backup.Sink, List<BackupManifest>> committed =
                s -> StoredBackups.of(s).committed("files");
        backUp(Compression.GZIP); // the full backup, in the store only: the copy missed it
        Files.writeString(tree.resolve("a"), "1");
        BackupManifest inc1 = backUp(Compression.GZIP);

        FileChain.Plan storeOnly = FileChain.policy().plan(List.of(store), committed, tree, now);
        assertThat(storeOnly.parent()).contains(inc1);
        FileChain.Plan plan = FileChain.policy().plan(both, committed, tree, now);
        assertThat(plan.parent()).isEmpty();
        assertThat(plan.reason()).contains(copy.location()).contains(inc1.id()).contains("full backup");

        // the full backup it plans, written to both, restores from the copy alone
        BackupManifest full = BackupPipeline.builder()
                .source(DirectorySource.builder(tree).chain(null).build())
                .encryption(pgp)
                .sink(store)
                .copy(copy)
                .build()
                .run();
        assertThat(FileChain.level(full)).contains(0L);
        Files.writeString(tree.resolve("b"), "2");
        FileChain.Plan next = FileChain.policy().plan(both, committed, tree, now.plusSeconds(60));
        assertThat(next.parent()).map(BackupManifest::id).contains(full.id());
        Path target = dir.resolve("from-copy");
        RestorePipeline.builder()
                .sink(copy)
                .decryption(pgp)
                .target(DirectoryRestoreTarget.builder(target).build())
                .build()
                .restore(full.objectKey());
        assertThat(target.resolve("a")).hasContent("1");
    }

    @Test
    void whenTheStoreCannotBeListedTheCopiesGetAFullBackup() throws Exception {
        LocalDirectorySink copy = LocalDirectorySink.create(dir.resolve("copy"));
        backUp(Compression.GZIP);
        // the listing fails as StoredBackups reports an unreachable store (a local directory store cannot be made
        // to fail listing when the tests run as root)
        java.util.function.Function<com.jiffoo.backup.Sink, List<BackupManifest>> down = s -> {
            if (s == store) {
                throw new com.jiffoo.backup.StorageException("Cannot list files/", null, s.location(), null);
            }
            return StoredBackups.of(s).committed("files");
        };
        assertThatThrownBy(() -> FileChain.policy().plan(List.of(store), down, tree, now))
                .isInstanceOf(com.jiffoo.backup.StorageException.class);
        FileChain.Plan plan = FileChain.policy().plan(List.of(store, copy), down, tree, now);
        assertThat(plan.parent()).isEmpty();
        assertThat(plan.reason()).contains(store.location()).contains("cannot be listed");
    }
}
