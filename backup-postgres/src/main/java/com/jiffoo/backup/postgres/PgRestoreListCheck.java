package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.StagedRestore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The inner check of a database backup for {@link BackupVerifier.Builder#innerCheck(RestoreTarget) deep
 * verification}: reads the plaintext (pg_dump custom format) with pg_restore, without any database, and never
 * changes anything.
 * <ul>
 *   <li>{@code pg_restore --list} reads the archive's table of contents; its entries become the facts.</li>
 *   <li>With {@link Builder#readData(boolean) readData} (default on) the same stream is also fed to
 *       {@code pg_restore --file=-}, whose SQL output is counted and discarded: that decompresses every table's
 *       data, so a dump truncated or damaged after its table of contents is caught too (the listing alone stops
 *       reading after the table of contents).</li>
 * </ul>
 * When pg_restore cannot read the stream, {@link #stage} throws {@link IntegrityException} quoting its last lines.
 * The staged restore's {@code commit()} and {@code close()} do nothing.
 *
 * <p>Facts: {@code tocEntries}, {@code tables}, {@code tableData}, {@code indexes}, {@code sequences}, {@code views},
 * {@code functions}, {@code constraints}, {@code dumpedDatabase}, {@code dumpedFromVersion},
 * {@code dumpedByVersion}, {@code format}, and with readData {@code sqlBytes} (size of the SQL it decodes to).
 *
 * <pre>{@code
 * BackupVerifier verifier = BackupVerifier.builder().sink(sink).transforms(List.of(pgp))
 *         .innerCheck(PgRestoreListCheck.create()).build();
 * verifier.verify("database/db_backup_20260111_020000.sql.gpg", true);
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class PgRestoreListCheck implements RestoreTarget {
    private static final Logger log = LoggerFactory.getLogger(PgRestoreListCheck.class);

    private final boolean readData;
    private final Path pgRestore;

    private PgRestoreListCheck(Builder b) {
        this.readData = b.readData;
        this.pgRestore = b.pgRestore;
    }

    /** A check with the defaults: list and read all data, pg_restore found on PATH. */
    public static PgRestoreListCheck create() {
        return builder().build();
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.readData = readData;
        b.pgRestore = pgRestore;
        return b;
    }

    @Override
    public String describe() {
        return "pg_restore --list check" + (readData ? " (reading all data)" : "");
    }

    /**
     * Reads {@code plaintext} with pg_restore. Does not close it.
     *
     * @throws IntegrityException when pg_restore cannot read it (not a custom-format dump, damaged, truncated)
     */
    @Override
    public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
        Objects.requireNonNull(plaintext, "plaintext");
        String what = manifest == null ? "the dump" : manifest.objectKey();
        Path bin = pgRestore != null
                ? pgRestore
                : PgToolLocator.system().locateNewest("pg_restore").path();
        PgChild list = PgChild.start(List.of(bin.toString(), "--list"), null, ProcessBuilder.Redirect.PIPE, true);
        PgChild data;
        try {
            data = readData
                    ? PgChild.start(List.of(bin.toString(), "--file=-"), null, ProcessBuilder.Redirect.PIPE, true)
                    : null;
        } catch (IOException | RuntimeException e) {
            list.kill();
            throw e;
        }
        CompletableFuture<List<String>> toc = CompletableFuture.supplyAsync(() -> lines(list.stdout()));
        CompletableFuture<Long> sqlBytes = data == null
                ? CompletableFuture.completedFuture(-1L)
                : CompletableFuture.supplyAsync(() -> count(data.stdout()));
        try {
            tee(plaintext, list, data);
            int listExit = list.waitFor();
            int dataExit = data == null ? 0 : data.waitFor();
            if (listExit != 0 || dataExit != 0) {
                PgChild failed = listExit != 0 ? list : data;
                throw new IntegrityException(
                        "pg_restore cannot read " + what + " (exit code "
                                + (listExit != 0 ? listExit : dataExit)
                                + "): it is not a pg_dump custom-format archive, or it"
                                + " is damaged or truncated. Do not rely on this backup; restore another one and make a new"
                                + " backup.\npg_restore said:\n" + failed.lastLines(),
                        manifest == null ? null : manifest.objectKey(),
                        null,
                        null);
            }
            Map<String, Object> facts = facts(join(toc));
            if (data != null) {
                facts.put("sqlBytes", join(sqlBytes));
            }
            log.info("pg_restore check of {}: {}", what, facts);
            return new Checked(Collections.unmodifiableMap(facts));
        } finally {
            list.kill();
            if (data != null) {
                data.kill();
            }
        }
    }

    /** Feeds the stream to both processes; the listing stops reading after the table of contents. */
    private static void tee(InputStream in, PgChild list, PgChild data) throws IOException {
        OutputStream a = list.stdin();
        OutputStream b = data == null ? null : data.stdin();
        byte[] buf = new byte[256 * 1024];
        int n;
        try {
            while ((a != null || b != null) && (n = in.read(buf)) >= 0) {
                if (a != null) {
                    try {
                        a.write(buf, 0, n);
                    } catch (IOException e) {
                        PgChild.closeQuietly(a); // pg_restore --list is done (or failed: its exit code says)
                        a = null;
                    }
                }
                if (b != null) {
                    try {
                        b.write(buf, 0, n);
                    } catch (IOException e) {
                        PgChild.closeQuietly(b);
                        b = null;
                    }
                }
            }
        } finally {
            PgChild.closeQuietly(a);
            PgChild.closeQuietly(b);
        }
    }

    private static List<String> lines(InputStream in) {
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.add(line);
            }
        } catch (IOException e) {
            // the process went away; its exit code tells
        }
        return out;
    }

    private static long count(InputStream in) {
        try (in) {
            return in.transferTo(OutputStream.nullOutputStream());
        } catch (IOException e) {
            return -1;
        }
    }

    private static <T> T join(CompletableFuture<T> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Parses {@code pg_restore --list} output. */
    static Map<String, Object> facts(List<String> toc) {
        Map<String, Object> facts = new LinkedHashMap<>();
        int entries = 0;
        Map<String, Integer> types = new LinkedHashMap<>();
        for (String line : toc) {
            if (line.startsWith(";")) {
                header(line, facts);
            } else if (line.matches("^\\d+; .*")) {
                entries++;
                String[] parts = line.split(" ", 6); // "3345;" "0" "16390" "TABLE" "DATA" ...
                if (parts.length >= 5) {
                    String type = parts[3];
                    String two = parts[3] + " " + parts[4];
                    if (two.equals("TABLE DATA")
                            || two.equals("FK CONSTRAINT")
                            || two.equals("SEQUENCE SET")
                            || two.equals("SEQUENCE OWNED")
                            || two.equals("MATERIALIZED VIEW")) {
                        type = two;
                    }
                    types.merge(type, 1, Integer::sum);
                }
            }
        }
        facts.put("tocEntries", entries);
        facts.put("tables", types.getOrDefault("TABLE", 0));
        facts.put("tableData", types.getOrDefault("TABLE DATA", 0));
        facts.put("indexes", types.getOrDefault("INDEX", 0));
        facts.put("sequences", types.getOrDefault("SEQUENCE", 0));
        facts.put("views", types.getOrDefault("VIEW", 0) + types.getOrDefault("MATERIALIZED VIEW", 0));
        facts.put("functions", types.getOrDefault("FUNCTION", 0) + types.getOrDefault("PROCEDURE", 0));
        facts.put("constraints", types.getOrDefault("CONSTRAINT", 0) + types.getOrDefault("FK CONSTRAINT", 0));
        return facts;
    }

    private static void header(String line, Map<String, Object> facts) {
        String l = line.substring(1).trim();
        put(facts, l, "dbname:", "dumpedDatabase");
        put(facts, l, "Dumped from database version:", "dumpedFromVersion");
        put(facts, l, "Dumped by pg_dump version:", "dumpedByVersion");
        put(facts, l, "Format:", "format");
    }

    private static void put(Map<String, Object> facts, String line, String prefix, String key) {
        if (line.startsWith(prefix)) {
            facts.put(key, line.substring(prefix.length()).trim());
        }
    }

    @Override
    public String toString() {
        return "PgRestoreListCheck{readData=" + readData + "}";
    }

    /** Nothing to commit or discard. */
    private record Checked(Map<String, Object> facts) implements StagedRestore {
        @Override
        public void commit() {}

        @Override
        public void close() {}
    }

    /** Builds a {@link PgRestoreListCheck}. Not thread-safe. */
    public static final class Builder {
        private boolean readData = true;
        private Path pgRestore;

        private Builder() {}

        /**
         * Also decode all table data (default true; costs CPU about like a restore without the database work).
         * False only lists the table of contents, which does not notice damage after it.
         */
        public Builder readData(boolean readData) {
            this.readData = readData;
            return this;
        }

        /** The pg_restore binary; by default found on PATH or in /usr/lib/postgresql/N/bin. */
        public Builder pgRestore(Path binary) {
            this.pgRestore = Objects.requireNonNull(binary, "binary");
            return this;
        }

        /** Builds the check. */
        public PgRestoreListCheck build() {
            return new PgRestoreListCheck(this);
        }
    }
}
