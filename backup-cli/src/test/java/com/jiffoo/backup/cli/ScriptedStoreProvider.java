package com.jiffoo.backup.cli;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.StoreProvider;
import com.jiffoo.backup.store.StoreProviders;
import com.jiffoo.backup.store.StoreSettings;
import com.jiffoo.backup.testutil.ScriptedSink;
import java.net.URI;
import java.util.Set;

/**
 * A store scheme the launcher does not know, added from this test module only (its
 * {@code META-INF/services/com.jiffoo.backup.store.StoreProvider} names it): {@code scripted:<store URI>} is that
 * store wrapped in a {@link ScriptedSink}, whose location, {@code scripted:<store's location>}, comes back here.
 */
public final class ScriptedStoreProvider implements StoreProvider {

    @Override
    public Set<String> schemes() {
        return Set.of("scripted");
    }

    @Override
    public Sink open(URI uri, StoreSettings settings) {
        return new ScriptedSink(StoreProviders.open(uri.getRawSchemeSpecificPart(), settings));
    }
}
