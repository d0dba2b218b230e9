package com.jiffoo.backup.spring;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The jiffoo.backup.* properties. Nothing is created unless jiffoo.backup.store is set; the other
 * groups switch on what they name (a database, a source directory, retention, Slack). Secrets (the database password,
 * the Slack webhook) are never logged; key material stays in the files named here.
 */
@ConfigurationProperties(prefix = "jiffoo.backup")
public class JiffooBackupProperties {

    /**
     * The store: a store URI (s3://bucket/prefix, minio://host:9000/bucket/prefix, file:/path)
     * or a local directory path. An s3: or minio: store needs backup-s3 or backup-minio on the class
     * path.
     */
    private String store;

    /** Further stores that receive a copy of every backup (store URIs or paths), checked by the monitor too. */
    private List<String> copies = new ArrayList<>();

    /**
     * Settings the stores read, by the command line's names (AWS_REGION, S3_ENDPOINT,
     * AWS_PROFILE, ...): see docs/s3.md. Unset ones fall back to the SDKs' defaults.
     */
    private Map<String, String> storeSettings = new LinkedHashMap<>();

    private final Encryption encryption = new Encryption();
    private final Database database = new Database();
    private final Files files = new Files();
    private final Retention retention = new Retention();
    private final Monitor monitor = new Monitor();
    private final Slack slack = new Slack();
    private final Health health = new Health();
    private final Schedule schedule = new Schedule();
    private final Drill drill = new Drill();

    /** The store URI or path. */
    public String getStore() {
        return store;
    }

    /** Sets the store URI or path. */
    public void setStore(String store) {
        this.store = store;
    }

    /** The copies' store URIs or paths. */
    public List<String> getCopies() {
        return copies;
    }

    /** Sets the copies' store URIs or paths. */
    public void setCopies(List<String> copies) {
        this.copies = copies;
    }

    /** The settings the stores read. */
    public Map<String, String> getStoreSettings() {
        return storeSettings;
    }

    /** Sets the settings the stores read. */
    public void setStoreSettings(Map<String, String> storeSettings) {
        this.storeSettings = storeSettings;
    }

    /** The keys. */
    public Encryption getEncryption() {
        return encryption;
    }

    /** The database to back up. */
    public Database getDatabase() {
        return database;
    }

    /** The directory to back up. */
    public Files getFiles() {
        return files;
    }

    /** Which backups to keep. */
    public Retention getRetention() {
        return retention;
    }

    /** The monitor's limits. */
    public Monitor getMonitor() {
        return monitor;
    }

    /** Where alerts go. */
    public Slack getSlack() {
        return slack;
    }

    /** The Actuator health indicator. */
    public Health getHealth() {
        return health;
    }

    /** The restore drills. */
    public Drill getDrill() {
        return drill;
    }

    /** The scheduled jobs. */
    public Schedule getSchedule() {
        return schedule;
    }

    /**
     * The OpenPGP keys: passphrase mode (key-file) or public-key mode (public-key-file with a
     * signing-key-file on the backup host; secret-key-file and signer-public-key-files where
     * backups are restored or verified). See docs/security.md.
     */
    public static class Encryption {
        /** The passphrase key file (as jiffoo-backup keygen writes it): encrypts, decrypts, authenticates. */
        private Path keyFile;

        /** The recipient's public key file: backups are encrypted to it. */
        private Path publicKeyFile;

        /** The secret key file that decrypts backups made to a public key. */
        private Path secretKeyFile;

        /** A file whose first line unlocks secret-key-file, when that key has a passphrase. */
        private Path secretKeyPassphraseFile;

        /** The secret key that signs backups in public-key mode. */
        private Path signingKeyFile;

        /** A file whose first line unlocks signing-key-file, when that key has a passphrase. */
        private Path signingKeyPassphraseFile;

        /** Public keys of the hosts whose signed backups are trusted (public-key mode). */
        private List<Path> signerPublicKeyFiles = new ArrayList<>();

        /** The passphrase key file. */
        public Path getKeyFile() {
            return keyFile;
        }

        /** Sets the passphrase key file. */
        public void setKeyFile(Path keyFile) {
            this.keyFile = keyFile;
        }

        /** The recipient's public key file. */
        public Path getPublicKeyFile() {
            return publicKeyFile;
        }

