package com.jiffoo.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jiffoo.backup.ConfigurationException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Precedence (flag, environment, file), secrets kept off flags and out of printed text. */
class SettingsTest {
    @TempDir
    Path dir;

    @Test
    void flagBeatsEnvironmentBeatsFile() throws Exception {
        Path file = dir.resolve("c.properties");
        Files.writeString(file, "DB_NAME=from_file\nDB_HOST=file-host\nDB_USER=file_user\n");
        Settings s = Settings.load(Map.of("DB_NAME", "from_env", "DB_HOST", "env-host"), file)
                .flag("DB_NAME", "flag");
        assertThat(s.get("DB_NAME")).contains("flag");
        assertThat(s.get("DB_HOST")).contains("env-host");
        assertThat(s.get("DB_USER")).contains("file_user");
        assertThat(s.get("DB_PORT")).isEmpty();
    }

    /** The runbook names the monitor's bucket S3_BACKUP_BUCKET: read as S3_BUCKET, from the environment or the file. */
    @Test
    void s3BackupBucketIsReadAsS3BucketFromTheEnvironmentAndTheConfigFile() throws Exception {
        assertThat(Settings.load(Map.of("S3_BACKUP_BUCKET", "s3://jiffoo-backups/prod"), null)
                        .get("S3_BUCKET"))
                .contains("s3://jiffoo-backups/prod");
        Path file = dir.resolve("monitor.properties");
        Files.writeString(file, "S3_BACKUP_BUCKET=s3://from-file/prod\n");
        assertThat(Settings.load(Map.of(), file).get("S3_BUCKET")).contains("s3://from-file/prod");
        // S3_BUCKET wins in the same place; the environment still wins over the file
        assertThat(Settings.load(Map.of("S3_BUCKET", "s3://a/x", "S3_BACKUP_BUCKET", "s3://b/y"), null)
                        .get("S3_BUCKET"))
                .contains("s3://a/x");
        assertThat(Settings.load(Map.of("S3_BACKUP_BUCKET", "s3://env/y"), file).get("S3_BUCKET"))
                .contains("s3://env/y");
    }

    @Test
    void blankCountsAsUnset() {
        Settings s = Settings.load(Map.of("BACKUP_DIR", "  "), null);
        assertThat(s.get("BACKUP_DIR")).isEmpty();
        assertThatThrownBy(() -> s.require("BACKUP_DIR", "set BACKUP_DIR=/var/backups/jiffoo"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("BACKUP_DIR is not set");
    }

    @Test
    void secretsAreNeverFlagsAndAreRedacted() {
        Settings s = Settings.load(Map.of("DB_PASSWORD", "hunter2-long", "AWS_SECRET_ACCESS_KEY", "abc/def+ghi"), null);
        assertThatThrownBy(() -> s.flag("DB_PASSWORD", "x")).isInstanceOf(IllegalArgumentException.class);
        assertThat(s.redact("auth failed for hunter2-long at abc/def+ghi")).isEqualTo("auth failed for *** at ***");
        // credentials typed into a URI (--store s3://KEY:SECRET@bucket) are not echoed either
        assertThat(s.redact("The store URI 's3://AKIAX:Typed-secret@bucket/p' names no valid bucket"))
                .isEqualTo("The store URI 's3://***@bucket/p' names no valid bucket");
        assertThat(s.redact("directory /tmp/minio:/u:Typed-secret@host:9000/b does not exist"))
                .isEqualTo("directory /tmp/minio:/***@host:9000/b does not exist");
        assertThat(s.redact("see https://example.com/a@b and mail ops@example.com"))
                .isEqualTo("see https://example.com/a@b and mail ops@example.com");
    }

    /** The AWS SDK's request settings for S3_ENDPOINT may come from the config file; yes/no values are checked. */
    @Test
    void theS3RequestSettingsAreKnownAndYesNoValuesAreChecked() throws Exception {
        Path file = dir.resolve("c.properties");
        Files.writeString(
                file,
                "S3_CHUNKED_ENCODING=false\nS3_PATH_STYLE=yes\n"
                        + "AWS_REQUEST_CHECKSUM_CALCULATION=when_required\nAWS_RESPONSE_CHECKSUM_VALIDATION=when_required\n");
        Settings s = Settings.load(Map.of(), file);
        assertThat(s.bool("S3_CHUNKED_ENCODING")).contains(false);
        assertThat(s.bool("S3_PATH_STYLE")).contains(true);
        assertThat(s.bool("ALLOW_UNENCRYPTED")).isEmpty();
        assertThat(s.get("AWS_REQUEST_CHECKSUM_CALCULATION")).contains("when_required");
        Settings bad = Settings.load(Map.of("S3_CHUNKED_ENCODING", "maybe"), null);
        assertThatThrownBy(() -> bad.bool("S3_CHUNKED_ENCODING"))
                .hasMessageContaining("S3_CHUNKED_ENCODING is 'maybe'")
                .hasMessageContaining("the environment")
                .hasMessageContaining("true or false");
    }

    /** Every setting a command reads by name may come from the config file (the monitor's WAL limits were refused). */
    @Test
    void theMonitorsWalLimitsAreSettingsOfTheConfigFile() throws Exception {
        Path file = dir.resolve("wal.properties");
        Files.writeString(file, "WAL_MAX_LAG=10m\nWAL_MAX_READY=20\nWAL_COPY_MAX_LAG=30m\n");
        Settings s = Settings.load(Map.of(), file);
        assertThat(s.get(WalChecks.MAX_LAG)).contains("10m");
        assertThat(s.get("WAL_MAX_READY")).contains("20");
        assertThat(s.get(WalChecks.COPY_MAX_LAG)).contains("30m");
    }

    @Test
    void badNumberIsNamedWithItsOrigin() {
        Settings s = Settings.load(Map.of("RETENTION_DAYS", "-3"), null);
        assertThatThrownBy(() -> s.integer("RETENTION_DAYS", 30, 0))
                .hasMessageContaining("RETENTION_DAYS is '-3'")
                .hasMessageContaining("the environment");
    }

    @Test
    void privateConfigFileWithSecretsIsAccepted() throws Exception {
        Path file = dir.resolve("c.properties");
        Files.writeString(file, "DB_PASSWORD=pw-from-file\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertThat(Settings.load(Map.of(), file).get("DB_PASSWORD")).contains("pw-from-file");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw----r--"));
        assertThatThrownBy(() -> Settings.load(Map.of(), file)).hasMessageContaining("chmod 600");
    }
}
