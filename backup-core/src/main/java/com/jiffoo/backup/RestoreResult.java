package com.jiffoo.backup;

import java.time.Duration;
import java.util.Map;

/**
 * The outcome of a successful restore.
 *
 * @param manifest the manifest of the backup restored
 * @param facts    what the target reported (files, bytes, tables ...)
 * @param elapsed  how long it took, verification included
 */
public record RestoreResult(BackupManifest manifest, Map<String, Object> facts, Duration elapsed) {
    /** Copies the facts, keeping their order. */
    public RestoreResult {
        facts = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(facts));
    }
}