        /** Sets the recipient's public key file. */
        public void setPublicKeyFile(Path publicKeyFile) {
            this.publicKeyFile = publicKeyFile;
        }

        /** The decrypting secret key file. */
        public Path getSecretKeyFile() {
            return secretKeyFile;
        }

        /** Sets the decrypting secret key file. */
        public void setSecretKeyFile(Path secretKeyFile) {
            this.secretKeyFile = secretKeyFile;
        }

        /** The file that unlocks the secret key. */
        public Path getSecretKeyPassphraseFile() {
            return secretKeyPassphraseFile;
        }

        /** Sets the file that unlocks the secret key. */
        public void setSecretKeyPassphraseFile(Path secretKeyPassphraseFile) {
            this.secretKeyPassphraseFile = secretKeyPassphraseFile;
        }

        /** The signing key file. */
        public Path getSigningKeyFile() {
            return signingKeyFile;
        }

        /** Sets the signing key file. */
        public void setSigningKeyFile(Path signingKeyFile) {
            this.signingKeyFile = signingKeyFile;
        }

        /** The file that unlocks the signing key. */
        public Path getSigningKeyPassphraseFile() {
            return signingKeyPassphraseFile;
        }

        /** Sets the file that unlocks the signing key. */
        public void setSigningKeyPassphraseFile(Path signingKeyPassphraseFile) {
            this.signingKeyPassphraseFile = signingKeyPassphraseFile;
        }

        /** The trusted signers' public key files. */
        public List<Path> getSignerPublicKeyFiles() {
            return signerPublicKeyFiles;
        }

        /** Sets the trusted signers' public key files. */
        public void setSignerPublicKeyFiles(List<Path> signerPublicKeyFiles) {
            this.signerPublicKeyFiles = signerPublicKeyFiles;
        }
    }

    /**
     * The PostgreSQL database that backUpDatabase() dumps with pg_dump; set name to enable it. Unset
     * fields fall back to libpq's variables (PGHOST, ...) and defaults. The password reaches pg_dump through
     * its environment only.
     */
    public static class Database {
        /** The database name; database backups are enabled when set. */
        private String name;

        /** The server's host. */
        private String host;

        /** The server's port. */
        private Integer port;

        /** The role pg_dump connects as. */
        private String user;

        /** The role's password. */
        private String password;

        /** libpq's sslmode (require, verify-full, ...). */
        private String sslMode;

        /** The database name. */
        public String getName() {
            return name;
        }

        /** Sets the database name. */
        public void setName(String name) {
            this.name = name;
        }

        /** The host. */
        public String getHost() {
            return host;
        }

        /** Sets the host. */
        public void setHost(String host) {
            this.host = host;
        }

        /** The port. */
        public Integer getPort() {
            return port;
        }

        /** Sets the port. */
        public void setPort(Integer port) {
            this.port = port;
        }

        /** The role. */
        public String getUser() {
            return user;
        }

        /** Sets the role. */
        public void setUser(String user) {
            this.user = user;
        }

        /** The password. */
        public String getPassword() {
            return password;
        }

        /** Sets the password. */
        public void setPassword(String password) {
            this.password = password;
        }

        /** The sslmode. */
        public String getSslMode() {
            return sslMode;
        }

        /** Sets the sslmode. */
        public void setSslMode(String sslMode) {
            this.sslMode = sslMode;
        }
    }

    /** The directory that backUpFiles() archives; set source-directory to enable it. */
    public static class Files {
        /** The directory to back up (tar, gzip, encrypted). */
        private Path sourceDirectory;

        /** The directory to back up. */
        public Path getSourceDirectory() {
            return sourceDirectory;
        }

        /** Sets the directory to back up. */
        public void setSourceDirectory(Path sourceDirectory) {
            this.sourceDirectory = sourceDirectory;
        }
    }

    /**
     * Which backups prune(kind) keeps (docs/retention.md); pruning is enabled when any rule is set. A backup
     * kept by any rule is kept.
     */
    public static class Retention {
        /** Keep every backup younger than this. */
        private Duration keepWithin;

        /** Keep the newest N. */
        private Integer keepLast;

        /** Keep the newest of each of the last N days. */
        private Integer keepDaily;

        /** Keep the newest of each of the last N weeks. */
        private Integer keepWeekly;

        /** Keep the newest of each of the last N months. */
        private Integer keepMonthly;

