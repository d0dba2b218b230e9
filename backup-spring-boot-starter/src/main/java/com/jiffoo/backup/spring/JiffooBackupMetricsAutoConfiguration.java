package com.jiffoo.backup.spring;

import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The backups' Micrometer meters ({@link BackupMetrics}), when Micrometer is on the class path and the backup beans
 * exist. Spring Boot binds them to its registries (Prometheus with micrometer-registry-prometheus).
 */
@AutoConfiguration(after = JiffooBackupAutoConfiguration.class)
@ConditionalOnClass(MeterBinder.class)
@ConditionalOnBean(BackupStatus.class)
public class JiffooBackupMetricsAutoConfiguration {

    /** Used by Spring. */
    public JiffooBackupMetricsAutoConfiguration() {}

    /** The meters; also a {@link BackupOperationListener} of the facade. */
    @Bean
    @ConditionalOnMissingBean
    public BackupMetrics backupMetrics(BackupStatus status, BackupStores stores, JiffooBackupProperties p) {
        return new BackupMetrics(
                status,
                JiffooBackupAutoConfiguration.kinds(p),
                stores,
                !Boolean.FALSE.equals(p.getMonitor().getWal()));
    }
}
