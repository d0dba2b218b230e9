package com.jiffoo.backup.monitor;

import com.jiffoo.backup.StoredBackups;

/**
 * {@code trust}: every manifest can be read and trusted. A refused newest manifest is CRITICAL (the monitor cannot
 * say the newest backup is good when it cannot read or trust it, and does not fall back to the one before); refused
 * older ones are a WARNING (e.g. backups written before signing).
 */
final class TrustCheck extends HealthCheck {
    TrustCheck() {
        super("trust", When.ALWAYS);
    }

    @Override
    void check(KindInspection k) {
        StoredBackups.Scan scan = k.scan();
        for (StoredBackups.Refused r : scan.refusedNewest()) {
            k.find(
                    HealthStatus.CRITICAL,
                    "the newest " + scan.kind() + " manifest " + r.key() + " cannot be trusted: "
                            + r.reason().getMessage());
        }
        scan.refused().stream()
                .filter(r -> !scan.refusedNewest().contains(r))
                .findFirst()
                .ifPresent(first -> k.find(
                        HealthStatus.WARNING,
                        (scan.refused().size() - scan.refusedNewest().size()) + " older "
                                + scan.kind() + " manifest(s) cannot be read or trusted (first: " + first.key()
                                + "); they"
                                + " are not counted as backups. Run `list --check` to see each reason."));
    }
}
