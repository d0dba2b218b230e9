package com.jiffoo.backup;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Decides which committed backups of one kind may be deleted. A policy sees only committed backups (those with a
 * manifest), ordered by the completion time recorded in their manifests, and says of each whether it is kept and
 * why. Policies are pure: they never touch a store. Time comes from the {@link Clock} given.
 */
public interface RetentionPolicy {

    /** Keeps everything. */
    RetentionPolicy KEEP_ALL = (backups, clock) -> {
        List<Verdict> verdicts = new ArrayList<>();
        for (BackupManifest backup : backups) {
            verdicts.add(new Verdict(backup, true, "keep-all"));
        }
        return verdicts;
    };

    /**
     * Judges each backup.
     *
     * @param backups the committed backups of one kind, newest first
     * @param clock   the time to judge against
     * @return one verdict per backup, in the same order
     */
    List<Verdict> evaluate(List<BackupManifest> backups, Clock clock);

    /**
     * What a policy decided for one backup.
     *
     * @param backup the backup judged
     * @param keep   true to keep it
     * @param reason the rule that kept or dropped it, for dry runs and logs
     */
    record Verdict(BackupManifest backup, boolean keep, String reason) {}
}
