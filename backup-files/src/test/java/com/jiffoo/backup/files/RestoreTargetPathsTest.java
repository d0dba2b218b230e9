package com.jiffoo.backup.files;

import static com.jiffoo.backup.files.TestTrees.q;
import static com.jiffoo.backup.files.TestTrees.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.StagedRestore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 item 6: a restore never writes or deletes through a path another user controls. The hostile paths are
 * made as another user ({@code runuser -u nobody}) where the test runs as root, as CI does; tests that need another
 * user are skipped otherwise.
 */
class RestoreTargetPathsTest {
    @TempDir
    Path tmp;

    private byte[] archive;

    @BeforeEach
    void setUp() throws IOException {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x")); // nobody may look in
        Path source = tmp.resolve("source");
        Files.createDirectories(source);
        Files.writeString(source.resolve("restored.txt"), "from the backup\n");
        archive = Files.readAllBytes(Path.of(
                sh(tmp, "tar -C " + q(source) + " -czf backup.tar.gz . && echo " + q(tmp.resolve("backup.tar.gz")))
                        .trim()));
    }

    private static boolean root() {
        return sh(Path.of("/"), "id -u").trim().equals("0");
    }

    /** Runs a shell command as user nobody (needs root). */
    private void asNobody(String script) {
        sh(tmp, "runuser -u nobody -- bash -c " + q(Path.of(script)));
    }

    private Map<String, Object> restore(DirectoryRestoreTarget t) throws IOException {
        try (StagedRestore staged = t.stage(new ByteArrayInputStream(archive), null)) {
            staged.commit();
            return staged.facts();
        }
    }

    private static DirectoryRestoreTarget replacing(Path target) {
        return DirectoryRestoreTarget.builder(target).replaceExisting(true).build();
    }

    private Path dir(String name, String mode) throws IOException {
        Path d = Files.createDirectories(tmp.resolve(name));
        sh(tmp, "chmod " + mode + " " + q(d));
        return d;
    }

    /** Restoring into {@code target} is refused with a message containing {@code part}. */
    private void assertRefused(Path target, String part) {
        assertThatThrownBy(() -> restore(replacing(target)))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining(part);
    }

    /** The reported attack: /tmp/T, a link planted by another user to a root-only directory, restored with --replace. */
    @Test
    void aTargetThatIsASymlinkPlantedByAnotherUserIsRefusedNamingTheRealPath() throws IOException {
        Path shared = dir("shared", "1777");
        Path secret = dir("secret", "700");
        Files.writeString(secret.resolve("keep.txt"), "root's data\n");
        Path link = shared.resolve("T");
        if (root()) {
            asNobody("ln -s " + secret + " " + link);
            assertThat(sh(tmp, "stat -c %U " + q(link)).trim()).isEqualTo("nobody");
        } else {
            Files.createSymbolicLink(link, secret);
        }
        assertThatThrownBy(() -> restore(replacing(link)))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining("symbolic link")
                .hasMessageContaining(secret.toString())
                .hasMessageContaining("restore into the real path");
        assertThat(TestTrees.list(secret)).containsExactly("keep.txt");
        assertThat(Files.readString(secret.resolve("keep.txt"))).isEqualTo("root's data\n");
        assertThat(TestTrees.list(shared)).containsExactly("T");
    }

    @Test
    void aTargetInADirectoryWritableByOthersWithoutTheStickyBitIsRefused() throws IOException {
        Path open = dir("open", "777");
        Path target = open.resolve("T");
        assertThatThrownBy(() -> restore(replacing(target)))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining(open + " is writable by others")
                .hasMessageContaining("chmod o-w,g-w");
        assertThat(TestTrees.list(open)).isEmpty();

        Path below = Files.createDirectories(open.resolve("sub/deeper"));
        assertRefused(below.resolve("T"), open + " is writable by others");
        assertThat(TestTrees.list(below)).isEmpty();
    }

    @Test
    void aTargetInADirectoryWritableByAnotherGroupIsRefused() throws IOException {
        Assumptions.assumeTrue(root(), "changing a directory's group to one we are not in needs root");
        Path groupOpen = dir("group-open", "775");
        sh(tmp, "chgrp nogroup " + q(groupOpen));
        assertRefused(groupOpen.resolve("T"), groupOpen + " is writable by others (group nogroup");
    }

