/**
 * Continuous WAL archiving for point-in-time recovery: {@link com.jiffoo.backup.wal.WalArchive} pushes the files
 * PostgreSQL's {@code archive_command} hands over into a store, compressed (zstd), encrypted (OpenPGP) and committed
 * by an authenticated manifest, and fetches them back for {@code restore_command}.
 */
package com.jiffoo.backup.wal;
