package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.wal.WalArchive;
import com.jiffoo.backup.wal.WalArchiveCheck;
import com.jiffoo.backup.wal.WalContinuity;
import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code wal-verify}, {@code monitor} and {@code prune} share about the WAL archive: the settings
 * ({@code WAL_MAX_LAG}, {@code WAL_MAX_READY}), whether the store holds WAL, and how history files are read.
 */
final class WalChecks {
    /** The limit on the age of the newest archived WAL file: {@code 5m}, {@code 90s}, {@code 1h}, or minutes. */
    static final String MAX_LAG = "WAL_MAX_LAG";
    /** The limit on segments waiting to be archived on the server. */
    static final String MAX_READY = "WAL_MAX_READY";

    private static final Pattern DURATION = Pattern.compile("([0-9]{1,6})\\s*([smh]?)");

    private WalChecks() {}

    /** {@code WAL_MAX_LAG}, else 5 minutes. */
    static Duration maxLag(Settings s) {
        String v = s.get(MAX_LAG).orElse(null);
        if (v == null) {
            return WalArchiveCheck.DEFAULT_MAX_LAG;
        }
        Matcher m = DURATION.matcher(v.toLowerCase(Locale.ROOT));
        if (m.matches() && Long.parseLong(m.group(1)) > 0) {
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "s" -> Duration.ofSeconds(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofMinutes(n);
            };
        }
        throw new ConfigurationException(MAX_LAG + " is '" + v + "' (from " + s.origin(MAX_LAG) + "): give a positive"
                + " duration such as 5m, 90s or 1h (a plain number is minutes).");
    }

    /** True when the store holds anything under {@code wal/}. */
    static boolean hasWal(Sink store) throws IOException {
        return !store.list(StoreLayout.WAL_PREFIX).isEmpty();
    }

    /**
     * Reads timeline history files through the WAL archive when a decryption key is configured; null otherwise (the
     * switch points are then inferred from the segments, and the output says so).
     */
    static WalContinuity.HistoryReader historyReader(Settings s, Sink store) {
        return reading(s, store).historyReader();
    }

    /**
     * What a reader of the WAL archive accepts, and the archive to fetch through (null without a decryption key),
     * built on one transform: the key file's HMAC key is derived once for the base backups' manifests, every WAL
     * manifest and the files fetched.
     */
    static Reading reading(Settings s, Sink store) {
        if (s.get("ENCRYPTION_KEY_FILE").isEmpty()
                && s.get("ENCRYPTION_SECRET_KEY_FILE").isEmpty()) {
            return new Reading(Encryption.trust(s), null);
        }
        OpenPgpTransform key = Encryption.forRestore(s);
        BackupTrust trust = Encryption.trust(s, key);
        return new Reading(
                trust,
                WalArchive.builder().sink(store).encryption(key).trust(trust).build());
    }

    /**
     * The trust manifests are checked with, and the archive that fetches (history files; every file for
     * {@code wal-verify --deep}), or null when no decryption key is configured.
     */
    record Reading(BackupTrust trust, WalArchive archive) {
        /** Reads history files through the archive; null without one. */
        WalContinuity.HistoryReader historyReader() {
            return archive == null ? null : WalContinuity.HistoryReader.of(archive);
        }
    }
}