        /** Never keep fewer than N backups of a kind, whatever the rules say. */
        private Integer minimum;

        /** Whether any rule is set. */
        boolean configured() {
            return keepWithin != null
                    || keepLast != null
                    || keepDaily != null
                    || keepWeekly != null
                    || keepMonthly != null;
        }

        /** The age rule. */
        public Duration getKeepWithin() {
            return keepWithin;
        }

        /** Sets the age rule. */
        public void setKeepWithin(Duration keepWithin) {
            this.keepWithin = keepWithin;
        }

        /** The count rule. */
        public Integer getKeepLast() {
            return keepLast;
        }

        /** Sets the count rule. */
        public void setKeepLast(Integer keepLast) {
            this.keepLast = keepLast;
        }

        /** The daily rule. */
        public Integer getKeepDaily() {
            return keepDaily;
        }

        /** Sets the daily rule. */
        public void setKeepDaily(Integer keepDaily) {
            this.keepDaily = keepDaily;
        }

        /** The weekly rule. */
        public Integer getKeepWeekly() {
            return keepWeekly;
        }

        /** Sets the weekly rule. */
        public void setKeepWeekly(Integer keepWeekly) {
            this.keepWeekly = keepWeekly;
        }

        /** The monthly rule. */
        public Integer getKeepMonthly() {
            return keepMonthly;
        }

        /** Sets the monthly rule. */
        public void setKeepMonthly(Integer keepMonthly) {
            this.keepMonthly = keepMonthly;
        }

        /** The floor. */
        public Integer getMinimum() {
            return minimum;
        }

        /** Sets the floor. */
        public void setMinimum(Integer minimum) {
            this.minimum = minimum;
        }
    }

    /** The monitor's limits (docs/monitoring.md). */
    public static class Monitor {
        /**
         * The kinds watched; default: database when a database is configured and files when a source
         * directory is.
         */
        private List<String> kinds = new ArrayList<>();

        /** How old the newest backup of a kind may be. */
        private Duration maxAge = Duration.ofHours(26);

        /** Per-kind exceptions to max-age, e.g. files: 8d. */
        private Map<String, Duration> maxAges = new LinkedHashMap<>();

        /** Some backup must have passed a verification within this period (else WARNING). */
        private Duration verificationWithin = Duration.ofDays(7);

        /** When set, a passed restore drill of each kind is required within this period (docs/drills.md). */
        private Duration drillMaxAge;

        /** How long a copy may lag behind the store before a backup missing from it is a WARNING. */
        private Duration copyGrace = Duration.ofHours(1);

        /**
         * Whether the WAL archive (point-in-time recovery) is checked: true always (no WAL at all is then CRITICAL),
         * false never; unset: whenever the store holds WAL (wal/).
         */
        private Boolean wal;

        /** How old the newest archived WAL file may be (CRITICAL beyond). */
        private Duration walMaxLag = Duration.ofMinutes(5);

        /** How old a copy's newest WAL file may be; default: wal-max-lag. */
        private Duration walCopyMaxLag;

        /** The kinds watched. */
        public List<String> getKinds() {
            return kinds;
        }

        /** Sets the kinds watched. */
        public void setKinds(List<String> kinds) {
            this.kinds = kinds;
        }

        /** The maximum age. */
        public Duration getMaxAge() {
            return maxAge;
        }

        /** Sets the maximum age. */
        public void setMaxAge(Duration maxAge) {
            this.maxAge = maxAge;
        }

        /** The per-kind maximum ages. */
        public Map<String, Duration> getMaxAges() {
            return maxAges;
        }

        /** Sets the per-kind maximum ages. */
        public void setMaxAges(Map<String, Duration> maxAges) {
            this.maxAges = maxAges;
        }

        /** The verification period. */
        public Duration getVerificationWithin() {
            return verificationWithin;
        }

        /** Sets the verification period. */
        public void setVerificationWithin(Duration verificationWithin) {
            this.verificationWithin = verificationWithin;
        }

        /** The drill period, or null. */
        public Duration getDrillMaxAge() {
            return drillMaxAge;
        }

        /** Sets the drill period. */
        public void setDrillMaxAge(Duration drillMaxAge) {
            this.drillMaxAge = drillMaxAge;
        }

