import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.wal.WalArchive;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * For benchmarks/wal-verify.sh: archives N small files (8 KiB) named as consecutive WAL segments of timeline 1 into a
 * local store with WalArchive, as wal-push would (arguments: store, key file, N, system identifier). Run with
 * {@code java -cp jiffoo-backup.jar benchmarks/MakeWalStore.java ...}.
 */
public class MakeWalStore {
    public static void main(String[] a) throws Exception {
        var pgp = OpenPgpTransform.builder().passphrase(PassphraseKeyFile.read(Path.of(a[1]))).build();
        var wal = WalArchive.builder()
                .sink(LocalDirectorySink.create(Path.of(a[0])))
                .encryption(pgp)
                .systemIdentifier(a[3])
                .build();
        Path tmp = Files.createTempDirectory("walgen");
        byte[] data = new byte[8192];
        new Random(1).nextBytes(data);
        for (int i = 1; i <= Integer.parseInt(a[2]); i++) {
            Path f = tmp.resolve(String.format("00000001%08X%08X", i / 256, i % 256));
            Files.write(f, data);
            wal.push(f);
            Files.delete(f);
        }
    }
}
