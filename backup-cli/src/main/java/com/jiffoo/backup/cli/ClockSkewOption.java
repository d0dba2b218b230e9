package com.jiffoo.backup.cli;

import com.jiffoo.backup.ClockSkew;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * {@code --clock-skew-tolerance MINUTES} (setting {@code CLOCK_SKEW_TOLERANCE_MINUTES}), for the commands that judge
 * dates from the store ({@code monitor}, {@code prune}): how far in the future a backup's or a verification's date
 * may lie before it is a finding.
 */
final class ClockSkewOption {
    /** The setting's name. */
    static final String SETTING = "CLOCK_SKEW_TOLERANCE_MINUTES";

    @Option(
            names = "--clock-skew-tolerance",
            paramLabel = "MINUTES",
            description = "How far in the future a"
                    + " backup's or a verification's date may lie before it is a finding (default: " + SETTING
                    + ", else 5).")
    Integer minutes;

    /** Adds the flag to the settings. */
    void flag(Settings s) {
        if (minutes != null) {
            s.flag(SETTING, minutes.toString());
        }
    }

    /** The tolerance the settings give. */
    static Duration tolerance(Settings s) {
        return Duration.ofMinutes(s.integer(SETTING, (int) ClockSkew.DEFAULT_TOLERANCE.toMinutes(), 0));
    }
}
