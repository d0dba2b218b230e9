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
    /** The limit on the age of a copy's newest WAL file, and on what it lacks; default {@link #MAX_LAG}'s. */
    static final String COPY_MAX_LAG = "WAL_COPY_MAX_LAG";
    /** The limit on segments waiting to be archived on the server. */
    static final String MAX_READY = "WAL_MAX_READY";

    private static final Pattern DURATION = Pattern.compile("([0-9]{1,6})\\s*([smh]?)");

    private WalChecks() {}

    /** {@code WAL_MAX_LAG}, else 5 minutes. */
    static Duration maxLag(Settings s) {
        return duration(s, MAX_LAG, WalArchiveCheck.DEFAULT_MAX_LAG);
    }

    /** {@code WAL_COPY_MAX_LAG}, else {@link #maxLag}. */
    static Duration copyMaxLag(Settings s) {
        return duration(s, COPY_MAX_LAG, maxLag(s));
    }

    private static Duration duration(Settings s, String name, Duration otherwise) {
        String v = s.get(name).orElse(null);
        if (v == null) {
            return otherwise;
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
        throw new ConfigurationException(name + " is '" + v + "' (from " + s.origin(name) + "): give a positive"
                + " duration such as 5m, 90s or 1h (a plain number is minutes).");
    }

    /** True when the store holds anything under {@code wal/}. */
    static boolean hasWal(Sink store) throws IOException {
        return !store.list(StoreLayout.WAL_PREFIX).isEmpty();
    }

    /**
     * What a reader of the WAL archive accepts, and the archive to fetch through (null without a decryption key),
     * built on one transform: the key file's HMAC key is derived once for the base backups' manifests, every WAL
     * manifest and the files fetched.
     */
    static Reading reading(Settings s, Sink store) {
        if (s.get("ENCRYPTION_KEY_FILE").isEmpty()
                && s.get("ENCRYPTION_SECRET_KEY_FILE").isEmpty()) {
            return new Reading(Encryption.trust(s), null, store);
        }
        OpenPgpTransform key = Encryption.forRestore(s);
        BackupTrust trust = Encryption.trust(s, key);
        return new Reading(trust, key, store);
    }

    /**
     * The trust manifests are checked with, and the decryption key (null when none is configured) that fetches from
     * the WAL archive of a store (history files; every file for {@code wal-verify --deep}).
     *
     * @param store the store {@link #archive()} and {@link #historyReader()} read
     */
    record Reading(BackupTrust trust, OpenPgpTransform key, Sink store) {
        /** The archive of {@link #store()}, or null without a key. */
        WalArchive archive() {
            return archive(store);
        }

        /** The archive of {@code sink} with the same key and trust, or null without a key. */
        WalArchive archive(Sink sink) {
            return key == null
                    ? null
                    : WalArchive.builder()
                            .sink(sink)
                            .encryption(key)
                            .trust(trust)
                            .build();
        }

        /** Reads history files of {@link #store()}; null without a key. */
        WalContinuity.HistoryReader historyReader() {
            return historyReader(store);
        }

        /** Reads history files of {@code sink}; null without a key. */
        WalContinuity.HistoryReader historyReader(Sink sink) {
            WalArchive a = archive(sink);
            return a == null ? null : WalContinuity.HistoryReader.of(a);
        }
    }
}
