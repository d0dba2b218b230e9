package com.jiffoo.backup.wal;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the store holds under {@code wal/}, read with one listing: every archived file (segment, partial segment,
 * backup history file, timeline history file) with all its objects, and whether it is committed — its manifest
 * exists ({@link StoreLayout#MANIFEST_SUFFIX}). A data object without its manifest was never archived (a killed
 * push): PostgreSQL was not told it was, and will push it again.
 *
 * <p>Reads names only, never contents (a committed file is not necessarily an authentic one: {@link WalContinuity}
 * checks the manifests); immutable once read.
 */
public final class WalInventory {
    /** A file name under {@code wal/<16 hex>/}: a segment, then {@code .partial} or {@code .<offset>.backup}. */
    private static final Pattern IN_FOLDER =
            Pattern.compile("([0-9A-F]{24})(\\.partial|\\.[0-9A-F]{8}\\.backup)?(\\..*)?");
    /** A timeline history file's name under {@code wal/}. */
    private static final Pattern HISTORY = Pattern.compile("([0-9A-F]{8})\\.history(\\..*)?");

    private final List<WalFile> files;

    private WalInventory(List<WalFile> files) {
        this.files = List.copyOf(files);
    }

    /** What kind of file PostgreSQL archived. */
    public enum Type {
        /** A whole segment, {@code 000000010000000000000003}. */
        SEGMENT,
        /** The last, partial segment of a timeline that ended ({@code ...03.partial}). */
        PARTIAL,
        /** A backup history file written when a base backup ends ({@code ...03.00000028.backup}). */
        BACKUP_HISTORY,
        /** A timeline history file ({@code 00000002.history}). */
        TIMELINE_HISTORY
    }

    /**
     * One archived file with its objects in the store.
     *
     * @param name         PostgreSQL's name of the file, e.g. {@code 000000010000000000000003}, {@code 00000002.history}
     * @param type         its type
     * @param segment      for every type but a timeline history: the 24-hex segment name it belongs to; else null
     * @param timeline     its timeline
     * @param dataKey      the key of its data object
     * @param keys         every object of it in the store (data, signature, manifest, …), data first
     * @param committed    whether its manifest exists
     * @param lastModified when its manifest was written (committed), else when its newest object was
     */
    public record WalFile(
            String name,
            Type type,
            String segment,
            long timeline,
            String dataKey,
            List<String> keys,
            boolean committed,
            Instant lastModified) {
        /** Copies the list. */
        public WalFile {
            keys = List.copyOf(keys);
        }

        /**
         * The keys in the order a deletion must take: manifest first (the file is no longer archived), then its
         * signature, then the rest, data last.
         */
        public List<String> deletionOrder() {
            List<String> out = new ArrayList<>(keys);
            out.sort(Comparator.comparingInt(k -> k.equals(StoreLayout.manifestKey(dataKey))
                    ? 0
                    : k.equals(StoreLayout.signatureKey(dataKey)) ? 1 : k.equals(dataKey) ? 3 : 2));
            return out;
        }
    }

    /**
     * Lists {@code wal/} in {@code sink}.
     *
     * @throws StorageException when the store cannot be listed
     */
    public static WalInventory read(Sink sink) {
        List<StoredObject> objects;
        try {
            objects = sink.list(StoreLayout.WAL_PREFIX);
        } catch (IOException e) {
            throw new StorageException(
                    "Cannot list the WAL archive (" + StoreLayout.WAL_PREFIX + ") in " + sink.location() + ": "
                            + e.getMessage() + ". Check that the store is reachable and readable.",
                    null,
                    sink.location(),
                    e);
        }
        Map<String, List<StoredObject>> byData = new LinkedHashMap<>();
        for (StoredObject o : objects) {
            byData.computeIfAbsent(StoreLayout.dataKeyOf(o.key()), k -> new ArrayList<>())
                    .add(o);
        }
        List<WalFile> files = new ArrayList<>();
        byData.forEach((dataKey, objs) -> {
            WalFile f = file(dataKey, objs);
            if (f != null) {
                files.add(f);
            }
        });
        files.sort(Comparator.comparing(WalFile::dataKey));
        return new WalInventory(files);
    }

    /** Null for a key that is no archived file of ours (left alone). */
    private static WalFile file(String dataKey, List<StoredObject> objs) {
        String rest = dataKey.substring(StoreLayout.WAL_PREFIX.length());
        String name;
        Type type;
        String segment = null;
        long timeline;
        Matcher h = HISTORY.matcher(rest);
        int slash = rest.indexOf('/');
        if (slash < 0 && h.matches()) {
            type = Type.TIMELINE_HISTORY;
            name = h.group(1) + ".history";
            timeline = Long.parseLong(h.group(1), 16);
        } else {
            Matcher m = slash == 16 ? IN_FOLDER.matcher(rest.substring(17)) : null;
            if (m == null || !m.matches() || !m.group(1).startsWith(rest.substring(0, 16))) {
                return null;
            }
            segment = m.group(1);
            String tail = m.group(2);
            type = tail == null ? Type.SEGMENT : tail.equals(".partial") ? Type.PARTIAL : Type.BACKUP_HISTORY;
            name = segment + (tail == null ? "" : tail);
            timeline = Long.parseLong(segment.substring(0, 8), 16);
        }
        String manifestKey = StoreLayout.manifestKey(dataKey);
        StoredObject manifest = null;
        Instant newest = Instant.EPOCH;
        List<String> keys = new ArrayList<>();
        for (StoredObject o : objs) {
            if (o.key().equals(manifestKey)) {
                manifest = o;
            }
            if (o.lastModified().isAfter(newest)) {
                newest = o.lastModified();
            }
            keys.add(o.key());
        }
        keys.sort(Comparator.comparing((String k) -> !k.equals(dataKey)).thenComparing(k -> k));
        return new WalFile(
                name,
                type,
                segment,
                timeline,
                dataKey,
                keys,
                manifest != null,
                manifest != null ? manifest.lastModified() : newest);
    }

    /** This inventory without the files whose data key is in {@code dataKeys} (e.g. those that failed a check). */
    public WalInventory without(java.util.Set<String> dataKeys) {
        return new WalInventory(
                files.stream().filter(f -> !dataKeys.contains(f.dataKey())).toList());
    }

    /** Every archived file, by data key. */
    public List<WalFile> files() {
        return files;
    }

    /** The committed files of one type. */
    public List<WalFile> committed(Type type) {
        return files.stream().filter(f -> f.committed() && f.type() == type).toList();
    }

    /** The data objects whose manifest is missing: pushes that did not finish. */
    public List<WalFile> uncommitted() {
        return files.stream().filter(f -> !f.committed()).toList();
    }

    /** True when nothing is archived (committed) at all. */
    public boolean isEmpty() {
        return files.stream().noneMatch(WalFile::committed);
    }

    /** The committed file written last (by its manifest's time), or null. */
    public WalFile newest() {
        return files.stream()
                .filter(WalFile::committed)
                .max(Comparator.comparing(WalFile::lastModified))
                .orElse(null);
    }
}
