package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.StagedRestore;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PgRestoreListCheckTest {
    @TempDir
    static Path shared;

    static String source;
    static Path dump;

    @TempDir
    Path tmp;

    @BeforeAll
    static void makeDump() throws Exception {
        source = PgTestServer.get().createDatabase("lc_src");
        try (Connection c = PgTestServer.get().connect(source)) {
            ShopSchema.create(c, 20_000);
        }
        dump = PgTools.dump(source, shared.resolve("shop.dump"));
    }

    @AfterAll
    static void drop() throws Exception {
        PgTestServer.get().dropDatabase(source);
    }

    private static Map<String, Object> check(PgRestoreListCheck check, Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file);
                StagedRestore staged = check.stage(in, null)) {
            staged.commit();
            return staged.facts();
        }
    }

    @Test
    void goodDumpPassesAndReportsItsTableOfContents() throws Exception {
        Map<String, Object> facts = check(PgRestoreListCheck.create(), dump);
        assertThat(facts)
                .containsEntry("tables", 5)
                .containsEntry("tableData", 5)
                .containsEntry("views", 1)
                .containsEntry("functions", 2)
                .containsEntry("dumpedDatabase", source)
                .containsEntry("format", "CUSTOM");
        assertThat((Integer) facts.get("tocEntries")).isGreaterThan(20);
        assertThat((Integer) facts.get("indexes")).isEqualTo(4);
        assertThat((Integer) facts.get("sequences")).isGreaterThanOrEqualTo(2);
        assertThat((Integer) facts.get("constraints")).isGreaterThanOrEqualTo(8);
        assertThat((String) facts.get("dumpedFromVersion")).startsWith("15");
        assertThat((Long) facts.get("sqlBytes")).isGreaterThan(Files.size(dump));
    }

    @Test
    void dumpTruncatedInItsDataFailsWithIntegrityException() throws Exception {
        Path bad = PgTools.truncated(dump, 0.6, tmp.resolve("bad.dump"));
        assertThatThrownBy(() -> check(PgRestoreListCheck.create(), bad))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("pg_restore cannot read")
                .hasMessageContaining("pg_restore said:");
    }

    @Test
    void listingAloneDoesNotNoticeDamageAfterTheTableOfContents() throws Exception {
        Path bad = PgTools.truncated(dump, 0.6, tmp.resolve("bad.dump"));
        Map<String, Object> facts =
                check(PgRestoreListCheck.builder().readData(false).build(), bad);
        assertThat(facts).containsEntry("tables", 5).doesNotContainKey("sqlBytes");
    }

    @Test
    void corruptedDataFailsWithIntegrityException() throws Exception {
        byte[] all = Files.readAllBytes(dump);
        for (int i = (int) (all.length * 0.7); i < all.length * 0.7 + 64; i++) {
            all[i] ^= 0x5a;
        }
        Path bad = Files.write(tmp.resolve("flipped.dump"), all);
        assertThatThrownBy(() -> check(PgRestoreListCheck.create(), bad)).isInstanceOf(IntegrityException.class);
    }

    @Test
    void somethingElseThanADumpFailsWithIntegrityException() {
        byte[] random = TestKeys.randomBytes(300_000, 7);
        assertThatThrownBy(() -> PgRestoreListCheck.create().stage(new ByteArrayInputStream(random), null))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("not a pg_dump custom-format archive");
        assertThatThrownBy(() -> PgRestoreListCheck.create().stage(new ByteArrayInputStream(new byte[0]), null))
                .isInstanceOf(IntegrityException.class);
    }
}
