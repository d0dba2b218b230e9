package com.jiffoo.backup.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.BackupPipeline;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.crypto.OpenPgpTransform;
import com.jiffoo.backup.crypto.PassphraseKeyFile;
import com.jiffoo.backup.store.LocalDirectorySink;
import com.jiffoo.backup.testutil.GpgCli;
import com.jiffoo.backup.testutil.TestKeys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Base backups of a throwaway cluster (the installed server, 15 here, as pg_basebackup 15 is the only one). */
class BaseBackupSourceTest {
    static ThrowawayCluster pg;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        pg = ThrowawayCluster.installed();
        try (Connection c = pg.connect();
                Statement s = c.createStatement()) {
            s.execute("CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 20000) g");
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    static BackupManifest backUp(PgConnection connection, LocalDirectorySink sink, Path keyFile) {
        return backUp(connection, sink, keyFile, false);
    }

    /** A base backup; {@code allowNoArchive} for this class's cluster, which runs with archive_mode off. */
    static BackupManifest backUp(
            PgConnection connection, LocalDirectorySink sink, Path keyFile, boolean allowNoArchive) {
        OpenPgpTransform pgp = OpenPgpTransform.builder()
                .passphrase(PassphraseKeyFile.read(keyFile))
                .build();
        return BackupPipeline.builder()
                .source(BaseBackupSource.builder(connection)
                        .allowNoArchive(allowNoArchive)
                        .build())
                .encryption(pgp)
                .sink(sink)
                .build()
                .run();
    }

    @Test
    void baseBackupOpensWithGpgZstdAndTarAndRecordsTheServersFacts() throws Exception {
        Path key = TestKeys.keyFile(tmp, "backup.key");
        LocalDirectorySink sink = LocalDirectorySink.create(tmp.resolve("store"));
        BackupManifest m = backUp(pg.connection(), sink, key, true);

        assertThat(m.kind()).isEqualTo("base");
        assertThat(m.sourceFacts()).containsEntry("archiveMode", "off");
        assertThat(m.objectKey()).startsWith("base/base_backup_").endsWith(".tar.zst.gpg");
        Map<String, Object> f = m.sourceFacts();
        try (Connection c = pg.connect();
                Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT (SELECT system_identifier FROM pg_control_system())::text,"
                        + " current_setting('server_version_num')::int,"
                        + " (SELECT timeline_id FROM pg_control_checkpoint()),"
                        + " pg_walfile_name('" + f.get("stopLsn") + "'),"
                        + " pg_current_wal_lsn() >= '" + f.get("stopLsn") + "'::pg_lsn,"
                        + " '" + f.get("stopLsn") + "'::pg_lsn > '" + f.get("startLsn") + "'::pg_lsn")) {
            r.next();
            assertThat(f.get("systemIdentifier")).isEqualTo(r.getString(1));
            assertThat(((Number) f.get("serverVersion")).intValue()).isEqualTo(r.getInt(2));
            assertThat(((Number) f.get("timeline")).intValue()).isEqualTo(r.getInt(3));
            assertThat(f.get("stopWalSegment")).isEqualTo(r.getString(4));
            assertThat(r.getBoolean(5)).isTrue();
            assertThat(r.getBoolean(6)).isTrue();
        }
        assertThat((String) f.get("startWalSegment")).matches("[0-9A-F]{24}");
        assertThat((String) f.get("backupLabel"))
                .contains("START WAL LOCATION: " + f.get("startLsn") + " (file " + f.get("startWalSegment") + ")")
                .contains("LABEL: jiffoo-backup base");
        assertThat(f.get("tablespaces")).isEqualTo(List.of());
        assertThat((String) f.get("stopTime")).endsWith("Z");

        try (GpgCli gpg = GpgCli.create(tmp)) {
            String listing = bash(
                    "\"$GPG\" --batch --pinentry-mode loopback --passphrase-file \"$KEY\" -d \"$OBJ\""
                            + " | zstd -d | tar -t",
                    Map.of(
                            "GNUPGHOME", gpg.home().toString(),
                            "GPG", GpgCli.GPG,
                            "KEY", key.toString(),
                            "OBJ", sink.root().resolve(m.objectKey()).toString()));
            assertThat(listing.lines().toList())
                    .contains("PG_VERSION", "backup_label", "backup_manifest", "global/pg_control");
            assertThat(listing).doesNotContain("pg_wal/0000");
        }
    }