    @Test
    void aTargetOrAncestorOwnedByAnotherUserIsRefused() throws IOException {
        Assumptions.assumeTrue(root(), "a directory owned by another user needs root");
        Path shared = dir("shared", "1777");
        asNobody("mkdir " + shared.resolve("T") + " && echo theirs > " + shared.resolve("T/theirs.txt"));
        assertRefused(shared.resolve("T"), shared.resolve("T") + " is owned by nobody");
        assertThat(TestTrees.list(shared.resolve("T"))).containsExactly("theirs.txt");

        Path theirs = dir("theirs", "755");
        sh(tmp, "chown nobody " + q(theirs));
        assertRefused(theirs.resolve("T"), theirs + " is owned by nobody");
        assertThat(TestTrees.list(theirs)).isEmpty();
    }

    /** In place, the staging directory is inside the target: the target itself must be safe too. */
    @Test
    void inPlaceATargetWritableByOthersIsRefused() throws IOException {
        Path target = dir("volume", "777");
        Files.writeString(target.resolve("old.txt"), "old");
        assertThatThrownBy(() ->
                        restore(replacing(target).toBuilder().inPlace(true).build()))
                .isInstanceOf(RestoreException.class)
                .hasMessageContaining(target + " is writable by others");
        assertThat(TestTrees.list(target)).containsExactly("old.txt");
        // staged next to it, the target itself is only renamed: allowed
        restore(replacing(target));
        assertThat(TestTrees.list(target)).containsExactly("restored.txt");
    }

    /**
     * The old tree a restore deletes may belong to another user (the web server's uploads): while it is deleted,
     * they swap a directory in it with a link to a root-only directory, over and over (renameat2 RENAME_EXCHANGE).
     * Deleting by path, a walk that saw a directory listed and deleted through the link.
     */
    @Test
    void deletingATreeAnotherUserOwnsNeverFollowsTheLinksTheySwapIn() throws Exception {
        Assumptions.assumeTrue(root(), "another user's tree needs root");
        Path victim = dir("victim", "700");
        for (int i = 0; i < 200; i++) {
            Files.writeString(victim.resolve("f" + i), "keep");
        }
        Path swapper = Files.writeString(
                tmp.resolve("swap.py"),
                String.join(
                        "\n",
                        "import ctypes, os, sys, time",
                        "libc = ctypes.CDLL(None, use_errno=True)",
                        "os.chdir(sys.argv[1]); end = time.time() + float(sys.argv[2])",
                        "while time.time() < end:",
                        "    libc.renameat2(-100, b'sub', -100, b'alt', 2)",
                        ""));
        for (int round = 0; round < 5; round++) {
            Path old = dir("old", "755");
            Path sub = Files.createDirectories(old.resolve("sub"));
            for (int i = 0; i < 200; i++) {
                Files.writeString(sub.resolve("f" + i), "theirs");
            }
            Files.createSymbolicLink(old.resolve("alt"), victim);
            sh(tmp, "chown -R -h nobody " + q(old));
            Process attacker = new ProcessBuilder(
                            "runuser", "-u", "nobody", "--", "python3", swapper.toString(), old.toString(), "0.5")
                    .redirectErrorStream(true)
                    .start();
            try {
                Thread.sleep(50);
                FileTrees.deleteQuietly(old);
            } finally {
                if (!attacker.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) { // it stops after half a second
                    attacker.destroyForcibly().waitFor();
                }
            }
            FileTrees.deleteQuietly(old);
            sh(tmp, "rm -rf " + q(old));
            assertThat(TestTrees.list(victim)).as("round " + round).hasSize(200);
        }
    }

    @Test
    void safePathsAreRestoredIntoAsBefore() throws IOException {
        Path shared = dir("shared", "1777"); // like /tmp: a new target of our own there is fine
        restore(replacing(shared.resolve("T")));
        assertThat(TestTrees.list(shared.resolve("T"))).containsExactly("restored.txt");
        restore(replacing(shared.resolve("T")));

        Path real = dir("real", "755"); // a link we own, in a directory only we control, as an ancestor
        Path alias = Files.createSymbolicLink(tmp.resolve("alias"), real);
        restore(replacing(alias.resolve("T")));
        assertThat(TestTrees.list(real.resolve("T"))).containsExactly("restored.txt");
    }
}
