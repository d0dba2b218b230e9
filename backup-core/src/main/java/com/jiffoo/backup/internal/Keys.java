package com.jiffoo.backup.internal;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StoredObject;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Object keys: the checks every sink shares, and the pruning of time-tagged series. Not public API. */
public final class Keys {
    private Keys() {}

    /** The objects of a time-tagged series ({@link com.jiffoo.backup.store.StoreLayout}), newest first (by name, which sorts by time). */
    public static List<StoredObject> newestFirst(List<StoredObject> series) {
        List<StoredObject> out = new ArrayList<>(series);
        out.sort(Comparator.comparing(StoredObject::key).reversed());
        return out;
    }

    /** Deletes the objects of a time-tagged series ({@link com.jiffoo.backup.store.StoreLayout}) beyond the newest {@code keep}. */
    public static void keepNewest(Sink sink, List<StoredObject> series, int keep) throws IOException {
        List<StoredObject> sorted = newestFirst(series);
        for (StoredObject old : sorted.subList(Math.min(keep, sorted.size()), sorted.size())) {
            sink.delete(old.key());
        }
    }

    /**
     * Checks that {@code key} is a relative {@code /}-separated path with no empty, {@code .} or {@code ..} segment
     * and no control characters.
     *
     * @return the key
     * @throws ConfigurationException naming the key and what is wrong
     */
    public static String check(String key) {
        if (key == null || key.isEmpty()) {
            throw new ConfigurationException("An object key must not be empty.");
        }
        if (key.startsWith("/") || key.endsWith("/")) {
            throw new ConfigurationException(
                    "The object key '" + key
                            + "' must be relative (no leading or trailing '/'), e.g. files/files_backup_20260111_030000.tar.gz.gpg");
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new ConfigurationException("The object key '" + key
                        + "' has an empty, '.' or '..' segment; keys are plain relative paths.");
            }
        }
        for (int i = 0; i < key.length(); i++) {
            if (Character.isISOControl(key.charAt(i))) {
                throw new ConfigurationException(
                        "The object key '" + key.replaceAll("\\p{Cntrl}", "?") + "' contains a control character.");
            }
        }
        return key;
    }
}
