package com.jiffoo.backup.monitor;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.VerificationRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code verifications}: the recorded verifications of the kind's backups. The standing verification of the newest
 * backup must not have failed (CRITICAL; of an older one, WARNING): a failed deep verification stands until a deep
 * one passes, a later quick pass checks less. No record may be dated in the future (CRITICAL; such a record never
 * counts). Some backup must have passed a verification within the limit ({@code null}: no limit), else WARNING.
 */
final class VerificationHistoryCheck extends HealthCheck {
    private final Duration within;

    VerificationHistoryCheck(Duration within) {
        super("verifications", When.NEWEST);
        this.within = within;
    }

    @Override
    void check(KindInspection k) {
        ClockSkew skew = k.skew();
        VerificationRecord lastAny = null;
        VerificationRecord lastPassed = null;
        List<String> futureRecords = new ArrayList<>();
        for (BackupManifest m : k.committed()) {
            List<VerificationRecord> records;
            try {
                records = new ArrayList<>(k.backups().verifications(m));
            } catch (BackupException e) {
                k.find(
                        HealthStatus.CRITICAL,
                        "cannot read the verification records of " + m.id() + ": " + e.getMessage());
                break;
            }
            for (VerificationRecord r : records) {
                if (skew.isFuture(r.verifiedAt())) {
                    futureRecords.add(skew.describe(
                            "a verification record of " + r.objectKey() + " (" + (r.passed() ? "passed" : "failed")
                                    + ")",
                            r.verifiedAt()));
                }
            }
            records.removeIf(r -> skew.isFuture(r.verifiedAt()));
            VerificationRecord standing = VerificationRecord.standing(records).orElse(null);
            for (VerificationRecord r : records) {
                if (lastAny == null || r.verifiedAt().isAfter(lastAny.verifiedAt())) {
                    lastAny = r;
                }
                if (r.passed()
                        && standing.passed()
                        && (lastPassed == null || r.verifiedAt().isAfter(lastPassed.verifiedAt()))) {
                    lastPassed = r;
                }
            }
            if (standing != null && !standing.passed()) {
                failed(k, m, standing, records.get(0));
            }
        }
        k.verifications(lastAny, lastPassed);
        if (!futureRecords.isEmpty()) {
            k.find(
                    HealthStatus.CRITICAL,
                    skew.finding(futureRecords.size() + " verification record(s)", futureRecords));
        }
        Duration since = lastPassed == null ? null : Duration.between(lastPassed.verifiedAt(), skew.now());
        if (within != null && (since == null || since.compareTo(within) > 0)) {
            k.find(
                    HealthStatus.WARNING,
                    (since == null
                                    ? "no " + k.kind() + " backup has ever passed a verification"
                                    : "the last passed verification of a " + k.kind() + " backup was "
                                            + HealthReport.human(since) + " ago")
                            + " (limit " + HealthReport.human(within) + "). Run a deep verification of the newest"
                            + " backup (verify --deep --latest) and a restore drill: a backup nobody has restored is not a"
                            + " backup.");
        }
    }

    /** The finding of a backup whose standing verification failed; {@code latest} is its latest record. */
    private static void failed(
            KindInspection k, BackupManifest m, VerificationRecord standing, VerificationRecord latest) {
        boolean isNewest = m == k.newest();
        boolean keyProblem = "DECRYPTION".equals(standing.errorCode());
        k.find(
                isNewest ? HealthStatus.CRITICAL : HealthStatus.WARNING,
                (isNewest ? "the newest backup " : "the backup ") + m.id() + " failed its last " + standing.mode()
                        + " verification ("
                        + standing.verifiedAt() + "): " + standing.message()
                        + (standing != latest
                                ? " A later " + latest.mode() + " verification passed (" + latest.verifiedAt()
                                        + "), but it checks less and does not clear this; only a passing deep verification (verify --deep)"
                                        + " does."
                                : "")
                        + (keyProblem
                                ? " The key the verifier had could not open it: check that the verification uses the"
                                        + " key the backups are made with; if it does, that key is lost for this backup."
                                : isNewest
                                        ? " Make a new backup now and find out what damaged this one."
                                        : " Do not restore it; retention will delete it in time, or delete it by hand."));
    }
}
