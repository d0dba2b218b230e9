package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.BackupVerifier;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.DecryptionException;
import com.jiffoo.backup.Transform;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import java.util.List;

/**
 * {@code key}: the configured decryption key decrypts the first blocks of the newest backup (CRITICAL otherwise: a
 * lost key is a lost archive). Without a decryption key here (a public-key-only host) it reports
 * {@link KindHealth.KeyCheck#NO_KEY}, no finding.
 */
final class DecryptionKeyCheck extends HealthCheck {
    private final List<Transform> transforms;
    private final BackupTrust trust;
    private final int bytes;

    DecryptionKeyCheck(List<Transform> transforms, BackupTrust trust, int bytes) {
        super("key", When.NEWEST);
        this.transforms = List.copyOf(transforms);
        this.trust = trust;
        this.bytes = bytes;
    }

    /**
     * True when a transform can decrypt: an OpenPGP transform holding only public keys (a backup host's) cannot,
     * and is no decryption key.
     */
    static boolean canDecrypt(List<Transform> transforms) {
        return transforms.stream().anyMatch(t -> !(t instanceof OpenPgpTransform p) || p.canDecrypt());
    }

    @Override
    void check(KindInspection k) {
        BackupManifest newest = k.newest();
        if (!newest.encrypted()) {
            k.keyCheck(KindHealth.KeyCheck.NOT_ENCRYPTED, "the newest backup is not encrypted");
            return;
        }
        if (!canDecrypt(transforms)) {
            k.keyCheck(
                    KindHealth.KeyCheck.NO_KEY,
                    "no decryption key configured here; run the key check where" + " the key is kept");
            return;
        }
        try {
            long n = BackupVerifier.builder()
                    .sink(k.sink())
                    .transforms(transforms)
                    .trust(trust)
                    .recordResults(false)
                    .build()
                    .checkKey(newest.objectKey(), bytes);
            k.keyCheck(
                    KindHealth.KeyCheck.PASSED,
                    "the configured key decrypted the first " + n + " bytes of " + newest.id());
        } catch (DecryptionException | ConfigurationException e) {
            k.keyCheck(KindHealth.KeyCheck.FAILED, e.getMessage());
            k.find(
                    HealthStatus.CRITICAL,
                    "the configured decryption key cannot open the newest backup "
                            + newest.id() + ": " + e.getMessage() + " A lost key is a lost archive: find the key these"
                            + " backups were made with, or fix the backup job's key, now.");
        } catch (BackupException e) {
            k.keyCheck(KindHealth.KeyCheck.FAILED, e.getMessage());
            k.find(
                    HealthStatus.CRITICAL,
                    "the key check could not read the newest backup " + newest.id() + ": " + e.getMessage());
        }
    }
}