        /** The copies' grace period. */
        public Duration getCopyGrace() {
            return copyGrace;
        }

        /** Sets the copies' grace period. */
        public void setCopyGrace(Duration copyGrace) {
            this.copyGrace = copyGrace;
        }

        /** Whether the WAL archive is checked; null: when the store holds WAL. */
        public Boolean getWal() {
            return wal;
        }

        /** Sets whether the WAL archive is checked. */
        public void setWal(Boolean wal) {
            this.wal = wal;
        }

        /** The WAL lag limit. */
        public Duration getWalMaxLag() {
            return walMaxLag;
        }

        /** Sets the WAL lag limit. */
        public void setWalMaxLag(Duration walMaxLag) {
            this.walMaxLag = walMaxLag;
        }

        /** The copies' WAL lag limit, or null for wal-max-lag. */
        public Duration getWalCopyMaxLag() {
            return walCopyMaxLag;
        }

        /** Sets the copies' WAL lag limit. */
        public void setWalCopyMaxLag(Duration walCopyMaxLag) {
            this.walCopyMaxLag = walCopyMaxLag;
        }
    }

    /** Alerts from check(), verify() and failed verifications. */
    public static class Slack {
        /** The Slack incoming-webhook URL (a secret: keep it out of version control). */
        private String webhookUrl;

        /** The webhook URL. */
        public String getWebhookUrl() {
            return webhookUrl;
        }

        /** Sets the webhook URL. */
        public void setWebhookUrl(String webhookUrl) {
            this.webhookUrl = webhookUrl;
        }
    }

    /** The backup health indicator and the last-success gauges. */
    public static class Health {
        /**
         * How long the monitor's report is reused: health requests and Prometheus scrapes within it read the cached
         * report; the facade's operations refresh it.
         */
        private Duration cacheTtl = Duration.ofMinutes(5);

        /** The cache time. */
        public Duration getCacheTtl() {
            return cacheTtl;
        }

        /** Sets the cache time. */
        public void setCacheTtl(Duration cacheTtl) {
            this.cacheTtl = cacheTtl;
        }
    }

    /**
     * Jobs run on cron expressions (Spring's six fields: second minute hour day-of-month month day-of-week, e.g.
     * 0 0 2 * * * for 02:00 every day); nothing is scheduled unless one is set. With several replicas a job runs in
     * one of them at a time: each run first takes a PostgreSQL advisory lock on the application's database; the
     * replicas that do not get it skip the run (docs/spring-boot.md).
     */
    public static class Schedule {
        /** When to back up the database (backUpDatabase()). */
        private String database;

        /** When to back up the files (backUpFiles()). */
        private String files;

        /** When to verify the newest backup of each kind watched (verify-deep says how). */
        private String verify;

        /** When to run the monitor's health checks (check(): Slack on WARNING and CRITICAL). */
        private String monitor;

        /** When to prune each kind watched by the retention rules. */
        private String prune;

        /** When to run a restore drill of each kind watched that can be drilled (database, files). */
        private String drill;

        /** The time zone of the cron expressions; default: the system's. */
        private String zone;

        /** Whether the scheduled verification is deep (decrypted, inner format read) rather than quick. */
        private boolean verifyDeep = true;

        private final Lock lock = new Lock();

        /** The database backup's cron expression. */
        public String getDatabase() {
            return database;
        }

        /** Sets the database backup's cron expression. */
        public void setDatabase(String database) {
            this.database = database;
        }

        /** The files backup's cron expression. */
        public String getFiles() {
            return files;
        }

        /** Sets the files backup's cron expression. */
        public void setFiles(String files) {
            this.files = files;
        }

        /** The verification's cron expression. */
        public String getVerify() {
            return verify;
        }

        /** Sets the verification's cron expression. */
        public void setVerify(String verify) {
            this.verify = verify;
        }

        /** The monitor's cron expression. */
        public String getMonitor() {
            return monitor;
        }

        /** Sets the monitor's cron expression. */
        public void setMonitor(String monitor) {
            this.monitor = monitor;
        }

        /** The pruning's cron expression. */
        public String getPrune() {
            return prune;
        }

        /** Sets the pruning's cron expression. */
        public void setPrune(String prune) {
            this.prune = prune;
        }

        /** The drill's cron expression. */
        public String getDrill() {
            return drill;
        }

