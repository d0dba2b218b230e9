package com.jiffoo.backup.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.cli.Jar;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * README's quick start as an operator runs it on a directory of their own, in its own JVM: a tree with absolute
 * symlinks (as {@code /usr/share/zoneinfo} and most real trees have) is backed up, restored with its links as links
 * and compared; a failure is one {@code error:} line and its exit code, never a stack trace.
 */
class QuickStartTest {
    @TempDir
    Path dir;

    private Jar.Run quickStart(String... args) {
        List<String> cmd = new java.util.ArrayList<>(
                List.of(Jar.javaBinary(), "-cp", System.getProperty("java.class.path"), QuickStart.class.getName()));
        cmd.addAll(List.of(args));
        return Jar.exec(dir, Map.of(), cmd);
    }

    @Test
    void aTreeWithAbsoluteSymlinksIsRestoredWithItsLinksAsLinks() throws Exception {
        Path tree = dir.resolve("tree");
        Files.createDirectories(tree.resolve("zone"));
        Files.writeString(tree.resolve("zone/local.txt"), "a file\n");
        // made with ln, as an operator's tree would have them: absolute, pointing outside the tree
        Jar.Run ln = Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "ln",
                        "-s",
                        "/usr/share/zoneinfo/UTC",
                        tree.resolve("zone/UTC").toString()));
        assertThat(ln.exitCode()).as(ln.toString()).isZero();
        Jar.exec(
                dir,
                Map.of(),
                List.of(
                        "ln",
                        "-s",
                        "/nonexistent/elsewhere",
                        tree.resolve("dangling").toString()));

        Jar.Run r = quickStart(tree.toString(), dir.resolve("work").toString());

        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.stdout()).contains("restored tree is identical to " + tree);
        assertThat(r.stderr()).doesNotContain("Exception").doesNotContain("\tat ");
        Path restored = dir.resolve("work/restored");
        assertThat(Files.readSymbolicLink(restored.resolve("zone/UTC"))).isEqualTo(Path.of("/usr/share/zoneinfo/UTC"));
        assertThat(Files.readSymbolicLink(restored.resolve("dangling"))).isEqualTo(Path.of("/nonexistent/elsewhere"));
    }

    @Test
    void aFailureIsOneErrorLineWithoutStackTrace() {
        Jar.Run r = quickStart(
                dir.resolve("no-such-dir").toString(), dir.resolve("work").toString());

        assertThat(r.exitCode()).as(r.toString()).isEqualTo(2);
        assertThat(r.stderr())
                .as(r.toString())
                .startsWith("error: ")
                .contains("no-such-dir")
                .doesNotContain("\tat ")
                .doesNotContain("Exception");
    }
}
