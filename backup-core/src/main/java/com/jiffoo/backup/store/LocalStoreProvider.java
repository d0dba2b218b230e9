package com.jiffoo.backup.store;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * Opens {@code file:} URIs ({@code file:/var/backups/jiffoo}, {@code file:///var/backups/jiffoo}) and plain paths
 * (through {@link StoreProviders}) as a {@link LocalDirectorySink}. The directory must exist. No settings.
 */
public final class LocalStoreProvider implements StoreProvider {

    @Override
    public Set<String> schemes() {
        return Set.of("file");
    }

    @Override
    public Sink open(URI uri, StoreSettings settings) {
        Path dir = (uri.isOpaque() ? Path.of(uri.getSchemeSpecificPart()) : Path.of(uri)).toAbsolutePath();
        if (!Files.isDirectory(dir)) {
            throw new ConfigurationException("the backup directory " + dir + " does not exist; create it (`install -d"
                    + " -m 700 " + dir + "`) or name an existing directory.");
        }
        return LocalDirectorySink.create(dir);
    }
}