        /** Sets the drill's cron expression. */
        public void setDrill(String drill) {
            this.drill = drill;
        }

        /** The cron expressions' time zone. */
        public String getZone() {
            return zone;
        }

        /** Sets the cron expressions' time zone. */
        public void setZone(String zone) {
            this.zone = zone;
        }

        /** Whether the scheduled verification is deep. */
        public boolean isVerifyDeep() {
            return verifyDeep;
        }

        /** Sets whether the scheduled verification is deep. */
        public void setVerifyDeep(boolean verifyDeep) {
            this.verifyDeep = verifyDeep;
        }

        /** The replicas' lock. */
        public Lock getLock() {
            return lock;
        }

        /** The cron expressions by job name, only those set, in a fixed order. */
        java.util.Map<String, String> jobs() {
            java.util.Map<String, String> jobs = new java.util.LinkedHashMap<>();
            put(jobs, "database", database);
            put(jobs, "files", files);
            put(jobs, "verify", verify);
            put(jobs, "prune", prune);
            put(jobs, "drill", drill);
            put(jobs, "monitor", monitor);
            return jobs;
        }

        private static void put(java.util.Map<String, String> jobs, String name, String cron) {
            if (cron != null && !cron.isBlank() && !"-".equals(cron.trim())) {
                jobs.put(name, cron.trim());
            }
        }
    }

    /**
     * The PostgreSQL advisory lock that lets one replica at a time run a job. It is taken on a connection to the
     * application's database: the application's DataSource bean when there is exactly one, else the database of
     * jiffoo.backup.database.*.
     */
    public static class Lock {
        /**
         * Whether scheduled jobs take the lock; false runs them without it (only for an application that runs as a
         * single instance).
         */
        private boolean enabled = true;

        /**
         * Whether the lock is taken through the application's DataSource (when there is exactly one; it must be
         * PostgreSQL's); false: always through the database of jiffoo.backup.database.*.
         */
        private boolean dataSource = true;

        /**
         * How often a running job checks that the connection holding its lock is alive; when it is not, the job
         * no longer counts as holding the lock (the server released it) and says so.
         */
        private Duration checkInterval = Duration.ofSeconds(30);

        /**
         * How long a scheduled run holds its lock at least, from its start: a run that ends sooner keeps the lock for
         * the rest, so that a replica whose clock is behind by up to this much skips the same cron time instead of
         * running the job again. Keep it above the replicas' clock difference and below the job's period.
         */
        private Duration minHold = Duration.ofSeconds(30);

        /** The least time a scheduled run holds its lock. */
        public Duration getMinHold() {
            return minHold;
        }

        /** Sets the least time a scheduled run holds its lock. */
        public void setMinHold(Duration minHold) {
            this.minHold = minHold;
        }

        /** Whether jobs take the lock. */
        public boolean isEnabled() {
            return enabled;
        }

        /** Sets whether jobs take the lock. */
        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }

        /** Whether the lock uses the application's DataSource. */
        public boolean isDataSource() {
            return dataSource;
        }

        /** Sets whether the lock uses the application's DataSource. */
        public void setDataSource(boolean dataSource) {
            this.dataSource = dataSource;
        }

        /** How often the lock's connection is checked. */
        public Duration getCheckInterval() {
            return checkInterval;
        }

        /** Sets how often the lock's connection is checked. */
        public void setCheckInterval(Duration checkInterval) {
            this.checkInterval = checkInterval;
        }
    }

    /** How drill(kind) restores drills (docs/drills.md). */
    public static class Drill {
        /** The recovery time objective a drill is judged against (a drill taking longer fails); default 2h. */
        private Duration rtoTarget;

        /**
         * Where a files drill creates its scratch directory (room for the restored files); default: the system's
         * temporary directory.
         */
        private Path scratchDirectory;

        /** The RTO target, or null. */
        public Duration getRtoTarget() {
            return rtoTarget;
        }

        /** Sets the RTO target. */
        public void setRtoTarget(Duration rtoTarget) {
            this.rtoTarget = rtoTarget;
        }

        /** The files drill's scratch parent, or null. */
        public Path getScratchDirectory() {
            return scratchDirectory;
        }

        /** Sets the files drill's scratch parent. */
        public void setScratchDirectory(Path scratchDirectory) {
            this.scratchDirectory = scratchDirectory;
        }
    }
}
