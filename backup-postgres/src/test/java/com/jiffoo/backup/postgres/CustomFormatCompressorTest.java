package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CustomFormatCompressor} against pg_dump and pg_restore, the referees: the uncompressed archive of the
 * hand-written operator schema (partitions, large objects, materialized views, ...) plus a table of several MiB (many
 * pieces, each primed with the one before) is compressed on three threads; {@code pg_restore -l} lists the same entries
 * as for pg_dump's own {@code -Z 9} archive and reports the compression level, the archive restores into a database
 * equal to the source, and its size is within 1 % of pg_dump's. Archives the compressor must not take are refused.
 */
class CustomFormatCompressorTest {
    @TempDir
    static Path dir;

    static String source;
    static TableHashes original;
    static Path plain;
    static Path ours;

    private final TestDatabases dbs = new TestDatabases();

    @BeforeAll
    static void dumpUncompressed() throws Exception {
        source = PgTestServer.get().createDatabase("cfc_src");
        MallSchema.create(PgTestServer.get(), source);
        try (Connection c = PgTestServer.get().connect(source);
                Statement s = c.createStatement()) {
            // ~8 MiB of text that compresses, in one data block: many pieces of PIECE bytes
            s.execute("CREATE TABLE public.big (id int PRIMARY KEY, body text)");
            s.execute("INSERT INTO public.big SELECT g, repeat(md5(g::text), 1 + g % 7) || ' row ' || g"
                    + " FROM generate_series(1, 60000) g");
            s.execute("CREATE TABLE public.empty_one (id int)");
            s.execute("SELECT lo_from_bytea(0, ''::bytea)"); // an empty large object: a zlib stream of nothing
        }
        original = PgTools.hashes(source);
        plain = dir.resolve("plain.dump");
        // as PostgresSource runs it: to a pipe (a file would get data offsets, which the compressor must clear)
        PgTools.bash("pg_dump -Fc -Z0 \"$PGDATABASE\" | cat > '" + plain + "'", source, null);
        ours = dir.resolve("ours.dump");
        try (CustomFormatCompressor c = new CustomFormatCompressor(9, 3);
                InputStream in = Files.newInputStream(plain);
                OutputStream out = Files.newOutputStream(ours)) {
            assertThat(c.compress(in, out)).isEqualTo(Files.size(plain));
        }
    }

    @AfterAll
    static void dropSource() throws Exception {
        PgTestServer.get().dropDatabase(source);
    }

    @AfterEach
    void dropCreated() throws Exception {
        dbs.dropAll();
    }

    @Test
    void pgRestoreListsTheSameEntriesAsForPgDumpsOwnCompression() throws Exception {
        Path z9 = dir.resolve("z9.dump");
        PgTools.bash("pg_dump -Fc -Z9 -f '" + z9 + "' \"$PGDATABASE\"", source, null);
        String listOurs = list(ours);
        String listZ9 = list(z9);
        assertThat(listOurs).containsPattern(";\\s+Compression: 9");
        assertThat(entries(listOurs)).isEqualTo(entries(listZ9)).anyMatch(e -> e.startsWith("TABLE DATA public big "));
        long size = Files.size(ours);
        long theirs = Files.size(z9);
        assertThat((double) size / theirs).isBetween(0.97, 1.01);
        assertThat(size).isLessThan(Files.size(plain) / 3);
    }

    @Test
    void theCompressedArchiveRestoresIntoADatabaseEqualToTheSource() throws Exception {
        String db = dbs.newName("cfc_new");
        try (Connection c = PgTestServer.get().connect("postgres");
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
        // a stream, as in an emergency restore: gpg -d f | pg_restore -d DB
        PgTools.bash("pg_restore --exit-on-error -d \"$PGDATABASE\" < '" + ours + "'", db, null);
        assertThat(PgTools.hashes(db)).isEqualTo(original);
        try (Connection c = PgTestServer.get().connect(db);
                Connection s = PgTestServer.get().connect(source)) {
            assertThat(MallSchema.extras(c)).isEqualTo(MallSchema.extras(s));
        }
    }

    @Test
    void anArchiveWrittenToAFileWithDataOffsetsRestoresFromAStreamAndFromTheFile() throws Exception {
        Path seekable = dir.resolve("seekable.dump");
        PgTools.bash("pg_dump -Fc -Z0 -f '" + seekable + "' \"$PGDATABASE\"", source, null);
        Path compressed = dir.resolve("seekable-ours.dump");
        try (CustomFormatCompressor c = new CustomFormatCompressor(6, 2);
                InputStream in = Files.newInputStream(seekable);
                OutputStream out = Files.newOutputStream(compressed)) {
            c.compress(in, out);
        }
        for (String how : new String[] {"< '" + compressed + "'", "'" + compressed + "'"}) {
            String db = dbs.newName("cfc_seek");
            try (Connection c = PgTestServer.get().connect("postgres");
                    Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE " + db);
            }
            PgTools.bash("pg_restore --exit-on-error -d \"$PGDATABASE\" " + how, db, null);
            assertThat(PgTools.hashes(db)).isEqualTo(original);
        }
    }

    @Test
    void anArchivePgDumpCompressedItselfIsRefused() throws Exception {
        Path z6 = dir.resolve("z6.dump");
        PgTools.bash("pg_dump -Fc -Z6 -t public.empty_one -f '" + z6 + "' \"$PGDATABASE\"", source, null);
        assertThatThrownBy(() -> compress(Files.readAllBytes(z6)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("compressed its archive itself (level 6)");
    }

    @Test
    void aTruncatedArchiveOrOneOfAnotherFormatIsRefused() throws Exception {
        byte[] all = Files.readAllBytes(plain);
        assertThatThrownBy(() -> compress(Arrays.copyOf(all, all.length / 2)))
                .isInstanceOf(EOFException.class)
                .hasMessageContaining("ended early");
        assertThatThrownBy(() -> compress("-- PostgreSQL database dump\n".getBytes()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not a custom-format archive");
        byte[] newer = Arrays.copyOf(all, 64);
        newer[6] = 16; // archive version 1.16 (pg_dump 17)
        assertThatThrownBy(() -> compress(newer))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("archive version 1.16");
    }

    @Test
    void zlibHeadersPassTheirCheck() {
        for (int level = 1; level <= 9; level++) {
            assertThat((0x78 * 256 + CustomFormatCompressor.zlibFlags(level)) % 31)
                    .isZero();
        }
        assertThat(CustomFormatCompressor.zlibFlags(9)).isEqualTo(0xDA);
        assertThat(CustomFormatCompressor.zlibFlags(6)).isEqualTo(0x9C);
        assertThat(CustomFormatCompressor.supports(15)).isTrue();
        assertThat(CustomFormatCompressor.supports(16)).isFalse();
    }

    private static void compress(byte[] archive) throws IOException {
        try (CustomFormatCompressor c = new CustomFormatCompressor(9, 2)) {
            c.compress(new ByteArrayInputStream(archive), new ByteArrayOutputStream());
        }
    }

    private String list(Path archive) {
        Path out = dir.resolve(archive.getFileName() + ".list");
        PgTools.bash("pg_restore -l '" + archive + "' > '" + out + "'", "postgres", Map.of());
        try {
            return Files.readString(out);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The list's entries without their dump ids and comment lines (those hold the archive's creation time). */
    private static java.util.List<String> entries(String list) {
        return list.lines()
                .filter(l -> !l.startsWith(";") && !l.isBlank())
                .map(l -> l.replaceFirst("^\\d+; \\d+ \\d+ ", ""))
                .toList();
    }
}
