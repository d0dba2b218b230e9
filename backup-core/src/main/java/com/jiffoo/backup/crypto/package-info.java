/**
 * OpenPGP encryption of backups, interoperable with GnuPG 2.2: {@link com.jiffoo.backup.crypto.OpenPgpTransform}
 * (passphrase or public-key mode, several keys for decryption) and
 * {@link com.jiffoo.backup.crypto.PassphraseKeyFile} (the runbook's {@code backup.key}).
 *
 * <pre>{@code
 * OpenPgpTransform pgp = OpenPgpTransform.builder()
 *         .passphrase(PassphraseKeyFile.read(Path.of("/etc/jiffoo/backup.key")))
 *         .build();
 * }</pre>
 */
package com.jiffoo.backup.crypto;
