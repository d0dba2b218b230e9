package com.jiffoo.backup.testing.s3;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension ({@code @RegisterExtension static}) that starts one server of another process before a test
 * class's tests, with its data in a temporary directory, and stops it and removes the directory after them: the
 * shape of {@link S3MockServer.PerClass}, {@link S3rverServer.PerClass} and {@link CephRgwServer.PerClass}.
 *
 * @param <S> the server
 */
public abstract class PerClassServer<S extends AutoCloseable> implements BeforeAllCallback, AfterAllCallback {
    private final String name;
    private final String directoryPrefix;
    private S server;
    private Path dir;

    PerClassServer(String name, String directoryPrefix) {
        this.name = name;
        this.directoryPrefix = directoryPrefix;
    }

    /** The running server. */
    public S server() {
        if (server == null) {
            throw new IllegalStateException(name + " is not running: register PerClass as a static extension");
        }
        return server;
    }

    /** Skips the class, with the reason, when the server cannot run here; by default it always can. */
    void assumeAvailable() {}

    /** Starts the server with its data in {@code dir}, an empty directory. */
    abstract S start(Path dir) throws Exception;

    /** Removes the data directory after the server stopped. */
    void deleteDirectory(Path dir) throws Exception {
        com.jiffoo.backup.internal.LocalPaths.deleteTree(dir);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        assumeAvailable();
        dir = Files.createTempDirectory(directoryPrefix);
        server = start(dir);
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        try {
            if (server != null) {
                server.close();
            }
        } finally {
            if (dir != null) {
                deleteDirectory(dir);
            }
        }
    }
}
