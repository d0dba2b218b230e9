package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.VerificationRecord;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The health of one kind of backup ({@code database}, {@code files}) in a store.
 *
 * @param kind                   the kind
 * @param findings               what the checks found wrong, in the order they ran (none: {@link HealthStatus#OK})
 * @param count                  how many committed backups there are
 * @param totalBytes             their stored size together
 * @param newest                 the newest committed backup that can be restored (an increment only when every link
 *                               of its chain up to it is whole), {@code null} when there is none
 * @param newestAge              how long ago the newest completed, {@code null} when there is none
 * @param lastVerification       the most recent recorded verification of any backup of this kind, or {@code null}
 * @param lastPassedVerification the most recent one that passed, of a backup whose standing verification passed
 *                               ({@link VerificationRecord#standing}: a quick pass after a failed deep verification
 *                               does not count), or {@code null}
 * @param keyCheck               whether the configured decryption key opens the newest backup
 * @param keyCheckDetail         what the key check found, in words
 * @param chains                 the chains of incremental backups ({@link ChainHealth}), newest first; empty when the
 *                               kind has none
 */
public record KindHealth(
        String kind,
        List<Finding> findings,
        int count,
        long totalBytes,
        BackupManifest newest,
        Duration newestAge,
        VerificationRecord lastVerification,
        VerificationRecord lastPassedVerification,
        KeyCheck keyCheck,
        String keyCheckDetail,
        List<ChainHealth> chains) {
    /** Copies the lists. */
    public KindHealth {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(keyCheck, "keyCheck");
        findings = List.copyOf(findings);
        chains = chains == null ? List.of() : List.copyOf(chains);
    }

    /** The health of a kind without chains of incremental backups. */
    public KindHealth(
            String kind,
            List<Finding> findings,
            int count,
            long totalBytes,
            BackupManifest newest,
            Duration newestAge,
            VerificationRecord lastVerification,
            VerificationRecord lastPassedVerification,
            KeyCheck keyCheck,
            String keyCheckDetail) {
        this(
                kind,
                findings,
                count,
                totalBytes,
                newest,
                newestAge,
                lastVerification,
                lastPassedVerification,
                keyCheck,
                keyCheckDetail,
                List.of());
    }

    /** The worst finding's status; {@link HealthStatus#OK} when there is none. */
    public HealthStatus status() {
        return findings.stream().map(Finding::status).reduce(HealthStatus.OK, HealthStatus::worst);
    }

    /** Each finding's message: what is wrong and what to do. */
    public List<String> problems() {
        return findings.stream().map(Finding::message).toList();
    }

    /** The outcome of proving that the configured key still opens the newest backup. */
    public enum KeyCheck {
        /** The key decrypted the first blocks of the newest backup. */
        PASSED,
        /** The key did not open it: the archive may be lost if this key is the only one. */
        FAILED,
        /** The newest backup is encrypted, but no decryption key is configured here (e.g. a public-key-only host). */
        NO_KEY,
        /** The newest backup is not encrypted. */
        NOT_ENCRYPTED,
        /** Not checked: a freshness-only check, or there is no backup. */
        NOT_CHECKED
    }
}
