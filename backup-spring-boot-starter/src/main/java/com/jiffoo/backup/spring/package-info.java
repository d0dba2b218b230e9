/**
 * Spring Boot auto-configuration for jiffoo-backup: from the {@code jiffoo.backup.*} properties
 * ({@link com.jiffoo.backup.spring.JiffooBackupProperties}) it creates the stores, the encryption, the monitor and the
 * {@link com.jiffoo.backup.spring.JiffooBackup} facade; with the Actuator, the {@code backup} health component
 * ({@link com.jiffoo.backup.spring.BackupHealthIndicator}); with Micrometer, the backups' meters
 * ({@link com.jiffoo.backup.spring.BackupMetrics}). See docs/spring-boot.md.
 */
package com.jiffoo.backup.spring;
