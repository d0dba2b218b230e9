package com.jiffoo.backup.monitor;

import java.time.Duration;
import java.util.Objects;

/**
 * One chain of incremental backups ({@link com.jiffoo.backup.BackupChain}: a full backup and the increments made on
 * top of it) as the monitor found it in a store.
 *
 * @param base            the id of the chain's full backup (level 0)
 * @param baseAge         how long ago the full backup completed; {@code null} when it is not in the store
 * @param increments      how many increments of the chain are in the store
 * @param newest          the id of the chain's newest link
 * @param newestAge       how long ago the newest link completed
 * @param whole           whether every link is in the store (manifest and data object of the size recorded), bound
 *                        to its successor (parent id and SHA-256), and not found damaged by a verification
 * @param damage          when not whole: which link is missing or damaged and how; {@code null} when whole
 * @param verified        what the recorded verifications say about the chain
 * @param verifiedDetail  the verification in words (which record, when; or why not checked)
 */
public record ChainHealth(
        String base,
        Duration baseAge,
        int increments,
        String newest,
        Duration newestAge,
        boolean whole,
        String damage,
        Verified verified,
        String verifiedDetail) {
    /** Checks the required fields. */
    public ChainHealth {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(newest, "newest");
        Objects.requireNonNull(verified, "verified");
    }

    /**
     * The chain's status: CRITICAL when a link is missing or damaged, WARNING when a link's verification records
     * cannot be read (whether it is damaged cannot be told), else OK.
     */
    public HealthStatus status() {
        if (!whole || verified == Verified.FAILED) {
            return HealthStatus.CRITICAL;
        }
        return verified == Verified.UNREADABLE ? HealthStatus.WARNING : HealthStatus.OK;
    }

    /** What the recorded verifications say about a chain. */
    public enum Verified {
        /**
         * The newest link's standing verification passed: verifying an increment checks every link before it (each
         * link's stored SHA-256 and the SHA-256 its successor recorded), so the whole chain was verified.
         */
        PASSED,
        /** The standing verification of a link failed: the chain is damaged from that link on. */
        FAILED,
        /** The newest link has no verification that passed (none recorded yet). */
        NOT_VERIFIED,
        /**
         * A link's verification records cannot all be read (garbled, unparseable, failing their signature, or not
         * listable): one may have been a failed verification, so whether the chain is intact cannot be told.
         */
        UNREADABLE,
        /** Not checked: the freshness-only check, or a copy (verifications concern the store). */
        NOT_CHECKED
    }
}
