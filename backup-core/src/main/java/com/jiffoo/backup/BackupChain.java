package com.jiffoo.backup;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Chains of backups: a full backup and the increments made on top of it, each naming its parent in the source fact
 * {@value #FACT} ({@code level}: 0 for the full one; an increment's {@code base}, the full one's id, and
 * {@code parent}: {@code id}, {@code objectKey}, {@code objectSha256}). Restoring an increment applies every link
 * from the full backup up to it, in order ({@link RestorePipeline} does it), and each link must be the very backup
 * its successor was made on: its SHA-256 is checked. Written by {@code DirectorySource} (backup-files).
 */
public final class BackupChain {
    /** The source fact of a backup of a chain. */
    public static final String FACT = "chain";

    private BackupChain() {}

    /** The chain level of a backup: 0 for a chain's full backup; empty when it is not part of a chain. */
    public static Optional<Long> level(BackupManifest m) {
        if (m.sourceFacts().get(FACT) instanceof Map<?, ?> c && c.get("level") instanceof Number n) {
            return Optional.of(n.longValue());
        }
        return Optional.empty();
    }

    /** True when {@code m} is an increment: restoring it needs the links before it. */
    public static boolean isIncrement(BackupManifest m) {
        return level(m).orElse(0L) > 0;
    }

    /** The id of the backup an increment was made on; empty for anything else. */
    public static Optional<String> parentId(BackupManifest m) {
        if (isIncrement(m)
                && ((Map<?, ?>) m.sourceFacts().get(FACT)).get("parent") instanceof Map<?, ?> p
                && p.get("id") instanceof String id) {
            return Optional.of(id);
        }
        return Optional.empty();
    }

    /**
     * The backups to apply, in order, to restore {@code backup}: its chain's full backup first, then each increment
     * up to {@code backup} itself; just {@code backup} when it is not an increment. Each link must be committed in
     * {@code committed} with the SHA-256 its successor recorded for it.
     *
     * @throws IntegrityException when a link is missing (deleted, or its manifest refused) or its stored SHA-256 is
     *                            not the one its successor recorded (it was replaced), naming it: the chain is
     *                            damaged from there on
     */
    public static List<BackupManifest> links(BackupManifest backup, List<BackupManifest> committed) {
        Map<String, BackupManifest> byId = new HashMap<>();
        for (BackupManifest m : committed) {
            byId.put(m.id(), m);
        }
        List<BackupManifest> out = new ArrayList<>();
        BackupManifest cur = backup;
        out.add(cur);
        while (isIncrement(cur)) {
            Map<?, ?> parent = (Map<?, ?>) ((Map<?, ?>) cur.sourceFacts().get(FACT)).get("parent");
            String id = String.valueOf(parent.get("id"));
            BackupManifest p = byId.get(id);
            if (p == null) {
                throw new IntegrityException(
                        "The chain of " + backup.id() + " is broken: its link " + id + " (parent of " + cur.id()
                                + ") is missing from the store or its manifest is refused, so " + backup.id()
                                + " cannot be restored. Restore a backup of an intact chain (an earlier one, or the"
                                + " full backup "
                                + ((Map<?, ?>) cur.sourceFacts().get(FACT)).get("base")
                                + " if it is there).",
                        String.valueOf(parent.get("objectKey")),
                        null,
                        null);
            }
            if (!p.objectSha256().equals(parent.get("objectSha256"))) {
                throw new IntegrityException(
                        "The chain of " + backup.id() + " is broken: its link " + id + " has SHA-256 "
                                + p.objectSha256() + " but " + cur.id() + " was made on top of one with "
                                + parent.get("objectSha256") + " (it was replaced). Restore a backup of an intact"
                                + " chain.",
                        p.objectKey(),
                        null,
                        null);
            }
            if (out.size() > 100_000) {
                throw new IntegrityException("The chain of " + backup.id() + " loops; its manifests were edited.");
            }
            out.add(p);
            cur = p;
        }
        Collections.reverse(out);
        return out;
    }
}
