package com.jiffoo.backup.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link WalArchive} with a copy store (two local directories; damage made with dd): a push lands in both with the same stored bytes and
 * manifest, and is "same content" when repeated; a fetch falls back to the copy when the store's file is damaged or
 * missing, says so, and never answers "not found" while a store could not answer.
 */
class WalArchiveCopiesTest {
    private static final String HISTORY = "00000002.history";
    private static final String KEY = "wal/00000002.history.zst.gpg";

    @TempDir
    Path tmp;

    private WalArchive archive(Path store, Path copy, List<String> notices) {
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(TestKeys.keyFile(tmp, "k")))
                .build();
        return WalArchive.builder()
                .sink(LocalDirectorySink.create(store))
                .copy(LocalDirectorySink.create(copy))
                .encryption(pgp)
                .fetchAttempts(1, Duration.ZERO)
                .fallbackNotice(notices::add)
                .build();
    }

    private Path history() throws Exception {
        Path file = tmp.resolve(HISTORY);
        Files.writeString(file, "1\t0/3000000\tno recovery target specified\n");
        return file;
    }

    @Test
    void aPushLandsInTheStoreAndTheCopyWithTheSameBytes() throws Exception {
        Path store = Files.createDirectory(tmp.resolve("store"));
        Path copy = Files.createDirectory(tmp.resolve("copy"));
        WalArchive wal = archive(store, copy, new ArrayList<>());
        assertThat(wal.push(history())).isEqualTo(WalArchive.Pushed.STORED);
        for (String k : List.of(KEY, KEY + ".manifest.json", KEY + ".manifest.json.sig")) {
            assertThat(Files.mismatch(store.resolve(k), copy.resolve(k))).as(k).isEqualTo(-1L);
        }
        assertThat(wal.push(history())).isEqualTo(WalArchive.Pushed.ALREADY_ARCHIVED);

        // a copy that lacks it (lost, or down at the push) gets it on the next push, the same bytes
        Files.delete(copy.resolve(KEY + ".manifest.json"));
        Files.delete(copy.resolve(KEY));
        assertThat(wal.push(history())).isEqualTo(WalArchive.Pushed.ALREADY_ARCHIVED);
        assertThat(Files.mismatch(store.resolve(KEY), copy.resolve(KEY))).isEqualTo(-1L);
    }

    @Test
    void aFetchFallsBackToTheCopyWhenTheStoresFileIsDamagedOrMissing() throws Exception {
        Path store = Files.createDirectory(tmp.resolve("store"));
        Path copy = Files.createDirectory(tmp.resolve("copy"));
        List<String> notices = new ArrayList<>();
        WalArchive wal = archive(store, copy, notices);
        wal.push(history());
        Process dd = new ProcessBuilder(
                        "dd", "if=/dev/zero", "of=" + store.resolve(KEY), "bs=1", "count=8", "seek=40", "conv=notrunc")
                .redirectErrorStream(true)
                .start();
        dd.getInputStream().readAllBytes();
        assertThat(dd.waitFor()).isZero();
        Path out = tmp.resolve("out");
        assertThat(wal.fetch(HISTORY, out)).isEqualTo(WalArchive.Fetched.FOUND);
        assertThat(Files.mismatch(out, history())).isEqualTo(-1L);
        // (bytes 40-47 are in the OpenPGP key packet: reported as not opening with the key; the copy's does)
        assertThat(notices)
                .singleElement()
                .asString()
                .contains(
                        "served by the copy " + LocalDirectorySink.create(copy).location(),
                        "the store " + LocalDirectorySink.create(store).location() + " failed (");

        // missing in the store: the copy serves it
        Files.delete(store.resolve(KEY + ".manifest.json"));
        Files.delete(out);
        assertThat(wal.fetch(HISTORY, out)).isEqualTo(WalArchive.Fetched.FOUND);
        assertThat(notices.get(1))
                .contains("not in " + LocalDirectorySink.create(store).location());

        // in no store: not found
        assertThat(wal.fetch("00000003.history", tmp.resolve("none"))).isEqualTo(WalArchive.Fetched.NOT_FOUND);
    }

    /** Replaces {@code sig} with an armored detached signature by a fresh gpg key of the attacker's. */
    private void plantGpgSignature(Path manifest, Path sig) throws Exception {
        Path home = tmp.resolve("gnupg");
        List<String> gpg = List.of(
                "gpg", "--homedir", home.toString(), "--batch", "--pinentry-mode", "loopback", "--passphrase", "");
        if (!Files.exists(home)) {
            Files.createDirectory(
                    home,
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
            run(gpg, "--quick-gen-key", "attacker@example.com", "default", "sign", "never");
        }
        Files.delete(sig);
        run(gpg, "--armor", "--output", sig.toString(), "--detach-sign", manifest.toString());
    }

    private static void run(List<String> base, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(base);
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
    }

    @Test
    void anOpenPgpSignaturePlantedInTheStoreIsDamageThereAndTheCopyServes() throws Exception {
        Path store = Files.createDirectory(tmp.resolve("store"));
        Path copy = Files.createDirectory(tmp.resolve("copy"));
        List<String> notices = new ArrayList<>();
        WalArchive wal = archive(store, copy, notices);
        wal.push(history());
        plantGpgSignature(store.resolve(KEY + ".manifest.json"), store.resolve(KEY + ".manifest.json.sig"));

        Path out = tmp.resolve("out");
        assertThat(wal.fetch(HISTORY, out)).isEqualTo(WalArchive.Fetched.FOUND);
        assertThat(Files.mismatch(out, history())).isEqualTo(-1L);
        assertThat(notices)
                .singleElement()
                .asString()
                .contains(
                        "served by the copy " + LocalDirectorySink.create(copy).location())
                .contains("INTEGRITY")
                .contains(KEY + ".manifest.json is not authentic");

        // in every store: this host's key configuration (exit 2 of wal-fetch), nothing fetched
        plantGpgSignature(copy.resolve(KEY + ".manifest.json"), copy.resolve(KEY + ".manifest.json.sig"));
        Path none = tmp.resolve("none");
        assertThatThrownBy(() -> wal.fetch(HISTORY, none))
                .isInstanceOf(com.jiffoo.backup.ConfigurationException.class)
                .hasMessageContaining("Every store (2) holds " + KEY + ".manifest.json")
                .hasMessageContaining("key configuration");
        assertThat(none).doesNotExist();
    }

    @Test
    void neverNotFoundWhileAStoreCouldNotAnswer() throws Exception {
        Path store = Files.createDirectory(tmp.resolve("store"));
        Path copy = Files.createDirectory(tmp.resolve("copy"));
        WalArchive wal = archive(store, copy, new ArrayList<>());
        wal.push(history());
        // the copy's volume unmounted (its wal/ gone): the store has no such file, the copy cannot say
        Files.walk(copy.resolve("wal"))
                .sorted(java.util.Comparator.reverseOrder())
                .forEach(p -> p.toFile().delete());
        assertThatThrownBy(() -> wal.fetch("00000003.history", tmp.resolve("none")))
                .isInstanceOf(BackupException.class)
                .satisfies(e -> assertThat(((BackupException) e).code()).isEqualTo(ErrorCode.STORAGE))
                .hasMessageContaining("No store could serve the WAL file 00000003.history")
                .hasMessageContaining("not archived there");
    }
}
