package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.s3.S3Sink;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import com.jiffoo.backup.testutil.TestKeys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * {@link WalArchive} with real WAL from a throwaway PostgreSQL 16 cluster (archived by {@code cp} into a directory),
 * on a local directory store and on S3Proxy; damage is made with python, the emergency path is {@code gpg | zstd}.
 */
class WalArchiveTest {
    private static final String HISTORY = "00000002.history";

    private static RealWal wal;
    private static Path collected;
    private static Path segment;
    private static Path backupHistory;
    private static Path keyFile;
    private static S3ProxyServer s3;

    @TempDir
    Path tmp;

    @BeforeAll
    static void realWal() throws Exception {
        wal = RealWal.archive(
                2,
                "create table t (id int, pad text)",
                "insert into t select g, repeat('x', 200) from generate_series(1, 20000) g",
                "select pg_switch_wal()",
                "select pg_backup_start('wal-test', true)",
                "select * from pg_backup_stop(true)"); // waits until the .backup file is archived
        collected = wal.collected();
        keyFile = wal.keyFile();
        segment = wal.segments().get(0);
        backupHistory = wal.files().stream()
                .filter(p -> p.getFileName().toString().endsWith(".backup"))
                .findFirst()
                .orElseThrow();
        assertThat(Files.size(segment)).isEqualTo(16L << 20);
        s3 = S3ProxyServer.startTransient();
    }

    @AfterAll
    static void stop() throws Exception {
        if (wal != null) {
            wal.close();
        }
        if (s3 != null) {
            s3.close();
        }
    }

