package com.jiffoo.backup.files;

import static org.assertj.core.api.Assertions.assertThat;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.DrillReport;
import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testing.DrillSources;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FilesDrill}'s checks can fail: a sampled file changed in the restored tree (same size, bytes overwritten
 * with dd) fails {@code sample-hashes} and only it; a restored file removed fails {@code file-count}; a backup made
 * with {@code hashSample(0)} skips the sample; an old scratch directory is swept, a fresh one is not; the scratch is
 * removed every time.
 */
class FilesDrillTest {
    @TempDir
    Path dir;

    private static void sh(String script) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", script).inheritIO().start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(script).isZero();
    }

    /** A source restoring from the store, then running {@code after} (a shell script) in the restored tree. */
    private static DrillSource tampering(DrillSource real, String after) {
        return DrillSources.afterRestore(real, t -> sh("cd '" + t.localPath().orElseThrow() + "' && " + after));
    }

    private List<Path> children(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.toList();
        }
    }

    @Test
    void aChangedSampledFileFailsTheSampleAndARemovedFileTheCount() throws Exception {
        Path tree = Files.createDirectories(dir.resolve("tree"));
        sh("cd '" + tree + "' && mkdir d && for i in 1 2 3 4 5; do head -c 5000 /dev/urandom > d/f$i; done");
        OpenPgpTransform pgp =
                OpenPgpTransform.builder().passphrase("t".toCharArray(), "k").build();
        BackupTrust trust = BackupTrust.of(List.of(pgp));
        Path scratch = dir.resolve("scratch");
        try (LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"))) {
            BackupManifest m = BackupPipeline.builder()
                    .source(DirectorySource.builder(tree).build())
                    .encryption(pgp)
                    .sink(store)
                    .build()
                    .run();
            assertThat((List<?>) m.sourceFacts().get(DirectorySource.SAMPLE_FACT))
                    .hasSize(5);
            DrillSource real = DrillSource.of(store, pgp, trust, "files", null);

            DrillReport ok = FilesDrill.builder()
                    .source(real)
                    .scratchParent(scratch)
                    .build()
                    .run();
            assertThat(ok.passed()).as(ok.toString()).isTrue();

            DrillReport changed = FilesDrill.builder()
                    .source(tampering(real, "dd if=/dev/zero of=d/f3 bs=1 seek=100 count=8 conv=notrunc status=none"))
                    .scratchParent(scratch)
                    .build()
                    .run();
            assertThat(changed.outcome()).isEqualTo(DrillReport.Outcome.FAILED);
            assertThat(check(changed, "file-count").status()).isEqualTo(DrillReport.Status.PASSED);
            assertThat(check(changed, "sample-hashes").status()).isEqualTo(DrillReport.Status.FAILED);
            assertThat(check(changed, "sample-hashes").detail()).contains("1 of 5 sampled file(s) differ: d/f3");

            DrillReport removed = FilesDrill.builder()
                    .source(tampering(real, "rm d/f5"))
                    .scratchParent(scratch)
                    .build()
                    .run();
            assertThat(check(removed, "file-count").status()).isEqualTo(DrillReport.Status.FAILED);
            assertThat(check(removed, "file-count").detail())
                    .contains("restored 4 file(s) and 20000 byte(s); the manifest records 5 file(s) and 25000");
            assertThat(children(scratch)).isEmpty();
        }
    }

    @Test
    void withoutASampleTheCheckIsSkippedAndOldScratchDirectoriesAreSwept() throws Exception {
        Path tree = Files.createDirectories(dir.resolve("tree"));
        Files.writeString(tree.resolve("a"), "a");
        Path scratch = Files.createDirectories(dir.resolve("scratch"));
        Path old = Files.createDirectories(scratch.resolve(FilesDrill.SCRATCH_PREFIX + "20200101_000000_1"));
        Files.writeString(old.resolve("left"), "x");
        sh("touch -d '2020-01-01' '" + old + "'");
        Path fresh = Files.createDirectories(scratch.resolve(FilesDrill.SCRATCH_PREFIX + "now_running"));
        Path other = Files.createDirectories(scratch.resolve("not_a_drill"));
        sh("touch -d '2020-01-01' '" + other + "'");
        try (LocalDirectorySink store = LocalDirectorySink.create(dir.resolve("store"))) {
            BackupPipeline.builder()
                    .unencrypted()
                    .source(DirectorySource.builder(tree).hashSample(0).build())
                    .sink(store)
                    .build()
                    .run();
            DrillReport r = FilesDrill.builder()
                    .source(DrillSource.of(store, null, BackupTrust.STORE, "files", null))
                    .scratchParent(scratch)
                    .build()
                    .run();
            assertThat(r.passed()).as(r.toString()).isTrue();
            assertThat(check(r, "sample-hashes").status()).isEqualTo(DrillReport.Status.SKIPPED);
            assertThat(r.findings()).anyMatch(f -> f.contains(old.toString()));
        }
        assertThat(children(scratch)).containsExactlyInAnyOrder(fresh, other);
    }

    private static DrillReport.Check check(DrillReport r, String name) {
        return r.checks().stream()
                .filter(c -> c.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " in " + r));
    }
}
