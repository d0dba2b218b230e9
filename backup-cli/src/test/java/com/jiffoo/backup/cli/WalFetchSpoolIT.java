package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's read-ahead answer to {@code wal-fetch --spool DIR --system-id ID %f %p}: a segment waiting in DIR
 * for that cluster is moved into place by the script alone. {@code JAVA_HOME} names no JVM here, so an exit 0 proves
 * Java was not started, and every case the script must leave to Java ends in the abort code 128 (a JVM that cannot
 * start), never in "not found".
 */
class WalFetchSpoolIT {
    private static final String SEGMENT = "000000010000000000000003";

    @TempDir
    Path dir;

    private Path spool;

    @BeforeEach
    void spool() throws Exception {
        spool = dir.resolve("spool");
        Files.createDirectory(spool);
        // written by hand, as an earlier wal-fetch would have left them
        Files.writeString(spool.resolve("system-id"), "7714500228093533409", StandardCharsets.UTF_8);
        Files.writeString(spool.resolve(SEGMENT), "segment bytes", StandardCharsets.UTF_8);
        Files.writeString(spool.resolve("00000002.history"), "1\t0/3000000\tno reason\n", StandardCharsets.UTF_8);
    }

    private Jar.Run fetch(String systemId, String name, Path destination, String... more) {
        Path launcher = Jar.path().resolveSibling("jiffoo-backup");
        assertThat(launcher).as("mvn package puts the launcher next to the jar").isExecutable();
        List<String> argv = new java.util.ArrayList<>(List.of(
                launcher.toString(),
                "wal-fetch",
                "--store",
                "file:" + dir.resolve("store"),
                "--key-file",
                dir.resolve("backup.key").toString()));
        argv.addAll(List.of(more));
        argv.addAll(List.of("--spool", spool.toString(), "--system-id", systemId, name, destination.toString()));
        return Jar.exec(dir, Map.of("JAVA_HOME", dir.resolve("no-jvm-here").toString()), argv);
    }

    @Test
    void aSegmentReadAheadForThisClusterIsMovedIntoPlaceWithoutJava() throws Exception {
        Path dest = dir.resolve("RECOVERYXLOG");
        Jar.Run r = fetch("7714500228093533409", SEGMENT, dest);
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(Files.readString(dest)).isEqualTo("segment bytes");
        assertThat(spool.resolve(SEGMENT)).doesNotExist();
    }

    @Test
    void aSpoolOfAnotherClusterIsLeftToJava() {
        Path dest = dir.resolve("RECOVERYXLOG");
        Jar.Run r = fetch("1111111111111111111", SEGMENT, dest);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(128);
        assertThat(dest).doesNotExist();
        assertThat(spool.resolve(SEGMENT)).exists();
    }

    @Test
    void timelineOneHasNoHistoryFileAndJavaIsNotAsked() {
        Path dest = dir.resolve("RECOVERYHISTORY");
        Jar.Run r = fetch("7714500228093533409", "00000001.history", dest);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(1);
        assertThat(dest).doesNotExist();
        // only for a spool filled for this cluster
        assertThat(fetch("1111111111111111111", "00000001.history", dest).exitCode())
                .isEqualTo(128);
    }

    @Test
    void aLaterTimelineThanTheListedNewestIsNotFoundForAMinuteAfterTheListing() throws Exception {
        Path dest = dir.resolve("RECOVERYHISTORY");
        Path hint = spool.resolve("newest-timeline");
        Files.writeString(hint, "0000000A", StandardCharsets.US_ASCII); // as restore pitr leaves it, by hand
        assertThat(fetch("7714500228093533409", "0000000B.history", dest).exitCode())
                .as("timeline 11 after a listing whose newest was 10")
                .isEqualTo(1);
        assertThat(fetch("7714500228093533409", "0000000A.history", dest).exitCode())
                .as("the newest listed one is fetched by Java")
                .isEqualTo(128);
        assertThat(fetch("7714500228093533409", "00000002.history", dest).exitCode())
                .isEqualTo(128);
        assertThat(fetch("1111111111111111111", "0000000B.history", dest).exitCode())
                .as("another cluster's spool")
                .isEqualTo(128);
        assertThat(fetch("7714500228093533409", "0000000B.history", dest, "--copy-to", "s3://second-region/prod")
                        .exitCode())
                .as("copies named: the listing was of one store, a copy may hold it")
                .isEqualTo(128);
        assertThat(fetch("7714500228093533409", "0000000B.history", dest, "--copy-to=file:/mnt/copy")
                        .exitCode())
                .isEqualTo(128);
        assertThat(fetch("7714500228093533409", "0000000B.history", dest, "--copy-to", "")
                        .exitCode())
                .as("--copy-to '' names no copy")
                .isEqualTo(1);

        Files.setLastModifiedTime(
                hint,
                java.nio.file.attribute.FileTime.from(java.time.Instant.now().minusSeconds(61)));
        assertThat(fetch("7714500228093533409", "0000000B.history", dest).exitCode())
                .as("a listing older than 60 s: Java asks the store")
                .isEqualTo(128);
        Files.setLastModifiedTime(
                hint,
                java.nio.file.attribute.FileTime.from(java.time.Instant.now().plusSeconds(3600)));
        assertThat(fetch("7714500228093533409", "0000000B.history", dest).exitCode())
                .as("a listing dated in the future (a clock stepped back): Java")
                .isEqualTo(128);

        Files.setLastModifiedTime(hint, java.nio.file.attribute.FileTime.from(java.time.Instant.now()));
        Files.writeString(hint, "0000000Z", StandardCharsets.US_ASCII);
        assertThat(fetch("7714500228093533409", "0000000B.history", dest).exitCode())
                .as("a damaged hint")
                .isEqualTo(128);
        assertThat(dest).doesNotExist();
    }

    @Test
    void onlySegmentsAreTakenFromTheSpool() {
        Path dest = dir.resolve("RECOVERYHISTORY");
        Jar.Run r = fetch("7714500228093533409", "00000002.history", dest);
        assertThat(r.exitCode()).as(r.toString()).isEqualTo(128);
        assertThat(dest).doesNotExist();
    }
}
