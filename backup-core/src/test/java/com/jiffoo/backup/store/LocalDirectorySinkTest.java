package com.jiffoo.backup.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredObject;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalDirectorySinkTest {
    @TempDir
    Path dir;

    @Test
    void committedObjectIsVisibleAndReadable() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir.resolve("store"));
        try (SinkOutput out = sink.create("files/a b/ünïcode.bin")) {
            out.write("hello".getBytes(StandardCharsets.UTF_8));
            assertThat(sink.list("")).isEmpty();
            out.commit();
        }
        assertThat(sink.list(""))
                .extracting(StoredObject::key, StoredObject::size)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("files/a b/ünïcode.bin", 5L));
        try (InputStream in = sink.open("files/a b/ünïcode.bin")) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("hello");
        }
        assertThat(PosixFilePermissions.toString(
                        Files.getPosixFilePermissions(dir.resolve("store/files/a b/ünïcode.bin"))))
                .isEqualTo("rw-------");
    }

    @Test
    void closeWithoutCommitLeavesNothingBehind() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        try (SinkOutput out = sink.create("files/x.bin")) {
            out.write(new byte[100_000]);
        }
        assertThat(sink.list("")).isEmpty();
        assertThat(sink.temporaryFiles()).isEmpty();
        try (Stream<Path> files = Files.walk(dir)) {
            assertThat(files.filter(Files::isRegularFile)).isEmpty();
        }
    }

    @Test
    void temporaryFilesOfAnUnfinishedWriteAreNotListed() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        SinkOutput out = sink.create("files/x.bin");
        out.write(1);
        out.flush();
        assertThat(sink.list("files/")).isEmpty();
        assertThat(sink.temporaryFiles()).hasSize(1);
        out.close();
        assertThat(sink.temporaryFiles()).isEmpty();
    }

    @Test
    void listFiltersByPrefixAndSortsByKey() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        for (String k : new String[] {"files/b", "files/a", "database/c", "filesystem/d"}) {
            try (SinkOutput out = sink.create(k)) {
                out.commit();
            }
        }
        assertThat(sink.list("files/")).extracting(StoredObject::key).containsExactly("files/a", "files/b");
        assertThat(sink.list("files"))
                .extracting(StoredObject::key)
                .containsExactly("files/a", "files/b", "filesystem/d");
        assertThat(sink.list("nothing/")).isEmpty();
    }

    @Test
    void objectsAreWriteOnceAndALaterWriterCannotReplaceThem() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        SinkOutput first = sink.create("k");
        SinkOutput second = sink.create("k");
        first.write("one".getBytes(StandardCharsets.UTF_8));
        second.write("two".getBytes(StandardCharsets.UTF_8));
        first.commit();
        assertThatThrownBy(second::commit)
                .isInstanceOf(ObjectExistsException.class)
                .hasMessageContaining("k");
        second.close();
        first.close();
        try (InputStream in = sink.open("k")) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("one");
        }
        assertThat(sink.temporaryFiles()).isEmpty();
        sink.delete("k");
        try (SinkOutput out = sink.create("k")) {
            out.write("three".getBytes(StandardCharsets.UTF_8));
            out.commit();
        }
        try (InputStream in = sink.open("k")) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("three");
        }
    }

    @Test
    void deleteRemovesAndToleratesAbsentKeys() throws Exception {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        try (SinkOutput out = sink.create("files/x")) {
            out.commit();
        }
        sink.delete("files/x");
        sink.delete("files/x");
        assertThat(sink.list("")).isEmpty();
    }

    @Test
    void openOfMissingKeySaysWhatToDo() {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        assertThatThrownBy(() -> sink.open("files/none"))
                .isInstanceOf(NotFoundException.class)
                .hasMessageContaining("files/none")
                .hasMessageContaining(dir.toString());
    }

    @Test
    void refusesKeysThatEscapeTheRoot() {
        LocalDirectorySink sink = LocalDirectorySink.create(dir);
        for (String bad : new String[] {"../x", "/etc/passwd", "a/../../x", "a//b", "a/./b", ".tmp-x", ""}) {
            assertThatThrownBy(() -> sink.create(bad)).as(bad).isInstanceOf(ConfigurationException.class);
        }
    }

    @Test
    void refusesARootThatIsAFile() throws Exception {
        Path file = Files.writeString(dir.resolve("f"), "x");
        assertThatThrownBy(() -> LocalDirectorySink.create(file))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("not a directory");
    }

    @Test
    void listingWhileOtherWritersPublishInTheSameDirectoryNeverFails() throws Exception {
        // parallel WAL uploads publish temporary files in one directory while each one lists it to check its upload:
        // a temporary file renamed between the directory read and its stat must be skipped, not fail the listing
        try (LocalDirectorySink sink = LocalDirectorySink.create(dir)) {
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.List<Thread> writers = new java.util.ArrayList<>();
            java.util.concurrent.atomic.AtomicReference<Throwable> failed =
                    new java.util.concurrent.atomic.AtomicReference<>();
            for (int w = 0; w < 3; w++) {
                int id = w;
                Thread t = new Thread(() -> {
                    for (int n = 0; !stop.get(); n++) {
                        try (SinkOutput out = sink.create("wal/x/w" + id + "-" + n)) {
                            out.write(new byte[] {1, 2, 3});
                            out.commit();
                        } catch (Exception e) {
                            failed.compareAndSet(null, e);
                            return;
                        }
                    }
                });
                t.start();
                writers.add(t);
            }
            try {
                long until = System.nanoTime() + 3_000_000_000L;
                int listings = 0;
                while (System.nanoTime() < until && failed.get() == null) {
                    sink.list("wal/x/");
                    listings++;
                }
                assertThat(listings).isPositive();
            } finally {
                stop.set(true);
                for (Thread t : writers) {
                    t.join();
                }
            }
            assertThat(failed.get()).isNull();
            assertThat(sink.list("wal/x/")).isNotEmpty().allMatch(o -> !o.key().contains(".tmp-"));
        }
    }
}
