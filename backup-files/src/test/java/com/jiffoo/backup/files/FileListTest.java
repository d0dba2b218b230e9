package com.jiffoo.backup.files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.IntegrityException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;

/** The file list of a chain's manifest: what the writer records, the reader gives back, byte for byte. */
class FileListTest {
    private static Map<String, FileList.Meta> roundTrip(Map<String, FileList.Meta> entries) {
        FileList.Writer w = new FileList.Writer();
        entries.forEach(w::add);
        Map<String, Object> facts = Map.of(FileList.FACT, w.fact());
        return FileList.read(facts, "files_backup_test");
    }

    @Test
    void readsBackEveryRecordWithOddNamesAndExtremeNumbers() {
        Map<String, FileList.Meta> in = new LinkedHashMap<>();
        in.put("a", new FileList.Meta('f', 0, 0, 0, 0));
        in.put("dir with spaces/  two  spaces ", new FileList.Meta('f', 12, 1_733_140_000_123_456_789L, 42, 7));
        in.put("dir with spaces", new FileList.Meta('d', 0, -1_500_000_000L, 9, -1));
        in.put("ünïcödé/日本語.txt", new FileList.Meta('l', 0, Long.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE));
        in.put("", new FileList.Meta('f', 1, 2, 3, 4));
        in.put("x".repeat(70_000), new FileList.Meta('f', Long.MAX_VALUE, 5, 6, 7)); // longer than the read buffer
        assertThat(roundTrip(in)).isEqualTo(in);
    }

    @Test
    void readsRecordsAcrossTheReadBuffersBoundaries() {
        Map<String, FileList.Meta> in = new LinkedHashMap<>();
        for (int i = 0; i < 30_000; i++) {
            in.put(
                    "d" + (i % 97) + "/file-" + i + ".bin",
                    new FileList.Meta('f', i * 1000L, i * 7L, 1_000_000L + i, -i));
        }
        assertThat(roundTrip(in)).isEqualTo(in);
    }

    @Test
    void writesEachRecordAsItsDecimalTextFields() throws java.io.IOException {
        FileList.Writer w = new FileList.Writer();
        w.add("a/b c", new FileList.Meta('f', 12, 1_733_140_000_123_456_789L, 42, -7));
        w.add("ü", new FileList.Meta('l', 0, Long.MIN_VALUE, Long.MAX_VALUE, -1_000_000_000_000L));
        w.add("d", new FileList.Meta('d', 0, 0, 9, 10));
        List<?> chunks = (List<?>) w.fact().get("chunks");
        byte[] gz = Base64.getDecoder()
                .decode(String.join("", chunks.stream().map(String.class::cast).toList()));
        String records;
        try (java.io.InputStream in = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(gz))) {
            records = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(records)
                .isEqualTo("f 12 1733140000123456789 42 -7 a/b c\0"
                        + "l 0 " + Long.MIN_VALUE + " " + Long.MAX_VALUE + " -1000000000000 ü\0"
                        + "d 0 0 9 10 d\0");
    }

    @Test
    void aListOverTheCapIsOmitted() {
        FileList.Writer w = new FileList.Writer();
        java.util.Random random = new java.util.Random(17);
        for (int i = 0; i < 200_000; i++) { // random names and numbers hardly compress: far over the cap
            w.add(Long.toHexString(random.nextLong()) + "/" + i, new FileList.Meta('f', random.nextLong(), i, i, i));
        }
        Map<String, Object> fact = w.fact();
        assertThat(fact).containsKey("omitted").doesNotContainKey("chunks");
        assertThat(FileList.read(Map.of(FileList.FACT, fact), "files_backup_test"))
                .isNull();
    }

    @Test
    void aGarbledRecordIsAnIntegrityError() {
        for (String bad : List.of(
                "f 1 2 3 x4 a\0",
                "f 1 2 3\0",
                "ff 1 2 3 4 a\0",
                "f 1 2 3 99999999999999999999 a\0",
                " 1 2 3 4 a\0",
                "f 1 - 3 4 a\0")) {
            Map<String, Object> facts = Map.of(FileList.FACT, Map.of("chunks", List.of(encoded(bad))));
            assertThatThrownBy(() -> FileList.read(facts, "files_backup_test"))
                    .as(bad)
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("garbled");
        }
    }

    private static String encoded(String records) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(records.getBytes(StandardCharsets.UTF_8));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return Base64.getEncoder().encodeToString(bytes.toByteArray());
    }
}
