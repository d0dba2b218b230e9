package com.jiffoo.backup.monitor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.internal.Support;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What {@link BackupMonitor} found: one {@link KindHealth} per watched kind and the overall status (the worst of
 * them). {@link #toJson()} gives a stable JSON form for scripts and dashboards.
 *
 * @param checkedAt     when the checks ran
 * @param store         the store's location (no credentials)
 * @param host          the host that ran the checks
 * @param full          true for {@link BackupMonitor#runHealthChecks()}, false for a freshness-only check
 * @param kinds         per kind, in the order they were configured
 * @param storeChecks   the outcome of each {@link StoreCheck} (the WAL archive, …), in the order they were added
 * @param notifications what happened to the alerts this report caused, e.g. {@code "Slack webhook (hooks.slack.com):
 *                      sent"}
 */
public record HealthReport(
        Instant checkedAt,
        String store,
        String host,
        boolean full,
        List<KindHealth> kinds,
        List<StoreCheckHealth> storeChecks,
        List<String> notifications) {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** Copies the lists. */
    public HealthReport {
        Objects.requireNonNull(checkedAt, "checkedAt");
        kinds = List.copyOf(kinds);
        storeChecks = List.copyOf(storeChecks);
        notifications = List.copyOf(notifications);
    }

    /** A report without store checks. */
    public HealthReport(
            Instant checkedAt,
            String store,
            String host,
            boolean full,
            List<KindHealth> kinds,
            List<String> notifications) {
        this(checkedAt, store, host, full, kinds, List.of(), notifications);
    }

    /** The worst status of any kind or store check ({@link HealthStatus#OK} when nothing is watched). */
    public HealthStatus status() {
        HealthStatus s = HealthStatus.OK;
        for (KindHealth k : kinds) {
            s = s.worst(k.status());
        }
        for (StoreCheckHealth c : storeChecks) {
            s = s.worst(c.status());
        }
        return s;
    }

    /** True when the status is {@link HealthStatus#OK}. */
    public boolean healthy() {
        return status() == HealthStatus.OK;
    }

    /** This report with the outcome of its alerts. */
    public HealthReport withNotifications(List<String> notifications) {
        return new HealthReport(checkedAt, store, host, full, kinds, storeChecks, notifications);
    }

    /** One readable line per kind, e.g. {@code database: OK — newest db_backup_… 3h 12m old, 14 backups, 2.1 GiB}. */
    public List<String> summaryLines() {
        List<String> out = new ArrayList<>();
        for (KindHealth k : kinds) {
            StringBuilder b = new StringBuilder(k.kind()).append(": ").append(k.status());
            if (k.newest() != null) {
                b.append(" — newest ")
                        .append(k.newest().id())
                        .append(", ")
                        .append(human(k.newestAge()))
                        .append(" old; ")
                        .append(k.count())
                        .append(k.count() == 1 ? " backup, " : " backups, ")
                        .append(Support.humanBytes(k.totalBytes()));
            }
            VerificationRecord v = k.lastPassedVerification();
            if (full) {
                b.append(
                        v == null
                                ? "; never verified"
                                : "; last passed verification " + human(Duration.between(v.verifiedAt(), checkedAt))
                                        + " ago (" + v.mode() + ")");
            }
            out.add(b.toString());
            for (String p : k.problems()) {
                out.add("  " + k.kind() + ": " + p);
            }
        }
        for (StoreCheckHealth c : storeChecks) {
            out.add(c.name() + ": " + c.status() + " — " + c.summary());
            for (Finding f : c.findings()) {
                out.add("  " + c.name() + ": " + f.message());
            }
        }
        return out;
    }

    /** The report as one line of JSON. */
    public String toJson() {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("status", status().name());
        root.put("checkedAt", checkedAt.toString());
        root.put("store", store);
        root.put("host", host);
        root.put("checks", full ? "full" : "freshness");
        ArrayNode ks = root.putArray("kinds");
        for (KindHealth k : kinds) {
            ObjectNode n = ks.addObject();
            n.put("kind", k.kind());
            n.put("status", k.status().name());
            ArrayNode problems = n.putArray("problems");
            k.problems().forEach(problems::add);
            findings(n, k.findings());
            n.put("count", k.count());
            n.put("totalBytes", k.totalBytes());
            if (k.newest() != null) {
                ObjectNode newest = n.putObject("newest");
                newest.put("id", k.newest().id());
                newest.put("key", k.newest().objectKey());
                newest.put("completedAt", k.newest().completedAt().toString());
                newest.put("ageSeconds", k.newestAge().toSeconds());
                newest.put("size", k.newest().objectSize());
                newest.put("encrypted", k.newest().encrypted());
            } else {
                n.putNull("newest");
            }
            verification(n, "lastVerification", k.lastVerification());
            verification(n, "lastPassedVerification", k.lastPassedVerification());
            ObjectNode key = n.putObject("keyCheck");
            key.put("result", k.keyCheck().name());
            key.put("detail", k.keyCheckDetail());
        }
        ArrayNode checks = root.putArray("storeChecks");
        for (StoreCheckHealth c : storeChecks) {
            ObjectNode n = checks.addObject();
            n.put("name", c.name());
            n.put("status", c.status().name());
            n.put("summary", c.summary());
            findings(n, c.findings());
            n.set("facts", MAPPER.valueToTree(c.facts()));
        }
        ArrayNode notes = root.putArray("notifications");
        notifications.forEach(notes::add);
        try {
            return MAPPER.writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise the health report", e);
        }
    }

    /** The report as UTF-8 JSON bytes. */
    byte[] toJsonBytes() {
        return toJson().getBytes(StandardCharsets.UTF_8);
    }

    private static void findings(ObjectNode parent, List<Finding> list) {
        ArrayNode findings = parent.putArray("findings");
        list.forEach(f -> findings.addObject()
                .put("check", f.check())
                .put("status", f.status().name())
                .put("message", f.message()));
    }

    private static void verification(ObjectNode parent, String field, VerificationRecord v) {
        if (v == null) {
            parent.putNull(field);
            return;
        }
        ObjectNode n = parent.putObject(field);
        n.put("key", v.objectKey());
        n.put("verifiedAt", v.verifiedAt().toString());
        n.put("mode", v.mode());
        n.put("result", v.passed() ? "passed" : "failed");
        if (!v.passed()) {
            n.put("errorCode", v.errorCode());
            n.put("message", v.message());
        }
    }

    /** E.g. {@code 3d 4h}, {@code 26h 5m}, {@code 12m}. */
    static String human(Duration d) {
        return Support.humanDuration(d);
    }
}
