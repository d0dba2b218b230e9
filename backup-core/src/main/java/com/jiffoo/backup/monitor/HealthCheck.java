package com.jiffoo.backup.monitor;

import java.util.Objects;

/**
 * One health check of one kind of backup. {@link BackupMonitor} runs its checks in order on a
 * {@link KindInspection} (the kind's manifests, already read): a check adds what it finds wrong with
 * {@link KindInspection#find}, under its {@link #name}. A check that throws an unchecked exception becomes a
 * CRITICAL finding named after it, and the next checks still run. A new check is one more subclass in the monitor's
 * list; it must be thread-safe (one instance serves every run) and must never report nothing when it could not look.
 */
abstract class HealthCheck {
    /** When a check runs. */
    enum When {
        /** In the freshness-only check too, with or without a backup: it lists the store and reads manifests. */
        ALWAYS,
        /** In a full check, when there is a newest backup dated in the past to look at. */
        NEWEST
    }

    /** The name its findings carry in the report, e.g. {@code freshness}. */
    final String name;

    final When when;

    HealthCheck(String name, When when) {
        this.name = Objects.requireNonNull(name, "name");
        this.when = Objects.requireNonNull(when, "when");
    }

    /** Whether it runs in this inspection. */
    final boolean applies(KindInspection k, boolean full) {
        return when == When.ALWAYS || full && k.newest() != null;
    }

    /** Looks, and adds its findings to {@code k}. */
    abstract void check(KindInspection k);
}
