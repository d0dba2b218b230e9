package com.jiffoo.backup;

import java.time.Duration;
import java.time.Instant;

/**
 * A successful verification of one backup.
 *
 * @param manifest   the backup's manifest
 * @param deep       true when the backup was also decoded (decrypted) and its plaintext checked
 * @param verifiedAt when the verification finished
 * @param elapsed    how long it took
 */
public record VerificationResult(BackupManifest manifest, boolean deep, Instant verifiedAt, Duration elapsed) {}
