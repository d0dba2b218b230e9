package com.jiffoo.backup.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.VerificationRecord;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue 11 item 10: manifests and verification records come from the store, so their parser is bounded: nesting,
 * string, name and number lengths, and the document itself (1 MiB, like the store's read of a manifest; the launcher
 * also reads a manifest from a file next to a backup). The hostile JSON is written as text, as someone editing the
 * store would.
 */
class JsonLimitsTest {
    private static final String SHA = "0".repeat(64);

    private static String manifestWithFacts(String factsJson) {
        BackupManifest m = BackupManifest.builder()
                .formatVersion(BackupManifest.FORMAT_VERSION)
                .id("20260101_000000")
                .kind("files")
                .startedAt(Instant.EPOCH)
                .completedAt(Instant.EPOCH)
                .source("directory /x")
                .sourceFacts(Map.of("placeholder", 1))
                .transforms(List.of())
                .object("files/files_backup_20260101_000000.tar.gz", 1, SHA)
                .plaintext(1, SHA)
                .libraryVersion("test")
                .host("h")
                .build();
        String json = new String(ManifestJson.write(m), StandardCharsets.UTF_8);
        assertThat(BackupManifest.fromJson(json.getBytes(StandardCharsets.UTF_8), "k")
                        .objectKey())
                .isNotEmpty();
        return json.replaceFirst(
                "\\{\\s*\"placeholder\"\\s*:\\s*1\\s*}", java.util.regex.Matcher.quoteReplacement(factsJson));
    }

    private static void assertManifestRefused(String json, String... parts) {
        assertThatThrownBy(() -> BackupManifest.fromJson(json.getBytes(StandardCharsets.UTF_8), "m.manifest.json"))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("m.manifest.json")
                .message()
                .contains(parts);
    }

    @Test
    void aManifestNestedDeeperThanAnyRealOneIsRefused() {
        String deep = "[".repeat(200) + "]".repeat(200);
        assertManifestRefused(manifestWithFacts("{\"a\": " + deep + "}"), "nesting depth", "32");
    }

    @Test
    void aManifestWithAHugeStringNameOrNumberIsRefused() {
        assertManifestRefused(
                manifestWithFacts("{\"a\": \"" + "x".repeat(100_000) + "\"}"), "String value length", "65536");
        assertManifestRefused(manifestWithFacts("{\"" + "k".repeat(5_000) + "\": 1}"), "Name length", "1024");
        assertManifestRefused(manifestWithFacts("{\"a\": " + "9".repeat(500) + "}"), "Number value length", "64");
    }

    @Test
    void aManifestLargerThanOneMebibyteIsRefusedByTheParserToo() {
        String padded = manifestWithFacts("{\"a\": 1" + " ".repeat(1 << 20) + "}");
        assertManifestRefused(padded, "Document length", "1048576");
    }

    @Test
    void realFactsStillPass() {
        String facts = "{\"directory\": \"/" + "d".repeat(4000) + "\", \"rowCounts\": {\"public.t\": 12345678901},"
                + " \"nested\": {\"a\": [{\"b\": [1, 2.5, true, null]}]}}";
        BackupManifest m = BackupManifest.fromJson(manifestWithFacts(facts).getBytes(StandardCharsets.UTF_8), "k");
        assertThat(m.sourceFacts()).containsKey("rowCounts");
    }

    @Test
    void aVerificationRecordIsParsedWithTheSameLimits() {
        VerificationRecord r = new VerificationRecord(
                "files/x.tar.gz", "id", Instant.EPOCH, true, true, null, null, Duration.ofMillis(5), "h");
        String json = new String(r.toJson(), StandardCharsets.UTF_8);
        assertThat(VerificationRecord.fromJson(json.getBytes(StandardCharsets.UTF_8), "r")
                        .passed())
                .isTrue();
        String deep = json.replace("\"host\"", "\"x\": " + "[".repeat(200) + "]".repeat(200) + ", \"host\"");
        assertThatThrownBy(() -> VerificationRecord.fromJson(deep.getBytes(StandardCharsets.UTF_8), "r"))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("nesting depth");
    }
}
