package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a point-in-time restore stops: a time, a WAL position, a named restore point, or the end of the archive. The
 * text is passed to PostgreSQL unchanged ({@code recovery_target_time}, {@code recovery_target_lsn},
 * {@code recovery_target_name}); this class only reads enough of it to choose a base backup that ends before it.
 *
 * <p><b>Times.</b> {@link #time(String, boolean)} accepts the forms PostgreSQL's own output and ISO 8601 use, always with a
 * zone: {@code 2026-12-01 21:05:07.123456+00}, {@code 2026-12-01 21:05:07+01:00}, {@code 2026-12-01 21:05:07 UTC},
 * {@code 2026-12-01T21:05:07Z}. A trailing {@code Z} is written as {@code +00}: PostgreSQL reads {@code Z} only once
 * it runs, and refuses to start with it in {@code recovery_target_time} ("invalid value for parameter"). A time
 * without a zone is refused: the restored server would read it in its own
 * {@code timezone} setting, which this tool cannot know before the server runs, and a wrong guess picks the wrong
 * base backup. (With {@code restore pitr --backup NAME} nothing is parsed, and any text PostgreSQL accepts is passed.)
 *
 * <p>Immutable.
 */
public final class RecoveryTarget {
    /** The kinds of target. */
    public enum Type {
        /** {@code recovery_target_time}. */
        TIME,
        /** {@code recovery_target_lsn}. */
        LSN,
        /** {@code recovery_target_name} (a {@code pg_create_restore_point}). */
        NAME,
        /** No target: replay all archived WAL. */
        LATEST
    }

    /** Replays all the WAL in the archive. */
    public static final RecoveryTarget LATEST = new RecoveryTarget(Type.LATEST, null, null);

    private static final Pattern ZONE_NAME = Pattern.compile("(?i)^(.*\\d)\\s+(UTC|GMT|Z)$");
    private static final DateTimeFormatter PG = new DateTimeFormatterBuilder()
            .appendPattern("uuuu-MM-dd")
            .optionalStart()
            .appendLiteral(' ')
            .optionalEnd()
            .optionalStart()
            .appendLiteral('T')
            .optionalEnd()
            .appendPattern("HH:mm")
            .optionalStart()
            .appendPattern(":ss")
            .optionalEnd()
            .optionalStart()
            .appendFraction(ChronoField.NANO_OF_SECOND, 1, 9, true)
            .optionalEnd()
            .optionalStart()
            .appendOffset("+HH:mm", "Z")
            .optionalEnd()
            .optionalStart()
            .appendOffset("+HH", "Z")
            .optionalEnd()
            .toFormatter(Locale.ROOT);

    private final Type type;
    private final String text;
    private final Object parsed; // Instant (TIME, when parsed), WalPosition (LSN)

    private RecoveryTarget(Type type, String text, Object parsed) {
        this.type = type;
        this.text = text;
        this.parsed = parsed;
    }

    /**
     * A target time, as {@code recovery_target_time} takes it. The text is kept as given.
     *
     * @param requireZone true to refuse a text this class cannot read as an instant (a zone is needed to choose a
     *                    base backup); false when the base backup is named, and any text is passed to PostgreSQL
     * @throws ConfigurationException when {@code requireZone} and the text is not one of the forms listed above
     */
    public static RecoveryTarget time(String text, boolean requireZone) {
        String t = requireText(text, "--target-time");
        if (t.matches(".*\\d[Zz]")) {
            t = t.substring(0, t.length() - 1) + "+00";
        }
        Optional<Instant> instant = parseInstant(t);
        if (instant.isEmpty() && requireZone) {
            throw new ConfigurationException("Cannot read the target time '" + t + "': write it with a zone, e.g."
                    + " '2026-12-01 21:05:07+00', '2026-12-01 21:05:07.25 UTC' or '2026-12-01T21:05:07Z' (the"
                    + " restored server would read a time without a zone in its own timezone setting, so the base"
                    + " backup to start from cannot be chosen). Or name the base backup with --backup; the text is"
                    + " then passed to PostgreSQL as it is.");
        }
        return new RecoveryTarget(Type.TIME, t, instant.orElse(null));
    }

    /** A target WAL position ({@code 0/3000060}). */
    public static RecoveryTarget lsn(String text) {
        String t = requireText(text, "--target-lsn");
        return new RecoveryTarget(Type.LSN, t, WalPosition.parse(t));
    }

    /** A named restore point, created with {@code SELECT pg_create_restore_point('NAME')}. */
    public static RecoveryTarget name(String text) {
        String t = requireText(text, "--target-name");
        if (t.length() > 63) {
            throw new ConfigurationException("A restore point name has at most 63 characters; got " + t.length() + ".");
        }
        return new RecoveryTarget(Type.NAME, t, null);
    }

    private static String requireText(String text, String what) {
        if (text == null || text.isBlank() || text.indexOf('\n') >= 0 || text.indexOf('\0') >= 0) {
            throw new ConfigurationException(what + " needs a value on one line.");
        }
        return text.strip();
    }

    static Optional<Instant> parseInstant(String text) {
        String t = text;
        Matcher named = ZONE_NAME.matcher(t);
        if (named.matches()) {
            t = named.group(1) + "Z";
        }
        try {
            var parsed = PG.parseBest(t, OffsetDateTime::from, LocalDateTime::from);
            return parsed instanceof OffsetDateTime odt ? Optional.of(odt.toInstant()) : Optional.empty();
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }

    /** The kind of target. */
    public Type type() {
        return type;
    }

    /** The text as given (null for {@link #LATEST}). */
    public String text() {
        return text;
    }

    /** The target time as an instant, when it is a time this class could read. */
    public Optional<Instant> instant() {
        return parsed instanceof Instant i ? Optional.of(i) : Optional.empty();
    }

    /** The target position as text ({@code 0/3000060}), for an LSN target. */
    Optional<WalPosition> position() {
        return parsed instanceof WalPosition p ? Optional.of(p) : Optional.empty();
    }

    /** The setting PostgreSQL reads, e.g. {@code recovery_target_time}; empty for {@link #LATEST}. */
    public Optional<String> setting() {
        return switch (type) {
            case TIME -> Optional.of("recovery_target_time");
            case LSN -> Optional.of("recovery_target_lsn");
            case NAME -> Optional.of("recovery_target_name");
            case LATEST -> Optional.empty();
        };
    }

    /** E.g. {@code time 2026-12-01 21:05:07+00}, {@code latest}. */
    @Override
    public String toString() {
        return type == Type.LATEST ? "latest" : type.name().toLowerCase(Locale.ROOT) + " " + text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RecoveryTarget r && r.type == type && Objects.equals(r.text, text);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, text);
    }
}
