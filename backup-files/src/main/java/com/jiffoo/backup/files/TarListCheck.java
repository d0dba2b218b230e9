package com.jiffoo.backup.files;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreTarget;
import com.jiffoo.backup.StagedRestore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * The inner check of a deep verification of file backups: decompresses the plaintext (gzip, zstd or plain, by its
 * magic bytes), reads every tar entry and its data — like {@code tar tzvf} and a full read — and writes nothing.
 * A damaged compressed stream (gzip CRC, zstd checksum) or tar header fails with an {@link IntegrityException}, and
 * so do headers beyond the bounds of {@link BoundedTarInputStream} (1 MiB per PAX header or GNU long name).
 *
 * <pre>{@code
 * BackupVerifier.builder().sink(store).transforms(List.of(pgp)).innerCheck(TarListCheck.create()).build()
 *         .verify("files/files_backup_20260111_030000.tar.gz.gpg", true);
 * }</pre>
 *
 * <p>Stateless and thread-safe. Its {@link StagedRestore} changes nothing on commit; its facts count the entries.
 */
public final class TarListCheck implements RestoreTarget {
    private static final TarListCheck INSTANCE = new TarListCheck();

    private TarListCheck() {}

    /** The check. */
    public static TarListCheck create() {
        return INSTANCE;
    }

    @Override
    public String describe() {
        return "tar listing (verification, writes nothing)";
    }

    @Override
    public StagedRestore stage(InputStream plaintext, BackupManifest manifest) throws IOException {
        String what = BoundedTarInputStream.name(manifest);
        long entries = 0;
        long files = 0;
        long bytes = 0;
        try (InputStream in = Compression.decompress(plaintext);
                TarArchiveInputStream tar = BoundedTarInputStream.open(in, what)) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                entries++;
                if (entry.isFile()) {
                    files++;
                    bytes += tar.transferTo(OutputStream.nullOutputStream());
                }
            }
            in.transferTo(OutputStream.nullOutputStream()); // to the end: the gzip CRC / zstd checksum is checked
        } catch (IOException e) {
            throw new IntegrityException(
                    "The tar archive inside " + what + " cannot be read after " + entries + " entries: "
                            + e.getMessage() + ". The backup is damaged; do not rely on it.",
                    e);
        }
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("entries", entries);
        facts.put("files", files);
        facts.put("bytes", bytes);
        Map<String, Object> result = Collections.unmodifiableMap(facts);
        return new StagedRestore() {
            @Override
            public Map<String, Object> facts() {
                return result;
            }

            @Override
            public void commit() {}

            @Override
            public void close() {}
        };
    }
}
