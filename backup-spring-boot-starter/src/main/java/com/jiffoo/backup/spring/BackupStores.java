package com.jiffoo.backup.spring;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The configured store and its copies, opened by URI through {@link StoreProviders}. Closed with the application
 * context (Spring calls {@link #close()}).
 */
public final class BackupStores implements AutoCloseable {
    private final List<Sink> all;

    private BackupStores(List<Sink> all) {
        this.all = List.copyOf(all);
    }

    /**
     * Opens the store and each copy.
     *
     * @param store    {@code jiffoo.backup.store}
     * @param copies   {@code jiffoo.backup.copies}
     * @param settings the settings the stores read
     * @throws ConfigurationException naming the property when a URI is wrong or a store is named twice; the stores
     *                                already open are closed
     */
    public static BackupStores open(String store, List<String> copies, StoreSettings settings) {
        List<Sink> opened = new ArrayList<>();
        try {
            opened.add(open(store, "jiffoo.backup.store", settings));
            for (String copy : copies) {
                if (copy == null || copy.isBlank()) {
                    continue;
                }
                Sink sink = open(copy.trim(), "jiffoo.backup.copies", settings);
                opened.add(sink);
                for (Sink other : opened.subList(0, opened.size() - 1)) {
                    if (other.location().equals(sink.location())) {
                        throw new ConfigurationException("the store " + sink.location() + " is named twice"
                                + " (jiffoo.backup.store/copies); a copy must be another store than the store and"
                                + " the other copies.");
                    }
                }
            }
            return new BackupStores(opened);
        } catch (RuntimeException e) {
            for (Sink s : opened) {
                try {
                    s.close();
                } catch (IOException | RuntimeException ce) {
                    e.addSuppressed(ce);
                }
            }
            throw e;
        }
    }

    private static Sink open(String location, String property, StoreSettings settings) {
        try {
            return StoreProviders.open(location, settings);
        } catch (ConfigurationException e) {
            throw new ConfigurationException(
                    property + " (" + StoreProviders.redact(location) + "): " + e.getMessage(), e);
        }
    }

    /** The store: backups are written here first, restored and verified from here. */
    public Sink store() {
        return all.get(0);
    }

    /** The copies, in the configured order (none without copies). */
    public List<Sink> copies() {
        return all.subList(1, all.size());
    }

    /** The store, then the copies. */
    public List<Sink> all() {
        return all;
    }

    /** Closes every store; keeps the first error and throws it after closing the others. */
    @Override
    public void close() throws IOException {
        com.jiffoo.backup.internal.Closing.closeAll(all, IOException.class, Sink::close);
    }
}
