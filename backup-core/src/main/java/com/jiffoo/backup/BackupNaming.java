package com.jiffoo.backup;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Names a new backup: its id, the file name without suffixes. The object key is then
 * {@code <kind>/<id><source suffix><transform suffixes>} ({@link com.jiffoo.backup.store.StoreLayout#dataKey}), e.g.
 * {@code database/db_backup_20260111_020000.sql.gpg}.
 */
@FunctionalInterface
public interface BackupNaming {

    /** The runbook's names: {@code <baseName>_<yyyyMMdd_HHmmss>} in UTC, e.g. {@code files_backup_20260111_030000}. */
    BackupNaming DEFAULT = new BackupNaming() {
        private final DateTimeFormatter format =
                DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss").withZone(ZoneOffset.UTC);

        @Override
        public String id(Source source, Instant startedAt) {
            return source.baseName() + "_" + format.format(startedAt);
        }
    };

    /**
     * The id of a backup of {@code source} started at {@code startedAt}. Must be a valid file name (no {@code /}).
     */
    String id(Source source, Instant startedAt);
}