    private static OpenPgpTransform pgp(Path key) {
        return OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(key))
                .build();
    }

    private Sink store(String kind) throws IOException {
        if (kind.equals("local")) {
            return LocalDirectorySink.create(tmp.resolve("store"));
        }
        return s3Sink(s3, "wal-test-" + System.nanoTime());
    }

    private static Sink s3Sink(S3ProxyServer server, String prefix) {
        return S3Sink.builder()
                .uri("s3://" + server.bucket() + "/" + prefix)
                .endpointOverride(server.endpoint())
                .pathStyleAccess(true)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(server.accessKey(), server.secretKey())))
                .build();
    }

    private static WalArchive archive(Sink sink) {
        return WalArchive.builder()
                .sink(sink)
                .encryption(pgp(keyFile))
                .fetchAttempts(2, Duration.ofMillis(10))
                .build();
    }

    private static String name(Path p) {
        return p.getFileName().toString();
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void realSegmentRoundTripsThroughTheStore(String kind) throws Exception {
        try (Sink sink = store(kind)) {
            WalArchive wal = archive(sink);
            assertThat(wal.push(segment)).isEqualTo(WalArchive.Pushed.STORED);
            String dataKey = "wal/" + name(segment).substring(0, 16) + "/" + name(segment) + ".zst.gpg";
            assertThat(sink.list("wal/").stream().map(o -> o.key()))
                    .containsExactly(dataKey, dataKey + ".manifest.json", dataKey + ".manifest.json.sig", WalHead.KEY);
            String manifest = new String(sink.open(dataKey + ".manifest.json").readAllBytes(), StandardCharsets.UTF_8);
            assertThat(manifest)
                    .contains("\"kind\" : \"wal\"", "\"walFile\" : \"" + name(segment) + "\"", "\"timeline\" : 1")
                    .contains("\"startLsn\" : \"0/"
                            + Long.toHexString(Long.parseLong(name(segment).substring(16), 16) << 24)
                                    .toUpperCase(java.util.Locale.ROOT)
                            + "\"");

            Path dest = tmp.resolve("RECOVERYXLOG");
            assertThat(wal.fetch(name(segment), dest)).isEqualTo(WalArchive.Fetched.FOUND);
            assertThat(Files.mismatch(dest, segment)).isEqualTo(-1L);
            assertThat(tmp.resolve("RECOVERYXLOG.jiffoo-fetch.tmp")).doesNotExist();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void historyBackupHistoryAndPartialFilesRoundTrip(String kind) throws Exception {
        Path history = tmp.resolve(HISTORY);
        Files.writeString(history, "1\t0/3000158\tno recovery target specified\n");
        try (Sink sink = store(kind)) {
            WalArchive wal = archive(sink);
            assertThat(wal.push(history)).isEqualTo(WalArchive.Pushed.STORED);
            assertThat(wal.push(backupHistory)).isEqualTo(WalArchive.Pushed.STORED);
            assertThat(sink.list("wal/").stream().map(o -> o.key()))
                    .contains(
                            "wal/00000002.history.zst.gpg.manifest.json",
                            "wal/" + name(backupHistory).substring(0, 16) + "/" + name(backupHistory)
                                    + ".zst.gpg.manifest.json");
            Path dest = tmp.resolve("fetched");
            assertThat(wal.fetch(HISTORY, dest)).isEqualTo(WalArchive.Fetched.FOUND);
            assertThat(Files.mismatch(dest, history)).isEqualTo(-1L);
            assertThat(wal.fetch(name(backupHistory), dest)).isEqualTo(WalArchive.Fetched.FOUND);
            assertThat(Files.mismatch(dest, backupHistory)).isEqualTo(-1L);

            Path partial = Files.copy(segment, tmp.resolve(name(segment) + ".partial"));
            assertThat(wal.push(partial)).isEqualTo(WalArchive.Pushed.STORED);
            assertThat(wal.fetch(name(partial), dest)).isEqualTo(WalArchive.Fetched.FOUND);
            assertThat(Files.mismatch(dest, segment)).isEqualTo(-1L);
            assertThat(sink.list("wal/" + name(segment).substring(0, 16) + "/").stream()
                            .map(o -> o.key()))
                    .contains("wal/" + name(segment).substring(0, 16) + "/" + name(partial) + ".zst.gpg.manifest.json");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void samePushTwiceSucceedsOtherContentIsRefusedAndTheStoredOneKept(String kind) throws Exception {
        try (Sink sink = store(kind)) {
            WalArchive wal = archive(sink);
            wal.push(segment);
            String dataKey = "wal/" + name(segment).substring(0, 16) + "/" + name(segment) + ".zst.gpg";
            byte[] stored = sink.open(dataKey).readAllBytes();

            assertThat(wal.push(segment)).isEqualTo(WalArchive.Pushed.ALREADY_ARCHIVED);

            Path other = tmp.resolve("other").resolve(name(segment));
            Files.createDirectories(other.getParent());
            Files.copy(segment, other);
            try (var ch = java.nio.channels.FileChannel.open(other, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(new byte[] {42}), 8192);
            }
            assertThatThrownBy(() -> wal.push(other))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("archived already")
                    .hasMessageContaining("with other content")
                    .hasMessageContaining("left as it is")
                    .hasMessageContaining("SHA-256 " + sha256(segment))
                    .hasMessageContaining("SHA-256 " + sha256(other));
            assertThat(sink.open(dataKey).readAllBytes()).isEqualTo(stored);
            Path dest = tmp.resolve("RECOVERYXLOG");
            wal.fetch(name(segment), dest);
            assertThat(Files.mismatch(dest, segment)).isEqualTo(-1L);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void aLeftoverOfAKilledPushDoesNotBlockTheRetry(String kind) throws Exception {
        try (Sink sink = store(kind)) {
            WalArchive wal = archive(sink);
            String dataKey = "wal/" + name(segment).substring(0, 16) + "/" + name(segment) + ".zst.gpg";
            try (var out = sink.create(dataKey)) { // what a push killed after its data object leaves
                out.write("half of something".getBytes(StandardCharsets.UTF_8));
                out.commit();
            }
            try (var out = sink.create(dataKey + ".manifest.json.sig")) {
                out.write("stale".getBytes(StandardCharsets.UTF_8));
                out.commit();
            }
            assertThat(wal.fetch(name(segment), tmp.resolve("x"))).isEqualTo(WalArchive.Fetched.NOT_FOUND);
            // fresh: it may be another push between its data and its manifest; left alone, the push fails (retried)
            assertThatThrownBy(() -> wal.push(segment))
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("Another push of " + name(segment) + " is in progress");
            assertThat(sink.open(dataKey).readAllBytes())
                    .asString(StandardCharsets.UTF_8)
                    .isEqualTo("half of something");
            // older than the grace period: a killed push's leftover, replaced
            WalArchive later = WalArchive.builder()
                    .sink(sink)
                    .encryption(pgp(keyFile))
                    .clock(java.time.Clock.offset(
                            java.time.Clock.systemUTC(), WalArchive.LEFTOVER_GRACE.plusSeconds(5)))
                    .build();
            assertThat(later.push(segment)).isEqualTo(WalArchive.Pushed.STORED);
            assertThat(wal.fetch(name(segment), tmp.resolve("x"))).isEqualTo(WalArchive.Fetched.FOUND);
            assertThat(Files.mismatch(tmp.resolve("x"), segment)).isEqualTo(-1L);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void aMissingSegmentOrHistoryFileIsNotFoundAndTouchesNothing(String kind) throws Exception {
        try (Sink sink = store(kind)) {
            WalArchive wal = archive(sink);
            wal.push(segment);
            Path dest = tmp.resolve("RECOVERYXLOG");
            assertThat(wal.fetch("0000000100000000000000FE", dest)).isEqualTo(WalArchive.Fetched.NOT_FOUND);
            assertThat(wal.fetch("00000005.history", dest)).isEqualTo(WalArchive.Fetched.NOT_FOUND);
            assertThat(dest).doesNotExist();
            try (Stream<Path> left = Files.list(tmp)) {
                assertThat(left.map(Path::getFileName).map(Path::toString))
                        .doesNotContain("RECOVERYXLOG.jiffoo-fetch.tmp");
            }
        }
    }

    @Test
    void aLocalStoreWithoutItsWalDirectoryIsUnmountedNeverNotFound() throws Exception {
        Path mountPoint = Files.createDirectory(tmp.resolve("mnt"));
        Path dest = tmp.resolve("RECOVERYXLOG");
        for (Path root : List.of(mountPoint, mountPoint.resolve("backups"))) { // empty; missing altogether
            try (Sink sink = LocalDirectorySink.create(root)) {
                WalArchive wal = WalArchive.builder()
                        .sink(sink)
                        .encryption(pgp(keyFile))
                        .fetchAttempts(1, java.time.Duration.ZERO)
                        .build();
                assertThatThrownBy(() -> wal.fetch("000000010000000000000001", dest))
                        .isInstanceOf(StorageException.class)
                        .hasMessageContaining("has no wal/ directory")
                        .hasMessageContaining("unmounted");
                assertThat(dest).doesNotExist();
            }
        }
    }

    @Test
    void aStoreThatIsDownFailsAndIsNeverNotFound() throws Exception {
        S3ProxyServer down = S3ProxyServer.startTransient();
        try (Sink sink = s3Sink(down, "down")) {
            WalArchive wal = archive(sink);
            wal.push(segment);
            down.close();
            Path dest = tmp.resolve("RECOVERYXLOG");
            assertThatThrownBy(() -> wal.fetch(name(segment), dest))
                    .isInstanceOf(StorageException.class)
                    .satisfies(e -> assertThat(((BackupException) e).code()).isEqualTo(ErrorCode.STORAGE));
            assertThatThrownBy(() -> wal.fetch("0000000100000000000000FE", dest))
                    .isInstanceOf(StorageException.class);
            assertThatThrownBy(() -> wal.push(segment)).isInstanceOf(StorageException.class);
            assertThat(dest).doesNotExist();
        } finally {
            down.close();
        }
    }

    /** Also for recovery's fetches, which do not hash the decoded bytes again ({@code hashPlaintext(false)}). */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void aDamagedObjectFailsAndLeavesNothing(boolean hashPlaintext) throws Exception {
        Path root = tmp.resolve("store");
        try (Sink sink = LocalDirectorySink.create(root)) {
            archive(sink).push(segment);
            WalArchive wal = WalArchive.builder()
                    .sink(sink)
                    .encryption(pgp(keyFile))
                    .fetchAttempts(2, Duration.ofMillis(10))
                    .hashPlaintext(hashPlaintext)
                    .build();
            Path intact = tmp.resolve("intact");
            assertThat(wal.fetch(name(segment), intact)).isEqualTo(WalArchive.Fetched.FOUND);
            assertThat(Files.mismatch(intact, segment)).isEqualTo(-1L);
            Path object = root.resolve("wal/" + name(segment).substring(0, 16) + "/" + name(segment) + ".zst.gpg");
            object.toFile().setWritable(true);
            python(
                    "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)",
                    object.toString());
            Path dest = tmp.resolve("RECOVERYXLOG");
            assertThatThrownBy(() -> wal.fetch(name(segment), dest))
                    .isInstanceOf(BackupException.class)
                    .satisfies(e ->
                            assertThat(((BackupException) e).code()).isIn(ErrorCode.INTEGRITY, ErrorCode.DECRYPTION));
            assertThat(dest).doesNotExist();
            assertThat(tmp.resolve("RECOVERYXLOG.jiffoo-fetch.tmp")).doesNotExist();
        }
    }

    @Test
    void aDamagedEncryptionHeaderIsDamageNotAWrongKey() throws Exception {
        Path root = tmp.resolve("store");
        try (Sink sink = LocalDirectorySink.create(root)) {
            WalArchive wal = archive(sink);
            wal.push(segment);
            Path object = root.resolve("wal/" + name(segment).substring(0, 16) + "/" + name(segment) + ".zst.gpg");
            object.toFile().setWritable(true);
            // the salt of the first packet (the passphrase's session-key packet) changed with printf and dd
            Process dd = new ProcessBuilder(
                            "sh",
                            "-c",
                            "printf 'XXXXXXXX' | dd of=\"$0\" bs=1 seek=6 conv=notrunc status=none",
                            object.toString())
                    .redirectErrorStream(true)
                    .start();
            assertThat(dd.waitFor())
                    .as(new String(dd.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                    .isZero();
            Path dest = tmp.resolve("RECOVERYXLOG");
            assertThatThrownBy(() -> wal.fetch(name(segment), dest))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("the key is not to blame");
            assertThat(dest).doesNotExist();
            assertThat(tmp.resolve("RECOVERYXLOG.jiffoo-fetch.tmp")).doesNotExist();
        }
    }

    @Test
    void aForgedOrMovedManifestFails() throws Exception {
        Path root = tmp.resolve("store");
        try (Sink sink = LocalDirectorySink.create(root)) {
            WalArchive wal = archive(sink);
            Path history = tmp.resolve(HISTORY);
            Files.writeString(history, "1\t0/3000158\tno recovery target specified\n");
            wal.push(history);
            wal.push(segment);
            Path manifest = root.resolve(
                    "wal/" + name(segment).substring(0, 16) + "/" + name(segment) + ".zst.gpg.manifest.json");
            // forged: another plaintext digest (its first digit changed), the signature left as it was
            manifest.toFile().setWritable(true);
            python(
                    "import sys,re; p=sys.argv[1]; t=open(p).read();"
                            + " t=re.sub(r'(\"plaintext\" : \\{[^}]*\"sha256\" : \")([0-9a-f])',"
                            + " lambda m: m.group(1) + ('1' if m.group(2) == '0' else '0'), t, count=1);"
                            + " open(p,'w').write(t)",
                    manifest.toString());
            assertThatThrownBy(() -> wal.fetch(name(segment), tmp.resolve("x"))).isInstanceOf(IntegrityException.class);
            // moved: the history file's signed manifest and signature copied under a segment's name
            String other = "0000000100000000000000FD";
            Path dir = root.resolve("wal/0000000100000000");
            for (String suffix : new String[] {".zst.gpg", ".zst.gpg.manifest.json", ".zst.gpg.manifest.json.sig"}) {
                Files.copy(root.resolve("wal/" + HISTORY + suffix), dir.resolve(other + suffix));
            }
            assertThatThrownBy(() -> wal.fetch(other, tmp.resolve("x")))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("describes another object");
            assertThat(tmp.resolve("x")).doesNotExist();
        }
    }

    @Test
    void anotherKeyCannotFetch() throws Exception {
        try (Sink sink = LocalDirectorySink.create(tmp.resolve("store"))) {
            archive(sink).push(segment);
            WalArchive other = WalArchive.builder()
                    .sink(sink)
                    .encryption(pgp(TestKeys.keyFile(tmp, "other.key")))
                    .build();
            assertThatThrownBy(() -> other.fetch(name(segment), tmp.resolve("x")))
                    .isInstanceOf(BackupException.class)
                    .isNotInstanceOf(StorageException.class);
            // with the manifest trusted (the store's word), the object matches it: it really is the key
            WalArchive trusting = WalArchive.builder()
                    .sink(sink)
                    .encryption(pgp(TestKeys.keyFile(tmp, "third.key")))
                    .trust(com.jiffoo.backup.BackupTrust.STORE)
                    .build();
            assertThatThrownBy(() -> trusting.fetch(name(segment), tmp.resolve("x")))
                    .isInstanceOf(com.jiffoo.backup.DecryptionException.class)
                    .hasMessageContaining("the key is what does not fit");
            assertThat(tmp.resolve("x")).doesNotExist();
        }
    }

    @Test
    void gpgAndZstdOpenAStoredSegmentWithoutJava() throws Exception {
        Path root = tmp.resolve("store");
        try (Sink sink = LocalDirectorySink.create(root)) {
            archive(sink).push(segment);
        }
        Path object = root.resolve("wal/" + name(segment).substring(0, 16) + "/" + name(segment) + ".zst.gpg");
        Path home = Files.createDirectory(
                tmp.resolve("gnupg"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path out = tmp.resolve("plain");
        Process p = new ProcessBuilder(
                        "bash",
                        "-c",
                        "set -o pipefail; gpg --homedir \"$1\" --batch --quiet --pinentry-mode loopback"
                                + " --passphrase-file \"$2\" -d \"$3\" | zstd -d -q -o \"$4\"",
                        "emergency",
                        home.toString(),
                        keyFile.toString(),
                        object.toString(),
                        out.toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(output).isZero();
        assertThat(Files.mismatch(out, segment)).isEqualTo(-1L);
    }

    private static String sha256(Path file) throws Exception {
        return java.util.HexFormat.of()
                .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "s3"})
    void aFileOfAnotherClusterIsRefusedWhenTheClusterIsKnown(String kind) throws Exception {
        try (Sink sink = store(kind)) {
            WalArchive.builder()
                    .sink(sink)
                    .encryption(pgp(keyFile))
                    .systemIdentifier("7000000000000000001")
                    .build()
                    .push(segment);
            Path dest = tmp.resolve("RECOVERYXLOG");
            WalArchive other = WalArchive.builder()
                    .sink(sink)
                    .encryption(pgp(keyFile))
                    .systemIdentifier("7000000000000000002")
                    .fetchAttempts(1, Duration.ofMillis(1))
                    .build();
            assertThatThrownBy(() -> other.fetch(name(segment), dest))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("belongs to the cluster 7000000000000000001, not to 7000000000000000002");
            assertThat(dest).doesNotExist();
            // the right cluster, and a fetch that does not say which, get it
            WalArchive same = WalArchive.builder()
                    .sink(sink)
                    .encryption(pgp(keyFile))
                    .systemIdentifier("7000000000000000001")
                    .build();
            assertThat(same.fetch(name(segment), dest)).isEqualTo(WalArchive.Fetched.FOUND);
            Files.delete(dest);
            assertThat(archive(sink).fetch(name(segment), dest)).isEqualTo(WalArchive.Fetched.FOUND);
        }
    }

    private static void python(String script, String arg) throws Exception {
        Process p = new ProcessBuilder("python3", "-c", script, arg)
                .redirectErrorStream(true)
                .start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(output).isZero();
    }
}
