package com.jiffoo.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.RestoreException;
import com.jiffoo.backup.RestorePipeline;
import com.jiffoo.backup.SourceException;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.files.BucketRestoreTarget;
import com.jiffoo.backup.files.BucketSource;
import com.jiffoo.backup.files.FileChain;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.store.ObjectBucket;
import com.jiffoo.backup.testing.s3.S3Endpoint;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code backup files --from s3://…} and {@code restore files --to s3://…} against a real S3 implementation: the
 * bucket's objects into an encrypted tar in a local store and back into another prefix, GNU tar (after gpg) as the
 * referee of the archive, chains of increments.
 */
abstract class BucketFilesContract {
    private static final AtomicInteger RUN = new AtomicInteger();

    @TempDir
    Path tmp;

    abstract S3Endpoint server();

    static ObjectBucket bucket(S3Endpoint server, String prefix) {
        return S3Sink.bucket(S3SinkContractTest.sinkAt(server, prefix));
    }

    String newPrefix() {
        return "bucket-" + getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT) + "-" + RUN.incrementAndGet()
                + "-" + System.nanoTime();
    }

    OpenPgpTransform pgp() {
        Path key = tmp.resolve("backup.key");
        if (!Files.exists(key)) {
            PassphraseKeyFile.generate(key);
        }
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(key))
                .build();
    }

    static void put(ObjectBucket b, String key, String content, String type, Map<String, String> meta)
            throws Exception {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        b.put(key, new ByteArrayInputStream(bytes), bytes.length, type, meta);
    }

    /** Every object under the bucket's prefix: key to content SHA-256, content type and metadata. */
    static Map<String, String> snapshot(ObjectBucket b) throws Exception {
        Map<String, String> out = new TreeMap<>();
        Iterator<ObjectBucket.Item> it = b.list("", false);
        while (it.hasNext()) {
            ObjectBucket.Item item = it.next();
            ObjectBucket.Content c = b.get(item.key());
            try (var in = c.content()) {
                java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
                byte[] buf = new byte[65536];
                int n;
                while ((n = in.read(buf)) > 0) {
                    sha.update(buf, 0, n);
                }
                out.put(
                        item.key(),
                        java.util.HexFormat.of().formatHex(sha.digest()) + " " + c.contentType() + " "
                                + new TreeMap<>(c.metadata()));
            }
        }
        return out;
    }

    /** Writes objects in parallel (the server, not the test, should be what takes time). */
    static void putMany(ObjectBucket b, int count) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> all = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                int n = i;
                all.add(pool.submit(() -> {
                    put(b, "many/d" + (n % 10) + "/obj-" + n + ".txt", "object " + n, "text/plain", Map.of());
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    BackupManifest backUp(
            ObjectBucket source, LocalDirectorySink store, BackupManifest parent, boolean chain, Instant now) {
        BucketSource.Builder b = BucketSource.builder(source);
        if (chain) {
            b.chain(parent);
        }
        return BackupPipeline.builder()
                .source(b.build())
                .encryption(pgp())
                .sink(store)
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .build()
                .run();
    }

    RestorePipeline restoreInto(LocalDirectorySink store, ObjectBucket target, boolean replace) {
        return RestorePipeline.builder()
                .sink(store)
                .decryption(pgp())
                .target(BucketRestoreTarget.builder(target)
                        .replaceExisting(replace)
                        .build())
                .build();
    }

    /** Runs a shell command, returns its standard output; fails on a non-zero exit. */
    static String sh(Path dir, String command) throws Exception {
        Process p = new ProcessBuilder("bash", "-c", command)
                .directory(dir.toFile())
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(command).isZero();
        return out;
    }

    String gpgTarList(LocalDirectorySink store, BackupManifest m) throws Exception {
        return sh(
                tmp,
                "set -o pipefail; gpg --homedir " + Files.createDirectories(tmp.resolve("gnupg"))
                        + " --batch --quiet --pinentry-mode loopback --passphrase-file " + tmp.resolve("backup.key")
                        + " -d " + store.pathOf(m.objectKey()) + " | tar -tz 2>/dev/null");
    }

    /**
     * How many small objects the round trip puts: 10,000 against S3Proxy (the figure); a server that is slower
     * per request may use fewer, since what it must show is the same protocol, not the same scale.
     */
    int manyObjects() {
        return 10_000;
    }

    @Test
    void manyObjectsRoundTripWithContentTypeAndMetadata() throws Exception {
        String prefix = newPrefix();
        LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store"));
        try (ObjectBucket source = bucket(server(), prefix + "/src");
                ObjectBucket target = bucket(server(), prefix + "/dst")) {
            long t0 = System.nanoTime();
            int many = manyObjects();
            putMany(source, many);
            put(
                    source,
                    "photos/cat.jpg",
                    "not really a jpeg",
                    "image/jpeg",
                    Map.of("owner", "shop-42", "alt", "a cat"));
            put(source, "top.txt", "at the top", "text/plain; charset=utf-8", Map.of());
            System.out.printf(
                    "%s: %d objects put in %d ms%n",
                    getClass().getSimpleName(), many + 2, (System.nanoTime() - t0) / 1_000_000);
            Map<String, String> before = snapshot(source);
            assertThat(before).hasSize(many + 2);

            t0 = System.nanoTime();
            BackupManifest m = backUp(source, store, null, false, Instant.now());
            System.out.printf(
                    "%s: backup in %d ms%n", getClass().getSimpleName(), (System.nanoTime() - t0) / 1_000_000);
            assertThat(m.sourceFacts())
                    .containsEntry("fileCount", (long) many + 2)
                    .containsEntry("bucket", source.location());

            // GNU tar, after gpg, lists every key as a path
            List<String> listed = gpgTarList(store, m).lines().toList();
            assertThat(listed).contains("photos/cat.jpg", "top.txt", "many/d3/obj-13.txt", "many/", "many/d3/");
            assertThat(listed.stream().filter(l -> !l.endsWith("/")).count()).isEqualTo(many + 2);

            t0 = System.nanoTime();
            restoreInto(store, target, false).restore(m.objectKey());
            System.out.printf(
                    "%s: restore in %d ms%n", getClass().getSimpleName(), (System.nanoTime() - t0) / 1_000_000);
            Map<String, String> after = snapshot(target);
            assertThat(after).isEqualTo(before);
            assertThat(after.get("photos/cat.jpg"))
                    .contains("image/jpeg")
                    .contains("owner=shop-42")
                    .contains("alt=a cat");

            // a non-empty target is refused, and left as it was
            assertThatThrownBy(() -> restoreInto(store, target, false).restore(m.objectKey()))
                    .isInstanceOf(RestoreException.class)
                    .hasMessageContaining("not empty");
            assertThat(target.list("", true))
                    .toIterable()
                    .noneMatch(i -> i.key().startsWith(".jiffoo-restore-"));
        }
    }

    @Test
    void aDamagedBackupLeavesTheTargetUntouchedAndNoStagedObjects() throws Exception {
        String prefix = newPrefix();
        LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store"));
        try (ObjectBucket source = bucket(server(), prefix + "/src");
                ObjectBucket target = bucket(server(), prefix + "/dst")) {
            for (int i = 0; i < 50; i++) {
                put(source, "f" + i, "content " + i, "text/plain", Map.of());
            }
            put(target, "keep.txt", "was here", "text/plain", Map.of());
            BackupManifest m = backUp(source, store, null, false, Instant.now());
            // one byte flipped in the stored object (as a broken disk would), with a text editor's tool: dd
            Path data = store.pathOf(m.objectKey());
            sh(
                    tmp,
                    "printf '\\x00' | dd of=" + data + " bs=1 seek=" + (Files.size(data) - 40)
                            + " conv=notrunc status=none");
            assertThatThrownBy(() -> restoreInto(store, target, true).restore(m.objectKey()))
                    .isInstanceOf(IntegrityException.class);
            assertThat(snapshot(target)).containsOnlyKeys("keep.txt");
        }
    }

    @Test
    void unsafeKeysAreRefusedNamingTheKey() throws Exception {
        LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store"));
        List<String> tested = new ArrayList<>();
        for (String bad : List.of("a/../b", "a//b", "x/./y", "/leading")) {
            String prefix = newPrefix();
            try (ObjectBucket source = bucket(server(), prefix)) {
                put(source, "ok.txt", "fine", "text/plain", Map.of());
                try {
                    put(source, bad, "bad", "text/plain", Map.of());
                } catch (java.io.IOException e) {
                    // a server that keeps objects as files cannot hold such a key at all
                    System.out.printf(
                            "%s: the server refuses the key %s: %s%n",
                            getClass().getSimpleName(), bad, e);
                    continue;
                }
                List<String> held = new ArrayList<>();
                source.list("", false).forEachRemaining(i -> held.add(i.key()));
                if (!held.contains(bad)) {
                    // the HTTP stack normalised the path ("x/./y" became "x/y"): a safe key was stored
                    System.out.printf(
                            "%s: the server stored %s as %s%n", getClass().getSimpleName(), bad, held);
                    continue;
                }
                tested.add(bad);
                assertThatThrownBy(() -> backUp(source, store, null, false, Instant.now()))
                        .isInstanceOf(SourceException.class)
                        .hasMessageContaining("The key '" + bad + "'")
                        .hasMessageContaining("is not a safe path");
            }
        }
        System.out.printf("%s: unsafe keys tested: %s%n", getClass().getSimpleName(), tested);
        String prefix = newPrefix();
        try (ObjectBucket source = bucket(server(), prefix)) {
            put(source, "both", "a file", "text/plain", Map.of());
            try {
                put(source, "both/inner", "and a directory", "text/plain", Map.of());
            } catch (java.io.IOException e) {
                System.out.printf(
                        "%s: the server cannot hold both 'both' and 'both/inner': %s%n",
                        getClass().getSimpleName(), e);
                return;
            }
            assertThatThrownBy(() -> backUp(source, store, null, false, Instant.now()))
                    .isInstanceOf(SourceException.class)
                    .hasMessageContaining("'both'")
                    .hasMessageContaining("also the prefix");
        }
        assertThat(StoredBackups.of(store).committed("files")).isEmpty();
    }

    @Test
    void aChainOfIncrementsRestoresToTheBucketsState() throws Exception {
        String prefix = newPrefix();
        LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store"));
        try (ObjectBucket source = bucket(server(), prefix + "/src")) {
            for (int i = 0; i < 30; i++) {
                put(source, "d" + (i % 3) + "/f" + i + ".txt", "v1 " + i, "text/plain", Map.of("n", "" + i));
            }
            put(source, "gone/whole/tree.txt", "to be deleted", "text/plain", Map.of());
            Instant now = Instant.now();
            List<Map<String, String>> states = new ArrayList<>();
            List<BackupManifest> links = new ArrayList<>();
            for (int step = 0; step < 4; step++) {
                switch (step) {
                    case 1 -> { // additions, a change of the same size, a metadata-only change, a deletion
                        // a new second: Last-Modified has whole seconds, and the metadata-only rewrite below keeps
                        // size and ETag, so only its time tells it changed (docs/incremental.md)
                        Thread.sleep(1100);
                        put(source, "d0/new.txt", "added", "text/markdown", Map.of());
                        put(source, "d1/f1.txt", "v2 1", "text/plain", Map.of("n", "1"));
                        put(source, "d2/f2.txt", "v1 2", "application/json", Map.of("n", "changed"));
                        source.delete(List.of("d0/f3.txt"));
                    }
                    case 2 -> { // a whole prefix deleted, a file where a directory was
                        source.delete(List.of("gone/whole/tree.txt"));
                        put(source, "gone", "now a file", "text/plain", Map.of());
                    }
                    case 3 -> { // nothing changed
                    }
                    default -> {}
                }
                now = now.plus(Duration.ofMinutes(5));
                FileChain.Plan plan = FileChain.policy()
                        .planBucket(StoredBackups.of(store).committed("files"), source.location(), now);
                assertThat(plan.parent().isPresent()).as(plan.reason()).isEqualTo(step > 0);
                BackupManifest m = backUp(source, store, plan.parent().orElse(null), true, now);
                links.add(m);
                states.add(snapshot(source));
            }
            assertThat(((Number) links.get(3).sourceFacts().get("fileCount")).longValue())
                    .isZero();
            assertThat(((Number) links.get(1).sourceFacts().get("fileCount")).longValue())
                    .isEqualTo(3);
            for (int i = 0; i < links.size(); i++) {
                try (ObjectBucket target = bucket(server(), prefix + "/restored" + i)) {
                    restoreInto(store, target, false).restore(links.get(i).objectKey());
                    assertThat(snapshot(target)).as("the chain up to link " + i).isEqualTo(states.get(i));
                }
            }
            // GNU tar, applying the chain in order with -g, gives the same keys as paths
            Path tree = Files.createDirectories(tmp.resolve("gnutar"));
            for (BackupManifest m : links) {
                sh(
                        tmp,
                        "set -o pipefail; gpg --homedir " + Files.createDirectories(tmp.resolve("gnupg"))
                                + " --batch --quiet --pinentry-mode loopback --passphrase-file "
                                + tmp.resolve("backup.key") + " -d " + store.pathOf(m.objectKey())
                                + " | tar -xz -g /dev/null -C " + tree + " 2>/dev/null");
            }
            List<String> files = sh(tree, "find . -type f | sed 's|^./||' | LC_ALL=C sort")
                    .lines()
                    .toList();
            assertThat(files)
                    .containsExactlyElementsOf(new TreeMap<>(states.get(3))
                            .keySet().stream()
                                    .sorted(java.util.Comparator.comparing(
                                            k -> k.getBytes(StandardCharsets.UTF_8), java.util.Arrays::compareUnsigned))
                                    .toList());
            // a restore with --replace over a populated prefix makes it hold exactly the backup
            try (ObjectBucket target = bucket(server(), prefix + "/restored0")) {
                restoreInto(store, target, true).restore(links.get(3).objectKey());
                assertThat(snapshot(target)).isEqualTo(states.get(3));
            }
        }
    }

    /**
     * A bucket whose GET of the keys {@code missing} asks the server for a key that is not there, so the server's own
     * 404 comes back for an object its listing just showed (a key deleted between listing and reading, or a server
     * that is only eventually consistent). Everything else goes to the bucket unchanged.
     */
    record ListedButMissing(ObjectBucket bucket, java.util.function.Predicate<String> missing) implements ObjectBucket {
        @Override
        public String location() {
            return bucket.location();
        }

        @Override
        public com.jiffoo.backup.store.BucketLocation bucketLocation() {
            return bucket.bucketLocation();
        }

        @Override
        public Iterator<Item> list(String prefix, boolean oneLevel) throws java.io.IOException {
            return bucket.list(prefix, oneLevel);
        }

        @Override
        public Content get(String key) throws java.io.IOException {
            return bucket.get(missing.test(key) ? key + ".not-there-" + System.nanoTime() : key);
        }

        @Override
        public void put(String key, java.io.InputStream content, long size, String type, Map<String, String> meta)
                throws java.io.IOException {
            bucket.put(key, content, size, type, meta);
        }

        @Override
        public void copy(String from, String to, long size) throws java.io.IOException {
            bucket.copy(from, to, size);
        }

        @Override
        public void delete(List<String> keys) throws java.io.IOException {
            bucket.delete(keys);
        }

        @Override
        public void close() {}
    }

    private static long fileCount(BackupManifest m) {
        return ((Number) m.sourceFacts().get("fileCount")).longValue();
    }

    @Test
    void anObjectListedButNotReadIsStoredByTheNextIncrement() throws Exception {
        String prefix = newPrefix();
        LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store"));
        try (ObjectBucket source = bucket(server(), prefix + "/src")) {
            for (int i = 0; i < 5; i++) {
                put(source, "d/f" + i + ".txt", "content " + i, "text/plain", Map.of());
            }
            Instant now = Instant.now().plus(Duration.ofMinutes(5));
            BackupManifest full = backUp(new ListedButMissing(source, "d/f2.txt"::equals), store, null, true, now);
            assertThat(fileCount(full)).isEqualTo(4);
            assertThat(full.sourceFacts().get("vanished")).isEqualTo(1L);
            assertThat(full.sourceFacts().get("vanishedPaths")).isEqualTo(List.of("d/f2.txt"));

            // nothing changed in the bucket: the increment still stores the object the full backup could not read
            BackupManifest next = backUp(source, store, full, true, now.plus(Duration.ofMinutes(5)));
            assertThat(fileCount(next)).isEqualTo(1);
            assertThat(gpgTarList(store, next)).contains("d/f2.txt");
            try (ObjectBucket target = bucket(server(), prefix + "/restored")) {
                restoreInto(store, target, false).restore(next.objectKey());
                assertThat(snapshot(target)).isEqualTo(snapshot(source));
            }
        }
    }

    @Test
    void withoutTheParentsFileListAnIncrementStoresEveryObjectAgain() throws Exception {
        String prefix = newPrefix();
        LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store"));
        try (ObjectBucket source = bucket(server(), prefix + "/src")) {
            // more vanished keys than a manifest names (1000): the parent's list cannot be trusted for any of them
            putMany(source, 1001);
            Instant now = Instant.now().plus(Duration.ofMinutes(5));
            BackupManifest full = backUp(new ListedButMissing(source, k -> true), store, null, true, now);
            assertThat(fileCount(full)).isZero();
            assertThat(full.sourceFacts().get("vanishedPathsOmitted")).isEqualTo(true);

            // the objects are older than the parent's start: GNU tar's time rule would store none of them
            BackupManifest next = backUp(source, store, full, true, now.plus(Duration.ofMinutes(5)));
            assertThat(fileCount(next)).isEqualTo(1001);
            try (ObjectBucket target = bucket(server(), prefix + "/restored")) {
                restoreInto(store, target, false).restore(next.objectKey());
                assertThat(snapshot(target)).isEqualTo(snapshot(source));
            }
        }
    }

    @Test
    void anObjectWhoseStagedKeyWouldBeTooLongIsRefusedNamingItAndTheTargetStaysUntouched() throws Exception {
        String prefix = newPrefix();
        LocalDirectorySink store = LocalDirectorySink.create(tmp.resolve("store"));
        // 5 segments of 190 characters (a file system server keeps each as a file name): a key of 954 bytes, valid
        // in the source; a restore's staging prefix (.jiffoo-restore-<time>-<hex>/, 42 bytes) and the target's
        // prefix push it over S3's 1024
        String longKey = String.join("/", java.util.Collections.nCopies(5, "x".repeat(190)));
        try (ObjectBucket source = bucket(server(), prefix + "/src");
                ObjectBucket target = bucket(server(), prefix + "/restored")) {
            put(source, "short.txt", "short", "text/plain", Map.of());
            put(source, longKey, "long", "text/plain", Map.of());
            BackupManifest m = backUp(source, store, null, false, Instant.now());
            assertThatThrownBy(() -> restoreInto(store, target, false).restore(m.objectKey()))
                    .isInstanceOf(RestoreException.class)
                    .hasMessageContaining(longKey)
                    .hasMessageContaining("over S3's limit of 1024");
            assertThat(snapshot(target))
                    .as("nothing staged or restored is left")
                    .isEmpty();
        }
    }
}
