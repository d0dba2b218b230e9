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
 * What {@link BackupMonitor} found: one {@link KindHealth} per watched kind, one {@link CopyHealth} per copy of the
 * store, and the overall status (the worst of them). {@link #toJson()} gives a stable JSON form for scripts and
 * dashboards. With copies, every line of {@link #summaryLines()} and every finding in the JSON names its store.
 *
 * @param checkedAt     when the checks ran
 * @param store         the store's location (no credentials)
 * @param host          the host that ran the checks
 * @param full          true for {@link BackupMonitor#runHealthChecks()}, false for a freshness-only check
 * @param kinds         per kind, in the order they were configured
 * @param storeChecks   the outcome of each {@link StoreCheck} (the WAL archive, …), in the order they were added
 * @param copies        each copy's health, in the order the copies were added (none without copies)
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
        List<CopyHealth> copies,
        List<String> notifications) {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** Copies the lists. */
    public HealthReport {
        Objects.requireNonNull(checkedAt, "checkedAt");
        kinds = List.copyOf(kinds);
        storeChecks = List.copyOf(storeChecks);
        copies = List.copyOf(copies);
        notifications = List.copyOf(notifications);
    }

    /** A report of a store without copies. */
    public HealthReport(
            Instant checkedAt,
            String store,
            String host,
            boolean full,
            List<KindHealth> kinds,
            List<StoreCheckHealth> storeChecks,
            List<String> notifications) {
        this(checkedAt, store, host, full, kinds, storeChecks, List.of(), notifications);
    }

    /** A report without store checks. */
    public HealthReport(
            Instant checkedAt,
            String store,
            String host,
            boolean full,
            List<KindHealth> kinds,
            List<String> notifications) {
        this(checkedAt, store, host, full, kinds, List.of(), List.of(), notifications);
    }

    /** The worst status of any kind, store check or copy ({@link HealthStatus#OK} when nothing is watched). */
    public HealthStatus status() {
        HealthStatus s = HealthStatus.OK;
        for (KindHealth k : kinds) {
            s = s.worst(k.status());
        }
        for (StoreCheckHealth c : storeChecks) {
            s = s.worst(c.status());
        }
        for (CopyHealth c : copies) {
            s = s.worst(c.status());
        }
        return s;
    }

    /** The stores watched, for a title: the store, e.g. {@code s3://shop-backups/prod}, then each copy after a +. */
    public String where() {
        StringBuilder b = new StringBuilder(String.valueOf(store));
        copies.forEach(c -> b.append(" + ").append(c.store()));
        return b.toString();
    }

    /** True when the status is {@link HealthStatus#OK}. */
    public boolean healthy() {
        return status() == HealthStatus.OK;
    }

    /** This report with the outcome of its alerts. */
    public HealthReport withNotifications(List<String> notifications) {
        return new HealthReport(checkedAt, store, host, full, kinds, storeChecks, copies, notifications);
    }

    /**
     * One readable line per kind, e.g. {@code database: OK — newest db_backup_… 3h 12m old, 14 backups, 2.1 GiB}, and
     * one per problem. With copies, each line starts with its store ({@code store s3://… database: OK — …},
     * {@code copy s3://… database: CRITICAL — …}, {@code copy s3://… wal: CRITICAL — …}; a store check that runs on
     * the store only, such as the server's archiver, is not prefixed), and a copy that cannot be read has one line of
     * its own.
     */
    public List<String> summaryLines() {
        List<String> out = new ArrayList<>();
        String storePrefix = copies.isEmpty() ? "" : "store " + store + " ";
        kindLines(out, storePrefix, kinds, full);
        // a store check that also runs on the copies names the store; the others (the server, the drills) do not
        checkLines(
                out,
                storePrefix,
                storeChecks,
                c -> copies.stream()
                        .anyMatch(
                                x -> x.checks().stream().anyMatch(k -> k.name().equals(c.name()))));
        for (CopyHealth c : copies) {
            String prefix = "copy " + c.store() + " ";
            if (!c.findings().isEmpty()) {
                out.add(prefix.strip() + ": " + c.status());
                c.findings().forEach(f -> out.add("  " + prefix.strip() + ": " + f.message()));
            }
            kindLines(out, prefix, c.kinds(), false);
            checkLines(out, prefix, c.checks(), x -> true);
        }
        return out;
    }

    private static void checkLines(
            List<String> out,
            String prefix,
            List<StoreCheckHealth> checks,
            java.util.function.Predicate<StoreCheckHealth> named) {
        for (StoreCheckHealth c : checks) {
            String p = named.test(c) ? prefix : "";
            out.add(p + c.name() + ": " + c.status() + " — " + c.summary());
            for (Finding f : c.findings()) {
                out.add("  " + p + c.name() + ": " + f.message());
            }
        }
    }

    private void kindLines(List<String> out, String prefix, List<KindHealth> kinds, boolean full) {
        for (KindHealth k : kinds) {
            StringBuilder b =
                    new StringBuilder(prefix).append(k.kind()).append(": ").append(k.status());
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
            chainLines(out, prefix, k);
            for (String p : k.problems()) {
                out.add("  " + prefix + k.kind() + ": " + p);
            }
        }
    }

    /**
     * One line per chain of incremental backups: the newest {@value ChainCheck#CHAINS_SHOWN} and every broken one;
     * the others are counted.
     */
    private static void chainLines(List<String> out, String prefix, KindHealth k) {
        int shown = 0;
        int whole = 0;
        for (ChainHealth c : k.chains()) {
            if (shown >= ChainCheck.CHAINS_SHOWN && c.status() == HealthStatus.OK) {
                whole++;
                continue;
            }
            shown++;
            out.add("  " + prefix + k.kind() + " chain " + c.base() + ": " + c.status() + " — full backup "
                    + (c.baseAge() == null ? "missing" : human(c.baseAge()) + " old") + ", " + c.increments()
                    + (c.increments() == 1 ? " increment" : " increments") + ", newest link " + c.newest() + " "
                    + human(c.newestAge()) + " old; "
                    + (c.whole() ? "every link present and bound" : "BROKEN (below)")
                    + switch (c.verified()) {
                        case PASSED -> "; verified (" + c.verifiedDetail() + ")";
                        case FAILED -> "; verification FAILED (" + c.verifiedDetail() + ")";
                        case NOT_VERIFIED -> "; not verified (" + c.verifiedDetail() + ")";
                        case UNREADABLE -> "; cannot tell (" + c.verifiedDetail() + ")";
                        case NOT_CHECKED -> "";
                    });
        }
        if (whole > 0) {
            out.add("  " + prefix + k.kind() + ": " + whole + " older " + (whole == 1 ? "chain" : "chains")
                    + ", every link present and bound");
        }
    }

    /** The report as one line of JSON. */
    public String toJson() {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("status", status().name());
        root.put("checkedAt", checkedAt.toString());
        root.put("store", store);
        root.put("host", host);
        root.put("checks", full ? "full" : "freshness");
        String named = copies.isEmpty() ? null : store; // with copies, each finding names its store
        ArrayNode ks = root.putArray("kinds");
        for (KindHealth k : kinds) {
            kind(ks.addObject(), k, named);
        }
        storeChecks(root, storeChecks, named);
        if (!copies.isEmpty()) {
            ArrayNode cs = root.putArray("copies");
            for (CopyHealth c : copies) {
                ObjectNode n = cs.addObject();
                n.put("store", c.store());
                n.put("status", c.status().name());
                findings(n, c.findings(), c.store());
                ArrayNode cks = n.putArray("kinds");
                c.kinds().forEach(k -> kind(cks.addObject(), k, c.store()));
                storeChecks(n, c.checks(), c.store());
            }
        }
        ArrayNode notes = root.putArray("notifications");
        notifications.forEach(notes::add);
        try {
            return MAPPER.writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise the health report", e);
        }
    }

    /** The {@code storeChecks} array; {@code store} (with copies) is added to each finding. */
    private static void storeChecks(ObjectNode parent, List<StoreCheckHealth> list, String store) {
        ArrayNode checks = parent.putArray("storeChecks");
        for (StoreCheckHealth c : list) {
            ObjectNode n = checks.addObject();
            n.put("name", c.name());
            n.put("status", c.status().name());
            n.put("summary", c.summary());
            findings(n, c.findings(), store);
            n.set("facts", MAPPER.valueToTree(c.facts()));
        }
    }

    /** One kind's JSON; {@code store} (with copies) is added to each finding. */
    private static void kind(ObjectNode n, KindHealth k, String store) {
        n.put("kind", k.kind());
        n.put("status", k.status().name());
        ArrayNode problems = n.putArray("problems");
        k.problems().forEach(problems::add);
        findings(n, k.findings(), store);
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
        ArrayNode chains = n.putArray("chains");
        for (ChainHealth c : k.chains()) {
            ObjectNode cn = chains.addObject();
            cn.put("base", c.base());
            cn.put("status", c.status().name());
            if (c.baseAge() == null) {
                cn.putNull("baseAgeSeconds");
            } else {
                cn.put("baseAgeSeconds", c.baseAge().toSeconds());
            }
            cn.put("increments", c.increments());
            cn.put("newest", c.newest());
            cn.put("newestAgeSeconds", c.newestAge().toSeconds());
            cn.put("whole", c.whole());
            cn.put("damage", c.damage());
            cn.put("verified", c.verified().name());
            cn.put("verifiedDetail", c.verifiedDetail());
        }
    }

    /** The report as UTF-8 JSON bytes. */
    byte[] toJsonBytes() {
        return toJson().getBytes(StandardCharsets.UTF_8);
    }

    private static void findings(ObjectNode parent, List<Finding> list, String store) {
        ArrayNode findings = parent.putArray("findings");
        for (Finding f : list) {
            ObjectNode n = findings.addObject()
                    .put("check", f.check())
                    .put("status", f.status().name())
                    .put("message", f.message());
            if (store != null) {
                n.put("store", store);
            }
        }
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
