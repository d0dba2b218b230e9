package com.jiffoo.backup.spring;

import com.jiffoo.backup.BackupTrust;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.crypto.EncryptionSetup;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.files.TarListCheck;
import com.jiffoo.backup.monitor.BackupMonitor;
import com.jiffoo.backup.monitor.SlackNotifier;
import com.jiffoo.backup.postgres.PgConnection;
import com.jiffoo.backup.postgres.PgRestoreListCheck;
import com.jiffoo.backup.retention.Retention;
import com.jiffoo.backup.store.StoreSettings;
import com.jiffoo.backup.wal.WalArchive;
import com.jiffoo.backup.wal.WalArchiveCheck;
import com.jiffoo.backup.wal.WalContinuity;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

/**
 * Creates the backup beans from the {@code jiffoo.backup.*} properties, and only when {@code jiffoo.backup.store} is
 * set: {@link BackupStores}, the {@link OpenPgpTransform}, the {@link BackupTrust}, the {@link BackupMonitor} (with
 * Slack when {@code jiffoo.backup.slack.webhook-url} is set), the cached {@link BackupStatus} and the
 * {@link JiffooBackup} facade. An application's own bean of any of these types replaces the one made here.
 * Misconfiguration fails the start with a {@link ConfigurationException} naming the property.
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "jiffoo.backup", name = "store")
@EnableConfigurationProperties(JiffooBackupProperties.class)
public class JiffooBackupAutoConfiguration {

    /** Used by Spring. */
    public JiffooBackupAutoConfiguration() {}

    /** The store and its copies, open until the context closes. */
    @Bean
    @ConditionalOnMissingBean
    public BackupStores backupStores(JiffooBackupProperties p) {
        return BackupStores.open(p.getStore(), p.getCopies(), StoreSettings.of(p.getStoreSettings()));
    }

    /** Encrypts new backups; decrypts restores and deep verifications; authenticates manifests. */
    @Bean
    @ConditionalOnMissingBean
    public OpenPgpTransform backupEncryption(JiffooBackupProperties p) {
        JiffooBackupProperties.Encryption e = p.getEncryption();
        if (e.getKeyFile() == null && e.getPublicKeyFile() == null && e.getSecretKeyFile() == null) {
            throw new ConfigurationException("jiffoo.backup.encryption.key-file is not set: set it to the key file"
                    + " (create one with `java -jar jiffoo-backup.jar keygen /etc/jiffoo/backup.key`), or set"
                    + " jiffoo.backup.encryption.public-key-file for public-key mode.");
        }
        EncryptionSetup.Builder b = EncryptionSetup.builder()
                .keyFile(e.getKeyFile())
                .publicKeyFile(e.getPublicKeyFile())
                .secretKeyFile(e.getSecretKeyFile())
                .secretKeyPassphraseFile(e.getSecretKeyPassphraseFile())
                .signingKeyFile(e.getSigningKeyFile())
                .signingKeyPassphraseFile(e.getSigningKeyPassphraseFile());
        e.getSignerPublicKeyFiles().forEach(b::signerPublicKeyFile);
        property(b, EncryptionSetup.Setting.KEY_FILE, "key-file");
        property(b, EncryptionSetup.Setting.PUBLIC_KEY_FILE, "public-key-file");
        property(b, EncryptionSetup.Setting.SECRET_KEY_FILE, "secret-key-file");
        property(b, EncryptionSetup.Setting.SECRET_KEY_PASSPHRASE_FILE, "secret-key-passphrase-file");
        property(b, EncryptionSetup.Setting.SIGNING_KEY_FILE, "signing-key-file");
        property(b, EncryptionSetup.Setting.SIGNING_KEY_PASSPHRASE_FILE, "signing-key-passphrase-file");
        property(b, EncryptionSetup.Setting.SIGNER_PUBLIC_KEY_FILES, "signer-public-key-files");
        EncryptionSetup keys = b.build();
        try {
            return keys.forBackupAndRestore();
        } catch (ConfigurationException ex) {
            if (ex.getMessage().startsWith("jiffoo.backup.")) {
                throw ex; // a file's error, named by its property already
            }
            throw new ConfigurationException("jiffoo.backup.encryption: " + ex.getMessage(), ex);
        } catch (IllegalArgumentException ex) {
            throw new ConfigurationException("jiffoo.backup.encryption: " + ex.getMessage(), ex);
        }
    }

    /** Names {@code setting} by its property in the setup's errors. */
    private static void property(EncryptionSetup.Builder b, EncryptionSetup.Setting setting, String property) {
        b.settingName(setting, "jiffoo.backup.encryption." + property);
    }

    /** What a stored backup must be to be read: authenticated by the configured keys, and encrypted. */
    @Bean
    @ConditionalOnMissingBean
    public BackupTrust backupTrust(OpenPgpTransform backupEncryption) {
        return BackupTrust.of(List.of(backupEncryption));
    }

    /** The monitor that {@link JiffooBackup#check()} and {@link JiffooBackup#verify} use: it alerts and records. */
    @Bean
    @ConditionalOnMissingBean
    public BackupMonitor backupMonitor(
            JiffooBackupProperties p, BackupStores stores, OpenPgpTransform backupEncryption, BackupTrust trust) {
        BackupMonitor.Builder b = monitor(p, stores, backupEncryption, trust);
        String webhook = p.getSlack().getWebhookUrl();
        if (webhook != null && !webhook.isBlank()) {
            b.notifier(named(
                    "slack.webhook-url",
                    () -> SlackNotifier.builder().webhookUrl(webhook).build()));
        }
        return b.build();
    }

    /**
     * The cached view of the store for health and gauges: a monitor of its own that neither alerts (a health request
     * must not page anyone) nor records its reports in the store.
     */
    @Bean
    @ConditionalOnMissingBean
    public BackupStatus backupStatus(
            JiffooBackupProperties p, BackupStores stores, OpenPgpTransform backupEncryption, BackupTrust trust) {
        BackupMonitor quiet =
                monitor(p, stores, backupEncryption, trust).recordReports(false).build();
        return new BackupStatus(
                quiet, p.getHealth().getCacheTtl(), () -> com.jiffoo.backup.DrillHistory.read(stores.all(), trust));
    }

    /** The facade an application injects. */
    @Bean
    @ConditionalOnMissingBean
    public JiffooBackup jiffooBackup(
            JiffooBackupProperties p,
            BackupStores stores,
            OpenPgpTransform backupEncryption,
            BackupTrust trust,
            BackupMonitor monitor,
            BackupStatus status,
            ObjectProvider<BackupOperationListener> listeners) {
        JiffooBackup facade = new JiffooBackup(
                stores,
                backupEncryption,
                trust,
                monitor,
                stores.copies().stream()
                        .map(copy -> copyMonitor(p, stores, copy, backupEncryption, trust))
                        .toList(),
                database(p.getDatabase()),
                p.getFiles().getSourceDirectory(),
                retention(p.getRetention()),
                status,
                listeners.orderedStream().toList());
        String webhook = p.getSlack().getWebhookUrl();
        facade.drills(new JiffooBackup.Drills(
                p.getDrill().getRtoTarget(),
                p.getDrill().getScratchDirectory(),
                webhook == null || webhook.isBlank()
                        ? null
                        : SlackNotifier.builder().webhookUrl(webhook).build()));
        return facade;
    }

    /** The kinds watched: as configured, else those a database and a source directory make. */
    static List<String> kinds(JiffooBackupProperties p) {
        if (!p.getMonitor().getKinds().isEmpty()) {
            return List.copyOf(p.getMonitor().getKinds());
        }
        List<String> kinds = new ArrayList<>();
        if (p.getDatabase().getName() != null) {
            kinds.add("database");
        }
        if (p.getFiles().getSourceDirectory() != null) {
            kinds.add("files");
        }
        if (kinds.isEmpty()) {
            throw new ConfigurationException("nothing to watch: set jiffoo.backup.database.name,"
                    + " jiffoo.backup.files.source-directory, or jiffoo.backup.monitor.kinds (e.g. database,files).");
        }
        return kinds;
    }

    private static BackupMonitor.Builder monitor(
            JiffooBackupProperties p, BackupStores stores, OpenPgpTransform pgp, BackupTrust trust) {
        JiffooBackupProperties.Monitor m = p.getMonitor();
        BackupMonitor.Builder b = BackupMonitor.builder()
                .sink(stores.store())
                .kinds(kinds(p).toArray(String[]::new))
                .maxAge(m.getMaxAge())
                .requireVerificationWithin(m.getVerificationWithin())
                .copyGrace(m.getCopyGrace())
                .transforms(List.of(pgp))
                .trust(trust);
        m.getMaxAges().forEach(b::maxAge);
        innerChecks(p, b);
        if (!Boolean.FALSE.equals(m.getWal())) {
            WalArchiveCheck wal = WalArchiveCheck.create(
                            trust, m.getWalMaxLag(), historyReader(p, pgp, trust, stores.store()))
                    .historyReaders(s -> historyReader(p, pgp, trust, s));
            if (m.getWalCopyMaxLag() != null) {
                wal = wal.copyMaxLag(m.getWalCopyMaxLag());
            }
            b.storeCheck(new WalCheck(wal, Boolean.TRUE.equals(m.getWal())));
        }
        stores.copies().forEach(b::copy);
        if (m.getDrillMaxAge() != null) {
            b.drills(m.getDrillMaxAge());
        }
        return b;
    }

    /**
     * A monitor that verifies in {@code copy} when the store cannot serve (the facade's fallback): the same keys,
     * inner checks and Slack notifier, the copy as its store.
     */
    private static BackupMonitor copyMonitor(
            JiffooBackupProperties p, BackupStores stores, Sink copy, OpenPgpTransform pgp, BackupTrust trust) {
        BackupMonitor.Builder b = BackupMonitor.builder()
                .sink(copy)
                .kinds(kinds(p).toArray(String[]::new))
                .transforms(List.of(pgp))
                .trust(trust);
        innerChecks(p, b);
        String webhook = p.getSlack().getWebhookUrl();
        if (webhook != null && !webhook.isBlank()) {
            b.notifier(SlackNotifier.builder().webhookUrl(webhook).build());
        }
        return b.build();
    }

    /** Reads the timeline history files of {@code store}'s WAL archive; null without a decryption key. */
    private static WalContinuity.HistoryReader historyReader(
            JiffooBackupProperties p, OpenPgpTransform pgp, BackupTrust trust, Sink store) {
        JiffooBackupProperties.Encryption e = p.getEncryption();
        if (e.getKeyFile() == null && e.getSecretKeyFile() == null) {
            return null;
        }
        return WalContinuity.HistoryReader.of(
                WalArchive.builder().sink(store).encryption(pgp).trust(trust).build());
    }

    private static void innerChecks(JiffooBackupProperties p, BackupMonitor.Builder b) {
        for (String kind : kinds(p)) {
            // a deep verification reads the inner format too (the CLI's VerifyCommand.innerCheck makes the same choice)
            switch (kind) {
                case "database" -> b.innerCheck(kind, PgRestoreListCheck.create());
                case "files", "base" -> b.innerCheck(kind, TarListCheck.create());
                default -> {}
            }
        }
    }

    static PgConnection database(JiffooBackupProperties.Database d) {
        if (d.getName() == null) {
            return null;
        }
        PgConnection.Builder b = PgConnection.fromEnvironment().toBuilder().database(d.getName());
        if (d.getHost() != null) {
            b.host(d.getHost());
        }
        if (d.getPort() != null) {
            b.port(d.getPort());
        }
        if (d.getUser() != null) {
            b.user(d.getUser());
        }
        if (d.getPassword() != null) {
            b.password(d.getPassword().toCharArray());
        }
        if (d.getSslMode() != null) {
            b.sslMode(d.getSslMode());
        }
        return named("database", b::build);
    }

    private static Retention retention(JiffooBackupProperties.Retention r) {
        if (!r.configured()) {
            return null;
        }
        Retention.Builder b = Retention.builder();
        if (r.getKeepWithin() != null) {
            b.keepWithin(r.getKeepWithin());
        }
        if (r.getKeepLast() != null) {
            b.keepLast(r.getKeepLast());
        }
        if (r.getKeepDaily() != null) {
            b.keepDaily(r.getKeepDaily());
        }
        if (r.getKeepWeekly() != null) {
            b.keepWeekly(r.getKeepWeekly());
        }
        if (r.getKeepMonthly() != null) {
            b.keepMonthly(r.getKeepMonthly());
        }
        if (r.getMinimum() != null) {
            b.minimum(r.getMinimum());
        }
        return named("retention", b::build);
    }

    /** Runs {@code step}; a configuration error gets the property's name in front. */
    private static <T> T named(String property, Supplier<T> step) {
        try {
            return step.get();
        } catch (ConfigurationException e) {
            throw new ConfigurationException("jiffoo.backup." + property + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("jiffoo.backup." + property + ": " + e.getMessage(), e);
        }
    }
}
