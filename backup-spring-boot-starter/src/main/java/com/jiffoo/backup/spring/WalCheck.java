package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.ClockSkew;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.monitor.StoreCheck;
import com.jiffoo.backup.store.StoreLayout;
import com.jiffoo.backup.wal.WalArchiveCheck;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The monitor's WAL archive check ({@code wal}, {@link WalArchiveCheck}) as the starter registers it: with
 * {@code jiffoo.backup.monitor.wal} unset, it looks only when the store holds WAL (a store that cannot be listed is
 * checked, and so reported); with {@code true}, always. The command line's {@code monitor} decides the same way, once
 * per run; here it is asked at every refresh, so a store that starts archiving WAL is checked from then on.
 */
final class WalCheck implements StoreCheck {
    private final WalArchiveCheck check;
    private final boolean always;

    WalCheck(WalArchiveCheck check, boolean always) {
        this.check = check;
        this.always = always;
    }

    @Override
    public String name() {
        return check.name();
    }

    @Override
    public boolean checksCopies() {
        return true;
    }

    @Override
    public Outcome check(Sink store, ClockSkew skew) {
        if (!always && !holdsWal(store)) {
            return notUsed(store);
        }
        return check.check(store, skew);
    }

    @Override
    public Outcome checkCopy(Sink copy, Sink store, ClockSkew skew) {
        if (!always && !holdsWal(store) && !holdsWal(copy)) {
            return notUsed(copy);
        }
        return check.checkCopy(copy, store, skew);
    }

    private static Outcome notUsed(Sink store) {
        return new Outcome(
                "no WAL archived in " + store.location() + " (point-in-time recovery not in use)",
                List.of(),
                Map.of("archived", false));
    }

    /** Whether {@code store} holds WAL; true when it cannot be listed (the check then reports that). */
    private static boolean holdsWal(Sink store) {
        try {
            return !store.list(StoreLayout.WAL_PREFIX).isEmpty();
        } catch (IOException | BackupException e) {
            return true;
        }
    }
}