    @Test
    void aServerWithArchiveModeOffIsRefusedUnlessAllowed() throws Exception {
        Path key = TestKeys.keyFile(tmp, "backup.key");
        LocalDirectorySink sink = LocalDirectorySink.create(tmp.resolve("store"));
        assertThatThrownBy(() -> backUp(pg.connection(), sink, key))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("archive_mode is off")
                .hasMessageContaining("--allow-no-archive");
        assertThat(sink.list("base/")).isEmpty();
    }

    @Test
    void userWithoutReplicationIsRefusedSayingWhatItNeeds() throws Exception {
        try (Connection c = pg.connect();
                Statement s = c.createStatement()) {
            s.execute("DROP ROLE IF EXISTS norepl");
            s.execute("CREATE ROLE norepl LOGIN");
        }
        PgConnection norepl = pg.connection().toBuilder().user("norepl").build();
        Path key = TestKeys.keyFile(tmp, "backup.key");
        LocalDirectorySink sink = LocalDirectorySink.create(tmp.resolve("store"));
        assertThatThrownBy(() -> backUp(norepl, sink, key))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("REPLICATION")
                .hasMessageContaining("pg_hba.conf");
        assertThat(sink.list("base/")).isEmpty();
    }

    @Test
    void aNewerServerThanPgBasebackupIsRefusedSayingWhichVersionToInstall() throws Exception {
        try (ThrowawayCluster pg16 = ThrowawayCluster.postgres16()) {
            PgConnection c = pg16.connection();
            int newest = PgToolLocator.system().locateNewest("pg_basebackup").major();
            org.junit.jupiter.api.Assumptions.assumeTrue(newest < 16, "a pg_basebackup >= 16 is installed");
            Path key = TestKeys.keyFile(tmp, "backup.key");
            LocalDirectorySink sink = LocalDirectorySink.create(tmp.resolve("store"));
            assertThatThrownBy(() -> backUp(c, sink, key, true))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("PostgreSQL 16 server")
                    .hasMessageContaining("major version (16) or newer");
            assertThat(sink.list("base/")).isEmpty();
        }
    }

    @Test
    void clusterWithATablespaceIsRefusedBeforeAnythingRuns() throws Exception {
        Path dir = pg.baseDirectory().resolve("ts");
        Files.createDirectories(dir);
        new ProcessBuilder("chown", "postgres:postgres", dir.toString()).start().waitFor(10, TimeUnit.SECONDS);
        try (Connection c = pg.connect();
                Statement s = c.createStatement()) {
            s.execute("CREATE TABLESPACE extra LOCATION '" + dir + "'");
        }
        try {
            Path key = TestKeys.keyFile(tmp, "backup.key");
            LocalDirectorySink sink = LocalDirectorySink.create(tmp.resolve("store"));
            assertThatThrownBy(() -> backUp(pg.connection(), sink, key))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("tablespaces")
                    .hasMessageContaining("extra");
        } finally {
            try (Connection c = pg.connect();
                    Statement s = c.createStatement()) {
                s.execute("DROP TABLESPACE extra");
            }
        }
    }

    static String bash(String script, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-o", "pipefail", "-c", script).redirectErrorStream(false);
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] err = new byte[0];
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        err = p.getErrorStream().readAllBytes();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue())
                .as("%s: %s", script, new String(err, StandardCharsets.UTF_8))
                .isZero();
        return out;
    }
}
