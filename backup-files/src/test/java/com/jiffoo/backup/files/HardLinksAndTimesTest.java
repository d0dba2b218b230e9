package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hard links and sub-second modification times, full backups and chains, with GNU tar as the referee: our archives
 * extracted by {@code gpg -d | tar -x} (and {@code tar -x -g /dev/null} for a chain) give the same inodes and the same
 * nanosecond times as the source; archives GNU tar made restore through our code with their links; hostile archives
 * made with GNU tar alone ({@code --transform} of hard-link targets, {@code --delete}) are refused and touch nothing
 * outside the target.
 */
class HardLinksAndTimesTest {
    @TempDir
    Path dir;

    private Path tree;
    private Path outside;
    private Path keyFile;
    private LocalDirectorySink store;
    private OpenPgpTransform pgp;
    private Instant now = Instant.parse("2026-03-01T00:00:00Z");

    @BeforeEach
    void setUp() throws Exception {
        tree = Files.createDirectories(dir.resolve("uploads"));
        outside = Files.createDirectories(dir.resolve("outside"));
        Files.writeString(outside.resolve("victim"), "do not touch\n");
        keyFile = TestKeys.keyFile(dir, "backup.key");
        store = LocalDirectorySink.create(dir.resolve("store"));
        pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
    }

    /** a.txt with two more names (sub/b.txt, sub/deeper/c.txt), d.txt with its other name outside the tree. */
    private void linkedTree() throws Exception {
        Files.createDirectories(tree.resolve("sub/deeper"));
        Files.writeString(tree.resolve("a.txt"), "shared content\n");
        Files.createLink(tree.resolve("sub/b.txt"), tree.resolve("a.txt"));
        Files.createLink(tree.resolve("sub/deeper/c.txt"), tree.resolve("a.txt"));
        Files.writeString(tree.resolve("d.txt"), "one name here, one outside\n");
        Files.createLink(dir.resolve("d-outside.txt"), tree.resolve("d.txt"));
        Files.writeString(tree.resolve("x.txt"), "alone\n");
        TestTrees.setTimes(tree); // nanosecond times, directories after their content
    }

    private BackupManifest backUp(boolean chain) {
        now = now.plus(Duration.ofHours(1));
        FileChain.Plan plan = FileChain.policy().plan(StoredBackups.of(store).committed("files"), tree, now);
        DirectorySource.Builder source = DirectorySource.builder(tree);
        if (chain) {
            source.chain(plan.parent().orElse(null));
        }
        return BackupPipeline.builder()
                .source(source.build())
                .encryption(pgp)
                .sink(store)
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .build()
                .run();
    }

    /** {@code gpg -d | tar -x} (with {@code -g /dev/null} for a link of a chain), as the runbook says. */
    private void extractWithGnuTar(BackupManifest m, Path into, boolean incremental) throws Exception {
        Files.createDirectories(into);
        sh(
                dir,
                "set -o pipefail; gpg --homedir " + q(Files.createDirectories(dir.resolve("gnupg")))
                        + " --batch --quiet --pinentry-mode loopback --passphrase-file " + q(keyFile) + " -d "
                        + q(store.pathOf(m.objectKey())) + " | tar -xz " + (incremental ? "-g /dev/null " : "")
                        + "-C " + q(into));
    }

    private void restoreWithOurs(Path into) {
        RestorePipeline.builder()
                .sink(store)
                .decryption(pgp)
                .target(DirectoryRestoreTarget.builder(into)
                        .replaceExisting(true)
                        .build())
                .build()
                .restoreLatest("files");
    }

