package com.jiffoo.backup.spring;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.postgres.PgConnection;
import java.sql.SQLException;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.util.Map;
import javax.sql.DataSource;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The scheduled jobs ({@link BackupJobs}) from {@code jiffoo.backup.schedule.*}, when the backup beans exist. The
 * advisory lock's connections come from the application's {@link DataSource} when there is exactly one (unless
 * {@code lock.data-source=false}), else from {@code jiffoo.backup.database.*}; a schedule without either (and with {@code lock.enabled} true) fails the start.
 */
@AutoConfiguration(after = JiffooBackupAutoConfiguration.class)
@ConditionalOnBean(JiffooBackup.class)
public class JiffooBackupSchedulingAutoConfiguration {

    /** Used by Spring. */
    public JiffooBackupSchedulingAutoConfiguration() {}

    /** The jobs; schedules nothing unless a cron expression is set. */
    @Bean
    @ConditionalOnMissingBean
    public BackupJobs backupJobs(
            JiffooBackupProperties p,
            JiffooBackup backups,
            BackupStores stores,
            ObjectProvider<DataSource> dataSources,
            ObjectProvider<BackupOperationListener> listeners) {
        JiffooBackupProperties.Schedule s = p.getSchedule();
        Map<String, String> jobs = s.jobs();
        ZoneId zone = null;
        if (s.getZone() != null && !s.getZone().isBlank()) {
            try {
                zone = ZoneId.of(s.getZone().trim());
            } catch (DateTimeException e) {
                throw new ConfigurationException("jiffoo.backup.schedule.zone is '" + s.getZone() + "', which is not"
                        + " a time zone: give one such as UTC or Europe/Berlin.");
            }
        }
        BackupJobs.LockConnections connections = null;
        if (s.getLock().isEnabled()) {
            DataSource ds = s.getLock().isDataSource() ? dataSources.getIfUnique() : null;
            PgConnection db = JiffooBackupAutoConfiguration.database(p.getDatabase());
            if (ds != null) {
                connections = ds::getConnection;
            } else if (db != null) {
                connections = db::openJdbc;
            } else if (!jobs.isEmpty()) {
                throw new ConfigurationException(
                        "jiffoo.backup.schedule." + jobs.keySet().iterator().next() + " is"
                                + " set, but there is no database for the lock that lets one replica at a time run a job:"
                                + " define the application's DataSource, or set jiffoo.backup.database.name (and host, port,"
                                + " user, password); for an application that runs as a single instance, set"
                                + " jiffoo.backup.schedule.lock.enabled=false.");
            } else {
                connections = () -> {
                    throw new SQLException("no database for the advisory lock: define a DataSource or set"
                            + " jiffoo.backup.database.name");
                };
            }
        }
        BackupJobs jobsBean = new BackupJobs(
                backups,
                jobs,
                zone,
                s.isVerifyDeep(),
                JiffooBackupAutoConfiguration.kinds(p),
                connections,
                stores.store().location(),
                s.getLock().getCheckInterval(),
                listeners.orderedStream().toList());
        java.time.Duration hold = s.getLock().getMinHold();
        if (hold == null || hold.isNegative()) {
            throw new ConfigurationException("jiffoo.backup.schedule.lock.min-hold must be zero or more, e.g. 30s.");
        }
        jobsBean.minHold(hold);
        return jobsBean;
    }
}
