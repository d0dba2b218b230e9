package com.jiffoo.backup.testing;

import com.jiffoo.backup.DrillSource;
import com.jiffoo.backup.RestoreTarget;

/** Drill sources for tests: the real restore, then something done to what it restored (as someone hostile would). */
public final class DrillSources {
    private DrillSources() {}

    /** What is done after the restore, e.g. a shell command run in the restored directory or database. */
    @FunctionalInterface
    public interface AfterRestore {
        /** Acts on what {@code target} restored. */
        void run(RestoreTarget target) throws Exception;
    }

    /** {@code real}, whose {@code restore} then runs {@code after} on the target it restored into. */
    public static DrillSource afterRestore(DrillSource real, AfterRestore after) {
        return new DrillSource() {
            @Override
            public String locate() {
                return real.locate();
            }

            @Override
            public Restored restore(String key, RestoreTarget target) {
                Restored r = real.restore(key, target);
                try {
                    after.run(target);
                } catch (Exception e) {
                    throw new AssertionError("the step after the restore failed", e);
                }
                return r;
            }

            @Override
            public String describe() {
                return real.describe();
            }
        };
    }
}
