package com.jiffoo.backup.store;

import com.jiffoo.backup.ConfigurationException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Every object key in a store, in one place. Keys are relative to the store's root or prefix (see
 * {@link com.jiffoo.backup.Sink}); every store of this library lays its objects out this way:
 *
 * <pre>
 * database/db_backup_20260111_020000.sql.gpg                      data: {@code <kind>/<id><suffixes>}
 * database/db_backup_20260111_020000.sql.gpg.sha256               sidecar ({@code sha256sum} format)
 * database/db_backup_20260111_020000.sql.gpg.manifest.json        manifest, written last: the commit marker
 * database/db_backup_20260111_020000.sql.gpg.manifest.json.sig    the manifest's signature
 * database/db_backup_20260111_020000.sql.gpg.verified-20260111T040000123Z-3f9a2c.json   a verification record
 * _monitor/health-20260111T040000123Z-3f9a2c.json                 a monitor report
 * </pre>
 *
 * <p>Archived WAL ({@code com.jiffoo.backup.wal.WalArchive}) lives under {@code wal/}: segments, partial segments
 * and backup history files in one folder per 4 GiB of WAL ({@link #walFileKey}), timeline history files beside those
 * folders; each data object is committed by a manifest and its signature as a backup is. Reserved for what comes
 * next, each with its key method here and no feature yet: base backups as the kind {@code base}, drill reports under {@code _drills/}.
 * A kind never starts with {@code _} and is never {@code wal}: those prefixes belong to the layout
 * ({@link #dataKey} refuses them).
 *
 * <p>Series of small write-once JSON objects (verification records, monitor reports, drill reports) are named
 * {@code <prefix><yyyyMMdd'T'HHmmssSSS'Z'>-<6 hex>.json}: the fixed-width UTC time first makes names sort by time,
 * the random tag keeps two writers in the same millisecond apart.
 *
 * <p>Static and thread-safe. Changing a key here changes where existing backups are looked for: the names are a
 * stored format.
 */
public final class StoreLayout {
    /** Suffix of a backup's manifest, appended to its data key. */
    public static final String MANIFEST_SUFFIX = ".manifest.json";
    /** Suffix of a backup's {@code sha256sum}-format sidecar, appended to its data key. */
    public static final String SIDECAR_SUFFIX = ".sha256";
    /** Suffix of a manifest's signature, appended to the manifest's key. */
    public static final String SIGNATURE_SUFFIX = ".sig";
    /** What separates a backup's data key from the time stamp in the key of one of its verification records. */
    public static final String VERIFICATION_INFIX = ".verified-";
    /** Prefix of every monitor report. */
    public static final String MONITOR_REPORT_PREFIX = "_monitor/health-";
    /** Prefix of archived WAL: segments, timeline and backup history files. */
    public static final String WAL_PREFIX = "wal/";
    /** Reserved: the kind of base backups (laid out as any kind: data, sidecar, manifest). */
    public static final String BASE_BACKUP_KIND = "base";
    /** Reserved: prefix of drill reports. */
    public static final String DRILL_REPORT_PREFIX = "_drills/drill-";

    private static final DateTimeFormatter STAMP =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssSSS'Z'").withZone(ZoneOffset.UTC);
    /** What follows a series' prefix: the time stamp, the random tag, {@code .json}. */
    private static final Pattern SERIES_TAIL = Pattern.compile("[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}\\.json");

    private static final Pattern WAL_SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern TIMELINE = Pattern.compile("[0-9A-F]{8}");
    private static final Pattern WAL_BACKUP_HISTORY = Pattern.compile("[0-9A-F]{24}\\.[0-9A-F]{8}\\.backup");
    private static final String PARTIAL = ".partial";
    private static final String HISTORY = ".history";

    private StoreLayout() {}

    /** The prefix every object of one kind of backup starts with: {@code database/}. */
    public static String kindPrefix(String kind) {
        return kind + "/";
    }

    /**
     * The data key of a new backup: {@code <kind>/<id><suffixes>}, e.g.
     * {@code database/db_backup_20260111_020000.sql.gpg} for kind {@code database}, id
     * {@code db_backup_20260111_020000} and suffixes {@code .sql.gpg}.
     */
    public static String dataKey(String kind, String id, String suffixes) {
        if (kind.isEmpty() || kind.contains("/") || kind.startsWith("_") || kind.equals("wal")) {
            throw new ConfigurationException("The kind '" + kind + "' cannot name backups: a kind is one path segment"
                    + " that does not start with '_' and is not 'wal' (the store layout keeps those).");
        }
        return kindPrefix(kind) + id + suffixes;
    }

    /** The kind of the backup an object of it belongs to: the key's first segment ({@code database}). */
    public static String kindOf(String key) {
        int slash = key.indexOf('/');
        return slash < 0 ? key : key.substring(0, slash);
    }

    /** The sidecar key of a data key: {@code X.sha256}. */
    public static String sidecarKey(String dataKey) {
        return dataKey + SIDECAR_SUFFIX;
    }

    /** The manifest key of a data key: {@code X.manifest.json}. */
    public static String manifestKey(String dataKey) {
        return dataKey + MANIFEST_SUFFIX;
    }

    /** The key of the signature of a data key's manifest: {@code X.manifest.json.sig}. */
    public static String signatureKey(String dataKey) {
        return manifestKey(dataKey) + SIGNATURE_SUFFIX;
    }

    /** True when {@code key} is a manifest's key. */
    public static boolean isManifestKey(String key) {
        return key.endsWith(MANIFEST_SUFFIX);
    }

    /**
     * The data key of the backup an object belongs to, given its manifest, signature, sidecar, verification record
     * or data key (returned as is).
     */
    public static String dataKeyOf(String key) {
        if (isVerificationKey(key)) {
            return key.substring(0, key.lastIndexOf(VERIFICATION_INFIX));
        }
        for (String suffix : new String[] {MANIFEST_SUFFIX + SIGNATURE_SUFFIX, MANIFEST_SUFFIX, SIDECAR_SUFFIX}) {
            if (key.endsWith(suffix)) {
                return key.substring(0, key.length() - suffix.length());
            }
        }
        return key;
    }

    /** The prefix of every verification record of the backup stored under {@code dataKey}. */
    public static String verificationPrefix(String dataKey) {
        return dataKey + VERIFICATION_INFIX;
    }

    /** A new key for a verification record of {@code dataKey} made at {@code at}. */
    public static String newVerificationKey(String dataKey, Instant at) {
        return timeTagged(verificationPrefix(dataKey), at);
    }

    /**
     * True when {@code key} names a verification record: it ends with exactly what {@link #newVerificationKey} appends
     * ({@code .verified-<yyyyMMdd'T'HHmmssSSS'Z'>-<6 hex>.json}), so a backup whose own name contains
     * {@value #VERIFICATION_INFIX} (its manifest ends with {@code .json} too) is never taken for a record.
     */
    public static boolean isVerificationKey(String key) {
        int i = key.lastIndexOf(VERIFICATION_INFIX);
        return i > 0
                && SERIES_TAIL
                        .matcher(key.substring(i + VERIFICATION_INFIX.length()))
                        .matches();
    }

    /** A new key for a monitor report made at {@code at}, under {@value #MONITOR_REPORT_PREFIX}. */
    public static String newMonitorReportKey(Instant at) {
        return timeTagged(MONITOR_REPORT_PREFIX, at);
    }

    /**
     * The key of a WAL segment, {@code wal/<timeline and log, 16 hex>/<segment><suffixes>},
     * e.g. {@code wal/0000000100000000/000000010000000000000003.gpg}: one folder per 4 GiB of WAL keeps listings
     * short.
     *
     * @throws IllegalArgumentException when {@code segment} is not a WAL segment's 24-hex-digit name
     */
    public static String walSegmentKey(String segment, String suffixes) {
        if (!WAL_SEGMENT.matcher(segment).matches()) {
            throw new IllegalArgumentException("not a WAL segment name (24 upper-case hex digits): " + segment);
        }
        return WAL_PREFIX + segment.substring(0, 16) + "/" + segment + suffixes;
    }

    /**
     * The key of a timeline history file, {@code wal/<timeline>.history<suffixes>}.
     *
     * @throws IllegalArgumentException when {@code timeline} is not 8 upper-case hex digits
     */
    public static String timelineHistoryKey(String timeline, String suffixes) {
        if (!TIMELINE.matcher(timeline).matches()) {
            throw new IllegalArgumentException("not a timeline (8 upper-case hex digits): " + timeline);
        }
        return WAL_PREFIX + timeline + ".history" + suffixes;
    }

    /**
     * The key of a backup history file ({@code <segment>.<offset, 8 hex>.backup}, written by PostgreSQL when a base
     * backup ends), beside its segment: {@code wal/<timeline and log, 16 hex>/<name><suffixes>}, e.g.
     * {@code wal/0000000100000000/000000010000000000000003.00000028.backup.zst.gpg}.
     *
     * @throws IllegalArgumentException when {@code name} is not a backup history file's name
     */
    public static String walBackupHistoryKey(String name, String suffixes) {
        if (!WAL_BACKUP_HISTORY.matcher(name).matches()) {
            throw new IllegalArgumentException(
                    "not a backup history file name (<24 hex digits>.<8 hex digits>.backup): " + name);
        }
        return WAL_PREFIX + name.substring(0, 16) + "/" + name + suffixes;
    }

    /**
     * The key of any file PostgreSQL archives, by its name: a segment ({@link #walSegmentKey}), a partial segment
     * ({@code <segment>.partial}, beside its segment), a timeline history file ({@link #timelineHistoryKey}) or a
     * backup history file ({@link #walBackupHistoryKey}).
     *
     * @throws IllegalArgumentException when {@code name} is none of these
     */
    public static String walFileKey(String name, String suffixes) {
        if (WAL_SEGMENT.matcher(name).matches()) {
            return walSegmentKey(name, suffixes);
        }
        if (name.endsWith(PARTIAL)
                && WAL_SEGMENT
                        .matcher(name.substring(0, name.length() - PARTIAL.length()))
                        .matches()) {
            return WAL_PREFIX + name.substring(0, 16) + "/" + name + suffixes;
        }
        if (name.endsWith(HISTORY)
                && TIMELINE.matcher(name.substring(0, name.length() - HISTORY.length()))
                        .matches()) {
            return timelineHistoryKey(name.substring(0, name.length() - HISTORY.length()), suffixes);
        }
        if (WAL_BACKUP_HISTORY.matcher(name).matches()) {
            return walBackupHistoryKey(name, suffixes);
        }
        throw new IllegalArgumentException("not the name of a file PostgreSQL archives (a 24-hex-digit segment,"
                + " <segment>.partial, <timeline>.history or <segment>.<offset>.backup): " + name);
    }

    /** Reserved (base backups): the data key of a base backup, {@code base/<id><suffixes>}, laid out as any kind. */
    public static String baseBackupKey(String id, String suffixes) {
        return dataKey(BASE_BACKUP_KIND, id, suffixes);
    }

    /** Reserved (restore drills): a new key for a drill report made at {@code at}. */
    public static String newDrillReportKey(Instant at) {
        return timeTagged(DRILL_REPORT_PREFIX, at);
    }

    /**
     * Reserved (restore drills): the time a drill report's key was made at ({@link #newDrillReportKey}); empty when
     * {@code key} is not of that form. Whoever wrote the key chose it: for ordering and display, not for trust.
     */
    public static java.util.Optional<Instant> drillReportTime(String key) {
        if (!key.startsWith(DRILL_REPORT_PREFIX)) {
            return java.util.Optional.empty();
        }
        String rest = key.substring(DRILL_REPORT_PREFIX.length());
        int dash = rest.indexOf('-');
        try {
            return java.util.Optional.of(STAMP.parse(dash < 0 ? rest : rest.substring(0, dash), Instant::from));
        } catch (java.time.DateTimeException e) {
            return java.util.Optional.empty();
        }
    }

    /**
     * The key of one backup at the end of a path: its last two segments, {@code <kind>/<file>}, as an operator copies
     * a backup's location ({@code prefix/database/db_backup_20260111_020000.sql.gpg}); what comes before is the
     * store's own prefix. A backup's sidecar or manifest path gives that object's key.
     *
     * @throws ConfigurationException when the path does not end with {@code <kind>/<file>}
     */
    public static String backupKeyAtEndOf(String path) {
        String[] parts = path.split("/", -1);
        int n = parts.length;
        if (n < 2 || parts[n - 1].isEmpty() || parts[n - 2].isEmpty()) {
            throw new ConfigurationException("'" + path + "' does not end with a backup's key: a backup's key is"
                    + " <kind>/<file>, e.g. database/db_backup_20260111_020000.sql.gpg");
        }
        return parts[n - 2] + "/" + parts[n - 1];
    }

    private static String timeTagged(String prefix, Instant at) {
        return prefix + STAMP.format(at) + "-"
                + Integer.toHexString(0x100000 + ThreadLocalRandom.current().nextInt(0xF00000)) + ".json";
    }
}
