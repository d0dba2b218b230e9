package com.jiffoo.backup.testing;

import com.jiffoo.backup.Sink;
import com.jiffoo.backup.store.LocalDirectorySink;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;

class LocalDirectorySinkContractTest extends SinkContractTest {
    @TempDir
    Path dir;

    private LocalDirectorySink local;

    @Override
    protected Sink createSink() {
        local = LocalDirectorySink.create(dir.resolve("store"));
        return local;
    }

    @Override
    protected List<String> openUploads() throws Exception {
        return local.temporaryFiles().stream().map(Path::toString).toList();
    }
}
