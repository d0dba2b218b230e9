package com.jiffoo.backup.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * What a store module's {@code StoreProvider} test checks against a running store, written once: the store named by
 * a URI opens, names itself, and a backup it holds is found again by the backup URI it gave.
 */
public final class StoreUris {
    private StoreUris() {}

    /**
     * Opens {@code location + query} with {@link StoreProviders#open(String, StoreSettings)} and checks that it is a
     * {@code type} whose {@link Sink#location()} is {@code location}; writes a small object under {@code key}, takes
     * its {@link StoreProviders#backupUri(Sink, String) backup URI}, {@link StoreProviders#locate locates}
     * {@code backupUri + query} and reads the object back through the store found.
     *
     * @param query what the store needs beyond its location and {@code settings} ({@code ?endpoint=...}), or empty
     * @throws AssertionError when any of that does not hold
     */
    public static void assertOpensAndLocates(
            String location, String query, StoreSettings settings, Class<? extends Sink> type, String key)
            throws IOException {
        byte[] content = "stored".getBytes(StandardCharsets.UTF_8);
        String uri;
        try (Sink store = StoreProviders.open(location + query, settings);
                SinkOutput out = store.create(key)) {
            assertInstanceOf(type, store);
            assertEquals(location, store.location());
            out.write(content);
            out.commit();
            uri = StoreProviders.backupUri(store, key);
        }
        StoreProviders.Located at = StoreProviders.locate(uri + query, settings);
        try (Sink store = at.store();
                InputStream in = store.open(at.key())) {
            assertEquals(key, at.key());
            assertArrayEquals(content, in.readAllBytes());
        }
    }
}
