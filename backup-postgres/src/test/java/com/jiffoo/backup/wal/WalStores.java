package com.jiffoo.backup.wal;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Puts WAL and base backups into a store under the layout's keys, as {@code wal-push} and {@code backup base}
 * commit them (data, signature, then manifest), with placeholder contents and unsigned manifests: continuity and
 * retention read names and manifests only.
 */
public final class WalStores {
    /** The suffixes of a WAL object (zstd, then OpenPGP). */
    public static final String SUFFIXES = ".zst.gpg";

    /** The cluster the base backups and WAL files these helpers write belong to. */
    public static final String SYSTEM_IDENTIFIER = "7300000000000000001";

    private static final String SHA = "0".repeat(64);

    private WalStores() {}

    /** Archives (commits) the file {@code name} (segment, {@code .partial}, {@code .backup}) with {@code data}. */
    public static String push(Sink sink, String name, byte[] data) throws IOException {
        String key = StoreLayout.WAL_PREFIX + name.substring(0, 16) + "/" + name + SUFFIXES;
        commit(sink, key, data);
        return key;
    }

    /** Archives the history file of {@code timeline} (its text stored as is: the tests' reader reads it). */
    public static String pushHistory(Sink sink, long timeline, String text) throws IOException {
        String key = StoreLayout.timelineHistoryKey(String.format("%08X", timeline), SUFFIXES);
        commit(sink, key, text.getBytes(StandardCharsets.UTF_8));
        return key;
    }

    /** Writes the data object only: a push killed before its manifest. */
    public static String pushUncommitted(Sink sink, String segment) throws IOException {
        String key = StoreLayout.walSegmentKey(segment, SUFFIXES);
        write(sink, key, new byte[] {1});
        return key;
    }

    /** Commits a base backup whose manifest records {@code timeline}, start and stop segment. */
    public static BackupManifest base(Sink sink, String id, long timeline, String start, String stop, Instant at)
            throws IOException {
        return base(sink, id, timeline, start, stop, at, "on");
    }

    /** {@link #base} of a server whose {@code archive_mode} was {@code archiveMode}. */
    public static BackupManifest base(
            Sink sink, String id, long timeline, String start, String stop, Instant at, String archiveMode)
            throws IOException {
        String key = StoreLayout.baseBackupKey(id, ".tar.zst.gpg");
        Map<String, Object> facts = new LinkedHashMap<>();
        facts.put("systemIdentifier", SYSTEM_IDENTIFIER);
        facts.put("archiveMode", archiveMode);
        facts.put("timeline", timeline);
        facts.put("startWalSegment", start);
        facts.put("stopWalSegment", stop);
        BackupManifest m = BackupManifest.builder()
                .id(id)
                .kind(StoreLayout.BASE_BACKUP_KIND)
                .startedAt(at.minusSeconds(60))
                .completedAt(at)
                .source("pg_basebackup")
                .sourceFacts(facts)
                .object(key, 1, SHA)
                .plaintext(1, SHA)
                .build();
        write(sink, key, new byte[] {1});
        write(sink, StoreLayout.manifestKey(key), m.toJson());
        return m;
    }

    /** Deletes every object of an archived file. */
    public static void deleteAll(Sink sink, String dataKey) throws IOException {
        for (var o : sink.list(dataKey)) {
            sink.delete(o.key());
        }
    }

    private static void commit(Sink sink, String key, byte[] data) throws IOException {
        write(sink, key, data);
        write(sink, StoreLayout.signatureKey(key), new byte[] {2});
        write(
                sink,
                StoreLayout.manifestKey(key),
                manifest(key, data.length, SYSTEM_IDENTIFIER).toJson());
    }

    /**
     * An unsigned WAL manifest as {@code wal-push} writes it for the data key {@code key}, recording the cluster
     * {@code systemIdentifier} (null: none): what a store that trusts itself ({@code BackupTrust.STORE}) accepts.
     */
    public static BackupManifest manifest(String key, long size, String systemIdentifier) {
        String file = key.substring(key.lastIndexOf('/') + 1, key.length() - SUFFIXES.length());
        Map<String, Object> facts = new LinkedHashMap<>(WalFileName.parse(file).facts(size));
        if (systemIdentifier != null) {
            facts.put(WalArchive.SYSTEM_IDENTIFIER, systemIdentifier);
        }
        return BackupManifest.builder()
                .id(file)
                .kind(WalArchive.KIND)
                .startedAt(Instant.parse("2026-01-11T02:00:00Z"))
                .completedAt(Instant.parse("2026-01-11T02:00:01Z"))
                .source("WAL file " + file)
                .sourceFacts(facts)
                .object(key, size, SHA)
                .plaintext(size, SHA)
                .build();
    }

    private static void write(Sink sink, String key, byte[] data) throws IOException {
        try (SinkOutput out = sink.create(key)) {
            out.write(data);
            out.commit();
        }
    }
}
