package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupException;

/** {@code checksum-file}: the newest backup's {@code .sha256} agrees with its manifest (CRITICAL otherwise). */
final class ChecksumFileCheck extends HealthCheck {
    ChecksumFileCheck() {
        super("checksum-file", When.NEWEST);
    }

    @Override
    void check(KindInspection k) {
        try {
            k.backups().checkSidecar(k.newest());
        } catch (BackupException e) {
            k.find(
                    HealthStatus.CRITICAL,
                    "the newest backup " + k.newest().id() + " fails its checksum check: " + e.getMessage());
        }
    }
}
