package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupChain;
import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.StoredBackups;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.VerificationRecord;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code chains}: each chain of incremental backups ({@link BackupChain}: a full backup and its increments) is whole.
 * Every link must be in the store (its manifest accepted, its data object there with the size its manifest records),
 * bound to its successor (the parent's id and SHA-256 the successor recorded), and, in the full check, no link's
 * standing verification may have failed. A chain that is not whole is CRITICAL, naming the link. In the full check, a
 * link whose verification records cannot all be read (garbled, unparseable, failing their signature, or not listable)
 * leaves the chain's state unknown: one of them may have been a failed verification, so the chain is not reported OK
 * but WARNING ({@link ChainHealth.Verified#UNREADABLE}), naming the record. The backups a break
 * makes unrestorable (the link and every increment after it) no longer count as the kind's newest backup, so a fresh
 * increment on a broken chain cannot make the freshness check pass. Runs before {@code freshness}; one listing of
 * the kind's objects, and in the full check one read of the verification records of each link.
 */
final class ChainCheck extends HealthCheck {
    /** How many chains the text report shows besides the broken ones. */
    static final int CHAINS_SHOWN = 3;

    ChainCheck() {
        super("chains", When.ALWAYS);
    }

    @Override
    void check(KindInspection k) {
        List<BackupManifest> committed = k.committed();
        Map<String, List<BackupManifest>> byBase = new LinkedHashMap<>(); // newest chain first, members newest first
        Map<String, BackupManifest> byId = new HashMap<>();
        for (BackupManifest m : committed) {
            byId.put(m.id(), m);
            BackupChain.level(m)
                    .ifPresent(level -> byBase.computeIfAbsent(baseOf(m, level), b -> new ArrayList<>())
                            .add(m));
        }
        if (byBase.isEmpty()) {
            return;
        }
        Map<String, Long> sizes = objectSizes(k, byBase);
        Set<String> unrestorable = new HashSet<>();
        Map<String, String> linkDamage = new HashMap<>(); // id -> what is wrong with that link itself
        Map<String, VerificationRecord> standing = new HashMap<>();
        Map<String, String> unreadable = new HashMap<>(); // id -> which of its records cannot be read, and why
        for (List<BackupManifest> members : byBase.values()) {
            for (BackupManifest m : members) {
                linkDamage.put(m.id(), ownDamage(k, m, sizes, standing, unreadable));
            }
        }
        // verifying an increment checks every link before it, and a damaged earlier link fails the increment's
        // verification: its record names the link's object, which is the damaged one
        for (List<BackupManifest> members : byBase.values()) {
            for (BackupManifest m : members) {
                VerificationRecord r = standing.get(m.id());
                if (r == null || r.passed() || r.message() == null) {
                    continue;
                }
                for (BackupManifest l : members) {
                    if (l != m && r.message().contains(l.objectKey())) {
                        linkDamage.put(m.id(), "");
                        if (linkDamage.get(l.id()).isEmpty()) {
                            linkDamage.put(
                                    l.id(),
                                    "its link " + l.id() + " is damaged: the " + (r.deep() ? "deep" : "quick")
                                            + " verification of " + m.id() + " "
                                            + HealthReport.human(Duration.between(
                                                    r.verifiedAt(), k.skew().now()))
                                            + " ago found " + l.objectKey() + " damaged (" + r.message() + ")");
                        }
                        break;
                    }
                }
            }
        }
        List<ChainHealth> chains = new ArrayList<>();
        for (Map.Entry<String, List<BackupManifest>> e : byBase.entrySet()) {
            String base = e.getKey();
            List<BackupManifest> members = e.getValue();
            // the problems, oldest link first: what is wrong with a link itself, and a link that is not there or not
            // the one its successor was made on (BackupChain.links names it)
            java.util.LinkedHashSet<String> problems = new java.util.LinkedHashSet<>();
            boolean structural = false;
            for (int i = members.size() - 1; i >= 0; i--) {
                BackupManifest m = members.get(i);
                String own = linkDamage.getOrDefault(m.id(), "");
                if (!own.isEmpty()) {
                    problems.add(own);
                }
                try {
                    for (BackupManifest l : BackupChain.links(m, committed)) {
                        if (!linkDamage.getOrDefault(l.id(), "").isEmpty()) {
                            unrestorable.add(m.id());
                        }
                    }
                } catch (IntegrityException broken) {
                    unrestorable.add(m.id());
                    if (!structural) {
                        structural = true;
                        problems.add(briefly(broken.getMessage()));
                    }
                }
            }
            BackupManifest newest = members.get(0);
            BackupManifest full = byId.get(base);
            if (full != null && BackupChain.level(full).orElse(-1L) != 0) {
                full = null;
            }
            if (full == null && problems.isEmpty()) {
                problems.add("its full backup " + base + " is missing from the store or its manifest is refused");
                members.forEach(m -> unrestorable.add(m.id()));
            }
            String damage = problems.isEmpty() ? null : String.join("; ", problems);
            int increments =
                    (int) members.stream().filter(BackupChain::isIncrement).count();
            ChainHealth.Verified verified;
            String detail;
            if (!k.full() || k.primary() != null) {
                verified = ChainHealth.Verified.NOT_CHECKED;
                detail = k.primary() != null ? "not checked in a copy" : "freshness check only";
            } else {
                VerificationRecord failed = members.stream()
                        .map(m -> standing.get(m.id()))
                        .filter(r -> r != null && !r.passed())
                        .reduce((a, b) -> b) // the oldest link's
                        .orElse(null);
                VerificationRecord newestRecord = standing.get(newest.id());
                String cannotTell = members.stream()
                        .map(m -> unreadable.get(m.id()))
                        .filter(java.util.Objects::nonNull)
                        .reduce((a, b) -> b + "; " + a) // the oldest link's first
                        .orElse(null);
                if (failed != null) {
                    verified = ChainHealth.Verified.FAILED;
                    detail = "the " + (failed.deep() ? "deep" : "quick") + " verification of " + failed.backupId()
                            + " failed "
                            + HealthReport.human(Duration.between(
                                    failed.verifiedAt(), k.skew().now()))
                            + " ago";
                } else if (cannotTell != null) {
                    verified = ChainHealth.Verified.UNREADABLE;
                    detail = cannotTell;
                    k.find(
                            HealthStatus.WARNING,
                            "the chain of " + base + " cannot be told intact: " + cannotTell + ". A record that cannot"
                                    + " be read may have been a failed verification. Run a deep verification of the"
                                    + " newest link (verify --deep " + newest.objectKey() + "): its record then"
                                    + " stands; delete the unreadable record once it is understood (who or what"
                                    + " changed it).");
                } else if (newestRecord != null && newestRecord.passed()) {
                    verified = ChainHealth.Verified.PASSED;
                    detail = "the newest link passed a " + (newestRecord.deep() ? "deep" : "quick")
                            + " verification (every link before it checked) "
                            + HealthReport.human(Duration.between(
                                    newestRecord.verifiedAt(), k.skew().now()))
                            + " ago";
                } else {
                    verified = ChainHealth.Verified.NOT_VERIFIED;
                    detail = "the newest link " + newest.id() + " has no passed verification";
                }
            }
            ChainHealth c = new ChainHealth(
                    base,
                    full == null
                            ? null
                            : Duration.between(full.completedAt(), k.skew().now()),
                    increments,
                    newest.id(),
                    Duration.between(newest.completedAt(), k.skew().now()),
                    damage == null,
                    damage,
                    verified,
                    detail);
            chains.add(c);
            if (damage != null) {
                k.find(
                        HealthStatus.CRITICAL,
                        "the chain of " + base + " (" + increments + (increments == 1 ? " increment" : " increments")
                                + ", newest " + newest.id() + ") is broken: " + damage
                                + ". The backups of the chain from that link on cannot be restored and do not count"
                                + " as backups; the next `backup files --incremental` starts a new chain with a full"
                                + " backup. Find out who deletes from or writes to the store, then run that backup"
                                + " now (or wait for the schedule) and restore an earlier intact backup if needed.");
            }
        }
        k.chains(chains, unrestorable);
    }

    private static String baseOf(BackupManifest m, long level) {
        if (level == 0) {
            return m.id();
        }
        Object base = ((Map<?, ?>) m.sourceFacts().get(BackupChain.FACT)).get("base");
        return base instanceof String s ? s : String.valueOf(base);
    }

    /**
     * "" when the link itself is fine, else what is wrong with it (its data object, a failed verification). Records
     * its standing verification in {@code standing}, and in {@code unreadable} which of its records cannot be read.
     */
    private static String ownDamage(
            KindInspection k,
            BackupManifest m,
            Map<String, Long> sizes,
            Map<String, VerificationRecord> standing,
            Map<String, String> unreadable) {
        Long size = sizes.get(m.objectKey());
        if (size == null) {
            return "its link " + m.id() + " is missing its data object " + m.objectKey()
                    + " (its manifest is still there)";
        }
        if (size != m.objectSize()) {
            return "its link " + m.id() + " has " + size + " bytes in the store, its manifest says " + m.objectSize()
                    + " (" + m.objectKey() + " is damaged)";
        }
        if (k.full() && k.primary() == null) {
            VerificationRecord r;
            try {
                StoredBackups.Verifications read = k.backups().readVerifications(m);
                if (!read.unreadable().isEmpty()) {
                    List<String> named = new ArrayList<>();
                    read.unreadable().forEach((key, why) -> named.add(key + " (" + why + ")"));
                    unreadable.put(
                            m.id(),
                            "the verification record" + (named.size() == 1 ? " " : "s ") + String.join(", ", named)
                                    + " of its link " + m.id() + " cannot be read");
                }
                r = VerificationRecord.standing(read.records()).orElse(null);
            } catch (BackupException e) {
                unreadable.put(
                        m.id(),
                        "the verification records of its link " + m.id() + " cannot be read (" + e.getMessage() + ")");
                return "";
            }
            if (r != null && k.skew().isFuture(r.verifiedAt())) {
                r = null;
            }
            if (r != null) {
                standing.put(m.id(), r);
                if (!r.passed()) {
                    return "its link " + m.id() + " failed its " + (r.deep() ? "deep" : "quick") + " verification "
                            + HealthReport.human(
                                    Duration.between(r.verifiedAt(), k.skew().now())) + " ago ("
                            + r.message() + ")";
                }
            }
        }
        return "";
    }

    /** {@link BackupChain#links}' message without what concerns the one backup it was asked about. */
    private static String briefly(String message) {
        String m = message.replaceFirst("^The chain of \\S+ is broken: ", "");
        for (String cut : new String[] {", so ", ". Restore"}) {
            int i = m.indexOf(cut);
            if (i > 0) {
                m = m.substring(0, i);
            }
        }
        return m;
    }

    /** The size of each link's data object in the store (one listing of the kind's objects). */
    private static Map<String, Long> objectSizes(KindInspection k, Map<String, List<BackupManifest>> byBase) {
        Set<String> wanted = new HashSet<>();
        byBase.values().forEach(list -> list.forEach(m -> wanted.add(m.objectKey())));
        Map<String, Long> sizes = new HashMap<>();
        List<StoredObject> objects;
        try {
            objects = k.sink().list(StoreLayout.kindPrefix(k.kind()));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(
                    "cannot list " + StoreLayout.kindPrefix(k.kind()) + " in "
                            + k.sink().location(),
                    e);
        }
        for (StoredObject o : objects) {
            if (wanted.contains(o.key())) {
                sizes.put(o.key(), o.size());
            }
        }
        return sizes;
    }
}
