package com.jiffoo.backup.spring;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * The {@code backup} health component ({@link BackupHealthIndicator}), when Spring Boot's health support
 * (spring-boot-health, which the Actuator brings) is on the class path and the backup beans exist; off with
 * {@code management.health.backup.enabled=false}.
 */
@AutoConfiguration(after = JiffooBackupAutoConfiguration.class)
@ConditionalOnClass(HealthIndicator.class)
@ConditionalOnBean(BackupStatus.class)
@ConditionalOnEnabledHealthIndicator("backup")
public class JiffooBackupHealthAutoConfiguration {

    /** Used by Spring. */
    public JiffooBackupHealthAutoConfiguration() {}

    /** The health component {@code backup} (the bean name without its {@code HealthIndicator} suffix). */
    @Bean
    @ConditionalOnMissingBean(name = "backupHealthIndicator")
    public BackupHealthIndicator backupHealthIndicator(BackupStatus status) {
        return new BackupHealthIndicator(status);
    }
}
