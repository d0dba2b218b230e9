/**
 * Health of a store: {@link com.jiffoo.backup.monitor.BackupMonitor} checks freshness, recorded verifications and
 * the decryption key, returns a {@link com.jiffoo.backup.monitor.HealthReport} and sends alerts through
 * {@link com.jiffoo.backup.monitor.Notifier}s such as {@link com.jiffoo.backup.monitor.SlackNotifier}.
 */
package com.jiffoo.backup.monitor;
