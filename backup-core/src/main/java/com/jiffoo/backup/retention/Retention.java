package com.jiffoo.backup.retention;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.RetentionPolicy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Retention rules as restic's {@code forget} has them — keep within a period, keep the last N, keep one per day,
 * week, month, year for the last N such periods that have backups — combined so that a backup is kept when
 * <em>any</em> rule keeps it, with a safety floor that no rule can lower.
 *
 * <pre>{@code
 * RetentionPolicy policy = Retention.builder()
 *         .keepWithin(Duration.ofDays(30))          // the runbook's RETENTION_DAYS=30
 *         .keepDaily(7).keepWeekly(4).keepMonthly(12).keepYearly(3)
 *         .minimum(3)                               // never fewer than 3 backups of a kind
 *         .zone(ZoneId.of("Europe/Berlin"))         // what "a day" means
 *         .build();
 * }</pre>
 *
 * <p>Safety, whatever the rules say: only committed backups are ever judged (the caller passes manifests); backups
 * are ordered by the completion time in their manifests, never by names or store timestamps; the newest backup is
 * always kept; at least {@link Builder#minimum(int)} backups (default 1) are kept, the newest ones. Every verdict
 * names the rule that kept the backup, or why it may go, for dry runs and logs.
 *
 * <p>Policies are immutable and thread-safe; time comes from the {@link Clock} given to {@code evaluate}.
 */
public final class Retention implements RetentionPolicy {
    private final Duration within;
    private final int last;
    private final int daily;
    private final int weekly;
    private final int monthly;
    private final int yearly;
    private final int minimum;
    private final ZoneId zone;

    private Retention(Builder b) {
        this.within = b.within;
        this.last = b.last;
        this.daily = b.daily;
        this.weekly = b.weekly;
        this.monthly = b.monthly;
        this.yearly = b.yearly;
        this.minimum = b.minimum;
        this.zone = b.zone;
    }

    /** A builder with no rule (it keeps only the safety floor: the newest backup). */
    public static Builder builder() {
        return new Builder();
    }

    /** The runbook's rule: keep what completed within the last {@code days} days (RETENTION_DAYS, default 30). */
    public static Retention maxAgeDays(int days) {
        return builder().keepWithin(Duration.ofDays(days)).build();
    }

    /** A builder holding this policy's rules. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.within = within;
        b.last = last;
        b.daily = daily;
        b.weekly = weekly;
        b.monthly = monthly;
        b.yearly = yearly;
        b.minimum = minimum;
        b.zone = zone;
        return b;
    }

    @Override
    public List<Verdict> evaluate(List<BackupManifest> backups, Clock clock) {
        Instant now = clock.instant();
        List<BackupManifest> newestFirst = new ArrayList<>(backups);
        newestFirst.sort(Comparator.comparing(BackupManifest::completedAt).reversed());
        Map<BackupManifest, List<String>> reasons = new IdentityHashMap<>();
        for (BackupManifest b : newestFirst) {
            reasons.put(b, new ArrayList<>());
        }
        if (within != null) {
            Instant since = now.minus(within);
            for (BackupManifest b : newestFirst) {
                if (b.completedAt().isAfter(since)) {
                    reasons.get(b).add("within " + human(within));
                }
            }
        }
        for (int i = 0; i < Math.min(last, newestFirst.size()); i++) {
            reasons.get(newestFirst.get(i)).add("last " + last);
        }
        bucket(newestFirst, reasons, daily, "daily", ZonedDateTime::toLocalDate);
        bucket(
                newestFirst,
                reasons,
                weekly,
                "weekly",
                t -> t.get(IsoFields.WEEK_BASED_YEAR) + "-W"
                        + String.format("%02d", t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR)));
        bucket(newestFirst, reasons, monthly, "monthly", t -> java.time.YearMonth.from(t));
        bucket(newestFirst, reasons, yearly, "yearly", t -> java.time.Year.from(t));

        // the safety floor: the newest, then the newest others up to the minimum count
        int kept = 0;
        for (int i = 0; i < newestFirst.size(); i++) {
            BackupManifest b = newestFirst.get(i);
            List<String> r = reasons.get(b);
            if (r.isEmpty() && i == 0) {
                r.add("newest backup (never deleted)");
            } else if (r.isEmpty() && kept < minimum) {
                r.add("minimum count " + minimum);
            }
            if (!r.isEmpty()) {
                kept++;
            }
        }

        Map<BackupManifest, Verdict> byBackup = new IdentityHashMap<>();
        for (BackupManifest b : newestFirst) {
            List<String> r = reasons.get(b);
            byBackup.put(
                    b,
                    r.isEmpty()
                            ? new Verdict(b, false, "no rule keeps it (" + describeRules() + ")")
                            : new Verdict(b, true, String.join(", ", r)));
        }
        List<Verdict> out = new ArrayList<>();
        for (BackupManifest b : backups) {
            out.add(byBackup.get(b));
        }
        return out;
    }

    /** Keeps the newest backup of each of the last {@code n} periods that have backups. */
    private void bucket(
            List<BackupManifest> newestFirst,
            Map<BackupManifest, List<String>> reasons,
            int n,
            String rule,
            Function<ZonedDateTime, Object> period) {
        Object lastPeriod = null;
        int left = n;
        for (BackupManifest b : newestFirst) {
            if (left == 0) {
                return;
            }
            Object p = period.apply(b.completedAt().atZone(zone));
            if (!p.equals(lastPeriod)) {
                reasons.get(b).add(rule + " " + p);
                lastPeriod = p;
                left--;
            }
        }
    }

    /** The rules, e.g. {@code within 30d, daily 7, weekly 4, minimum 3}. */
    public String describeRules() {
        Map<String, Object> rules = new LinkedHashMap<>();
        if (within != null) {
            rules.put("within", human(within));
        }
        if (last > 0) {
            rules.put("last", last);
        }
        if (daily > 0) {
            rules.put("daily", daily);
        }
        if (weekly > 0) {
            rules.put("weekly", weekly);
        }
        if (monthly > 0) {
            rules.put("monthly", monthly);
        }
        if (yearly > 0) {
            rules.put("yearly", yearly);
        }
        rules.put("minimum", minimum);
        StringBuilder sb = new StringBuilder();
        rules.forEach((k, v) ->
                sb.append(sb.length() == 0 ? "" : ", ").append(k).append(' ').append(v));
        return sb.toString();
    }

    private static String human(Duration d) {
        return d.toHours() % 24 == 0 && d.toDays() > 0 ? d.toDays() + "d" : d.toString();
    }

    @Override
    public String toString() {
        return "Retention{" + describeRules() + ", zone " + zone + "}";
    }

    /** Builds a {@link Retention}. Not thread-safe. */
    public static final class Builder {
        private Duration within;
        private int last;
        private int daily;
        private int weekly;
        private int monthly;
        private int yearly;
        private int minimum = 1;
        private ZoneId zone = ZoneOffset.UTC;

        private Builder() {}

        /** Keeps every backup that completed within {@code period} of now. */
        public Builder keepWithin(Duration period) {
            Objects.requireNonNull(period, "period");
            if (period.isNegative() || period.isZero()) {
                throw new IllegalArgumentException("keepWithin needs a positive period, got " + period);
            }
            this.within = period;
            return this;
        }

        /** Keeps the {@code n} newest backups. */
        public Builder keepLast(int n) {
            this.last = count(n, "keepLast");
            return this;
        }

        /** Keeps the newest backup of each of the last {@code n} days that have backups. */
        public Builder keepDaily(int n) {
            this.daily = count(n, "keepDaily");
            return this;
        }

        /** Keeps the newest backup of each of the last {@code n} ISO weeks that have backups. */
        public Builder keepWeekly(int n) {
            this.weekly = count(n, "keepWeekly");
            return this;
        }

        /** Keeps the newest backup of each of the last {@code n} months that have backups. */
        public Builder keepMonthly(int n) {
            this.monthly = count(n, "keepMonthly");
            return this;
        }

        /** Keeps the newest backup of each of the last {@code n} years that have backups. */
        public Builder keepYearly(int n) {
            this.yearly = count(n, "keepYearly");
            return this;
        }

        /** Never keeps fewer than {@code n} backups (the newest ones), whatever the rules say; 1 by default. */
        public Builder minimum(int n) {
            if (n < 1) {
                throw new IllegalArgumentException(
                        "minimum must be at least 1 (the newest backup is never deleted)," + " got " + n);
            }
            this.minimum = n;
            return this;
        }

        /** The time zone that decides where days, weeks, months and years begin; UTC by default. */
        public Builder zone(ZoneId zone) {
            this.zone = Objects.requireNonNull(zone, "zone");
            return this;
        }

        /** Builds the policy. */
        public Retention build() {
            return new Retention(this);
        }

        private static int count(int n, String what) {
            if (n < 0) {
                throw new IllegalArgumentException(what + " must be >= 0, got " + n);
            }
            return n;
        }
    }
}
