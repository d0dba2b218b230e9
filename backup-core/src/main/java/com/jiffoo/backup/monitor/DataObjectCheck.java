package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.StoredObject;
import java.io.IOException;

/**
 * {@code data-object}: the newest backup's data object is in the store with the size its manifest says (one list
 * call; CRITICAL otherwise: the data was deleted or cut short behind the library's back).
 */
final class DataObjectCheck extends HealthCheck {
    DataObjectCheck() {
        super("data-object", When.NEWEST);
    }

    @Override
    void check(KindInspection k) {
        BackupManifest newest = k.newest();
        StoredObject data;
        try {
            data = k.sink().list(newest.objectKey()).stream()
                    .filter(o -> o.key().equals(newest.objectKey()))
                    .findFirst()
                    .orElse(null);
        } catch (IOException e) {
            k.find(
                    HealthStatus.CRITICAL,
                    "cannot read the store: listing " + newest.objectKey() + " failed: " + e.getMessage());
            return;
        }
        if (data == null) {
            k.find(
                    HealthStatus.CRITICAL,
                    "the newest backup " + newest.id() + " is missing its data object "
                            + newest.objectKey()
                            + " although its manifest exists: the backup is lost. Make a new backup"
                            + " now and find out who deletes from the store.");
        } else if (data.size() != newest.objectSize()) {
            k.find(
                    HealthStatus.CRITICAL,
                    "the newest backup " + newest.id() + " has " + data.size() + " bytes in"
                            + " the store, its manifest says " + newest.objectSize()
                            + ": it is damaged. Make a new backup"
                            + " now and verify the one before.");
        }
    }
}