    /** {@code stat -c '%h %y'} of each regular file, and which files share an inode, by GNU coreutils. */
    private static Map<String, String> stat(Path root) {
        Map<String, String> out = new TreeMap<>();
        String listing = sh(
                root, "find . -type f -printf '%P\\n' | sort | while read -r f; do stat -c '%n|%i|%h|%y' \"$f\"; done");
        Map<String, String> firstByInode = new TreeMap<>();
        for (String line : listing.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] p = line.split("\\|");
            String first = firstByInode.computeIfAbsent(p[1], k -> p[0]);
            out.put(p[0], "links " + p[2] + ", same file as " + first + ", mtime " + p[3]);
        }
        return out;
    }

    @Test
    void gnuTarAndOurRestoreGiveTheHardLinksAndNanosecondTimesOfTheSource() throws Exception {
        linkedTree();
        BackupManifest m = backUp(false);
        assertThat(m.sourceFacts())
                .containsEntry("fileCount", 5L)
                .containsEntry("hardLinks", 2L)
                .doesNotContainKey("hardLinksAsCopies");

        Path byTar = dir.resolve("by-tar");
        extractWithGnuTar(m, byTar, false);
        Map<String, String> source = stat(tree);
        assertThat(source.get("sub/b.txt")).startsWith("links 3, same file as a.txt, mtime ");
        // d.txt: its other name is outside the tree, so the restored file has one name
        Map<String, String> expected = new TreeMap<>(source);
        expected.put("d.txt", source.get("d.txt").replace("links 2", "links 1"));
        assertThat(stat(byTar)).isEqualTo(expected);
        assertThat(TestTrees.snapshot(byTar)).isEqualTo(TestTrees.snapshot(tree)); // directories' times too
        assertThat(sh(dir, "stat -c %y " + q(tree.resolve("sub")))).contains(".");

        Path ours = dir.resolve("ours");
        restoreWithOurs(ours);
        assertThat(stat(ours)).isEqualTo(expected);
        assertThat(TestTrees.snapshot(ours)).isEqualTo(TestTrees.snapshot(tree));
    }

    @Test
    void theArchiveHasHardLinkEntriesAndNineDecimalPaxTimes() throws Exception {
        linkedTree();
        BackupManifest m = backUp(false);
        Path plain = dir.resolve("plain.tar");
        sh(
                dir,
                "set -o pipefail; gpg --homedir " + q(Files.createDirectories(dir.resolve("gnupg")))
                        + " --batch --quiet --pinentry-mode loopback --passphrase-file " + q(keyFile) + " -d "
                        + q(store.pathOf(m.objectKey())) + " | gzip -d > " + q(plain));
        String listing = sh(dir, "tar --full-time -tvf " + q(plain));
        assertThat(listing)
                .containsPattern("(?m)^h.* sub/b\\.txt link to a\\.txt$")
                .containsPattern("(?m)^h.* sub/deeper/c\\.txt link to a\\.txt$");
        String expected = sh(tree, "stat -c %y a.txt").trim().substring(0, 29); // 2021-03-04 05:06:07.123456789
        assertThat(listing).contains(expected);
        assertThat(new String(Files.readAllBytes(plain), java.nio.charset.StandardCharsets.ISO_8859_1))
                .containsPattern("mtime=\\d+\\.\\d{9}\n");
    }

    @Test
    void anArchiveMadeByGnuTarRestoresWithItsLinksAndTimes() throws Exception {
        linkedTree();
        Path archive = dir.resolve("gnu.tar");
        sh(dir, "tar --format=posix -C " + q(tree) + " -cf " + q(archive) + " .");
        Path target = dir.resolve("restored");
        Map<String, Object> facts;
        try (StagedRestore staged = DirectoryRestoreTarget.builder(target)
                .build()
                .stage(new ByteArrayInputStream(Files.readAllBytes(archive)), null)) {
            staged.commit();
            facts = staged.facts();
        }
        assertThat(facts).containsEntry("hardLinks", 2L).containsEntry("files", 3L);
        assertThat(TestTrees.snapshot(target)).isEqualTo(TestTrees.snapshot(tree));
        assertThat(stat(target).get("sub/deeper/c.txt")).startsWith("links 3, same file as a.txt");
    }

    // ---- hostile archives, made with GNU tar alone

    /** A tar of {@code a} and its hard link {@code b}, whose link target GNU tar rewrites to {@code linkTarget}. */
    private Path hostile(String name, String linkTarget, String... before) throws Exception {
        Path src = Files.createDirectories(dir.resolve("hostile-src-" + name));
        Files.writeString(src.resolve("a"), "payload\n");
        Files.createLink(src.resolve("b"), src.resolve("a"));
        Path archive = dir.resolve(name + ".tar");
        sh(
                src,
                "tar --format=posix -P -cf " + q(archive) + " --transform='s,^a$," + linkTarget + ",SR' "
                        + String.join(" ", before) + " a b");
        return archive;
    }

    private void assertRefused(Path archive, boolean allowOutsideLinks, String... messageParts) throws Exception {
        Path target = Files.createDirectories(dir.resolve("target"));
        Files.writeString(target.resolve("keep.txt"), "old content\n");
        Map<String, String> before = TestTrees.snapshot(outside);
        byte[] bytes = Files.readAllBytes(archive);
        assertThatThrownBy(() -> DirectoryRestoreTarget.builder(target)
                        .replaceExisting(true)
                        .allowSymlinksOutsideTarget(allowOutsideLinks)
                        .build()
                        .stage(new ByteArrayInputStream(bytes), null))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("Refusing to restore entry")
                .message()
                .contains(messageParts);
        assertThat(TestTrees.snapshot(outside)).isEqualTo(before);
        assertThat(sh(outside, "stat -c %h victim").trim()).isEqualTo("1");
        assertThat(TestTrees.list(target)).containsExactly("keep.txt");
        assertThat(target.resolve("keep.txt")).hasContent("old content\n");
        assertThat(sh(target, "stat -c %h keep.txt").trim()).isEqualTo("1");
        assertThat(TestTrees.list(dir)).noneMatch(n -> n.startsWith("."));
    }

    @Test
    void aHardLinkToAPathAboveTheTargetIsRefused() throws Exception {
        Path archive = hostile("up", "../outside/victim");
        assertThat(sh(dir, "tar -tvPf " + q(archive))).contains("b link to ../outside/victim");
        assertRefused(archive, false, "\"b\"", "has a \"..\" component");
        assertRefused(hostile("updeep", "sub/../../outside/victim"), true, "\"b\"", "\"..\" component");
    }

    @Test
    void aHardLinkToAnAbsolutePathIsRefused() throws Exception {
        assertRefused(hostile("abs", outside.resolve("victim").toString()), true, "\"b\"", "is absolute");
    }

    @Test
    void aHardLinkThroughASymlinkExtractedEarlierIsRefused() throws Exception {
        Path src = Files.createDirectories(dir.resolve("hostile-src-through"));
        Files.createSymbolicLink(src.resolve("l"), outside);
        Path archive = dir.resolve("through.tar");
        Files.writeString(src.resolve("a"), "payload\n");
        Files.createLink(src.resolve("b"), src.resolve("a"));
        sh(src, "tar --format=posix -cf " + q(archive) + " --transform='s,^a$,l/victim,SR' l a b");
        assertThat(sh(dir, "tar -tvf " + q(archive)))
                .contains("l -> " + outside)
                .contains("b link to l/victim");
        // even with links outside allowed (the link l itself is then fine), nothing is linked through it
        assertRefused(archive, true, "\"b\"", "hard-link target \"l/victim\" is not a file extracted earlier");
        // by default the link l is refused first
        assertRefused(archive, false, "\"l\"", "outside the target");
    }

    @Test
    void aHardLinkToASymlinkIsRefused() throws Exception {
        Path src = Files.createDirectories(dir.resolve("hostile-src-tolink"));
        Files.createSymbolicLink(src.resolve("l"), outside.resolve("victim"));
        Files.writeString(src.resolve("a"), "payload\n");
        Files.createLink(src.resolve("b"), src.resolve("a"));
        Path archive = dir.resolve("tolink.tar");
        sh(src, "tar --format=posix -cf " + q(archive) + " --transform='s,^a$,l,SR' l a b");
        assertRefused(archive, true, "\"b\"", "hard-link target \"l\" is not a file extracted earlier");
    }

    @Test
    void aHardLinkToAFileTheArchiveDidNotExtractIsRefused() throws Exception {
        // keep.txt exists in the target being replaced, but this archive never extracted it
        Path archive = hostile("notours", "keep.txt");
        sh(dir, "tar --delete -f " + q(archive) + " a");
        assertThat(sh(dir, "tar -tvf " + q(archive)))
                .contains("b link to keep.txt")
                .doesNotContain(" a\n");
        assertRefused(archive, false, "\"b\"", "hard-link target \"keep.txt\" is not a file extracted earlier");
    }

    // ---- chains

    private void checkLink(BackupManifest m, Path byTar, Path ours, String what) throws Exception {
        extractWithGnuTar(m, byTar, true);
        restoreWithOurs(ours);
        assertThat(TestTrees.snapshot(byTar)).as("GNU tar, " + what).isEqualTo(TestTrees.snapshot(tree));
        assertThat(TestTrees.snapshot(ours)).as("ours, " + what).isEqualTo(TestTrees.snapshot(tree));
    }

    @Test
    void aChainWhereAHardLinkedFileChangesRestoresWithGnuTarAndOurs() throws Exception {
        linkedTree();
        Path byTar = dir.resolve("by-tar");
        Path ours = dir.resolve("ours");
        checkLink(backUp(true), byTar, ours, "full");

        // the content changes through one name (same inode): every name is in the increment, the later as links
        Files.writeString(tree.resolve("sub/b.txt"), "changed content, longer\n");
        BackupManifest inc1 = backUp(true);
        assertThat(inc1.sourceFacts()).containsEntry("fileCount", 3L).containsEntry("hardLinks", 2L);
        checkLink(inc1, byTar, ours, "content changed through a link");

        // a fourth name: the inode's ctime changes, so all names are stored again
        Files.createLink(tree.resolve("e.txt"), tree.resolve("a.txt"));
        BackupManifest inc2 = backUp(true);
        assertThat(inc2.sourceFacts()).containsEntry("hardLinks", 3L);
        checkLink(inc2, byTar, ours, "a name added");

        // a change within the same second (the same size, the mtime's fraction only): noticed
        Path x = tree.resolve("x.txt");
        FileTime t = Files.getLastModifiedTime(x);
        Files.writeString(x, "ALONE\n");
        Files.setLastModifiedTime(x, FileTime.from(t.toInstant().plusNanos(1)));
        BackupManifest inc3 = backUp(true);
        assertThat(inc3.sourceFacts()).containsEntry("fileCount", 1L);
        checkLink(inc3, byTar, ours, "a change within the second");

        // a name removed: the others' ctime changes, they are stored again, still linked
        Files.delete(tree.resolve("sub/deeper/c.txt"));
        checkLink(backUp(true), byTar, ours, "a name removed");
    }

    @Test
    void aNameStoredWithoutItsFirstNameIsStoredAsDataLikeGnuTarDoes() throws Exception {
        linkedTree();
        Path byTar = dir.resolve("by-tar");
        Path ours = dir.resolve("ours");
        checkLink(backUp(true), byTar, ours, "full");
        // renaming the directory moves sub/b.txt to a new path without touching the inode: moved/b.txt is in the
        // increment, a.txt (its first name) is not; GNU tar stores such a name with its data, and so do we
        Files.move(tree.resolve("sub"), tree.resolve("moved"));
        BackupManifest inc = backUp(true);
        assertThat(inc.sourceFacts()).containsEntry("hardLinks", 1L); // moved/deeper/c.txt -> moved/b.txt
        extractWithGnuTar(inc, byTar, true);
        restoreWithOurs(ours);
        for (Path restored : List.of(byTar, ours)) {
            assertThat(TestTrees.snapshot(restored)).isEqualTo(withoutLinks(TestTrees.snapshot(tree), restored));
            assertThat(Files.isSameFile(restored.resolve("a.txt"), restored.resolve("moved/b.txt")))
                    .isFalse();
            assertThat(restored.resolve("moved/b.txt")).hasSameTextualContentAs(tree.resolve("a.txt"));
        }
        // the next change of the file stores every name again: linked once more
        Files.writeString(tree.resolve("a.txt"), "changed\n");
        checkLink(backUp(true), byTar, ours, "changed after the rename");
    }

    /** The snapshot of the source as a restore that split a.txt from moved/… has it: links as in the restore. */
    private static Map<String, String> withoutLinks(Map<String, String> source, Path restored) throws Exception {
        Map<String, String> ours = TestTrees.snapshot(restored);
        Map<String, String> out = new TreeMap<>();
        source.forEach((k, v) -> {
            String own = ours.getOrDefault(k, "");
            int i = v.indexOf(" links [");
            String base = i < 0 ? v : v.substring(0, i) + v.substring(v.indexOf(']', i) + 1);
            int j = own.indexOf(" links [");
            out.put(k, j < 0 ? base : base.replace(" @", own.substring(j, own.indexOf(']', j) + 1) + " @"));
        });
        return out;
    }

    // ---- a directory with very many names

    /**
     * A directory of 25,000 long names: its listing (GNU.dumpdir, 1.5 MB) was refused by the former 1 MiB header limit
     * (25,000 rather than 100,000 names keeps the test's time down; the limit is the same).
     * Slow on a loaded machine (100,000 files created and extracted three times): about a minute.
     */
    @Test
    void aDirectoryWhoseListingIsOver1MiBWorksInAnIncrementAndAnOverLimitListingIsAClearError() throws Exception {
        Path big = Files.createDirectories(tree.resolve("big"));
        sh(big, "seq -f 'upload-with-a-much-longer-name-for-the-listing-%06g.bin' 0 24999 | xargs touch");
        Thread.sleep(2100); // the full backup two seconds after the files (change detection compares with its start)
        now = Instant.now().minus(Duration.ofHours(1));
        backUp(true);
        Files.writeString(big.resolve("one-more.bin"), "new");
        BackupManifest inc = backUp(true);
        assertThat(inc.sourceFacts()).containsEntry("fileCount", 1L);
        Path byTar = dir.resolve("by-tar");
        Path ours = dir.resolve("ours");
        List<BackupManifest> newestFirst = StoredBackups.of(store).committed("files");
        for (int i = newestFirst.size() - 1; i >= 0; i--) {
            extractWithGnuTar(newestFirst.get(i), byTar, true);
        }
        restoreWithOurs(ours); // the listing of big/ is 1.5 MB: over the former 1 MiB, within the 8 MiB default
        String listing = "cd big && find . | sort | md5sum";
        assertThat(sh(ours, listing)).isEqualTo(sh(tree, listing)).isEqualTo(sh(byTar, listing));
        assertThat(TestTrees.list(ours.resolve("big"))).hasSize(25_001);
        assertThat(ours.resolve("big/one-more.bin")).hasContent("new");

        // bounded by the configuration: with a 1 MiB limit the same chain is refused, saying what to set
        System.setProperty(BoundedTarInputStream.MAX_PAX_PROPERTY, String.valueOf(1 << 20));
        try {
            Path refused = dir.resolve("refused");
            Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> restoreWithOurs(refused));
            while (thrown != null && !(thrown instanceof IntegrityException)) {
                thrown = thrown.getCause();
            }
            assertThat(thrown)
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("the limit is 1048576 bytes")
                    .hasMessageContaining("GNU.dumpdir")
                    .hasMessageContaining("-Djiffoo.tar.maxPaxHeaderBytes=");
            assertThat(refused).doesNotExist();
        } finally {
            System.clearProperty(BoundedTarInputStream.MAX_PAX_PROPERTY);
        }
    }

    /** The lookup of a listing's names: every name found with its flag, absent ones not, duplicates: the later. */
    @Test
    void theDumpdirIndexFindsEveryName() {
        StringBuilder record = new StringBuilder();
        for (int i = 99_999; i >= 0; i--) {
            record.append(i % 3 == 0 ? 'D' : 'Y').append("name-").append(i).append('\0');
        }
        record.append("Nname-7\0").append("Y\0").append('\0'); // a duplicate, an empty name, the end
        TarExtraction.Dumpdir d = new TarExtraction.Dumpdir(record.toString());
        for (int i = 0; i < 100_000; i++) {
            assertThat(d.flag("name-" + i)).isEqualTo(i == 7 ? 'N' : i % 3 == 0 ? 'D' : 'Y');
        }
        assertThat((int) d.flag("name-100000")).isZero();
        assertThat((int) d.flag("name-")).isZero();
        assertThat((int) d.flag("")).isZero();
        assertThat((int) new TarExtraction.Dumpdir("").flag("x")).isZero();
        assertThat(new TarExtraction.Dumpdir("Yunterminated").flag("unterminated"))
                .isEqualTo('Y');
    }
}
