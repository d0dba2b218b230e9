package com.jiffoo.backup.s3;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.StorageException;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.services.s3.model.S3Exception;

import static org.assertj.core.api.Assertions.assertThat;

class S3ErrorsTest {
    /** S3 answers a request signed 15 minutes off its clock with 403 RequestTimeTooSkewed: fix this host's clock. */
    @Test
    void requestTimeTooSkewedTellsToFixThisHostsClockNotTheServersOrTheCredentials() {
        S3Exception skewed = (S3Exception) S3Exception.builder().statusCode(403)
                .awsErrorDetails(AwsErrorDetails.builder().errorCode("RequestTimeTooSkewed")
                        .errorMessage("The difference between the request time and the current time is too large.")
                        .build()).build();
        BackupException e = S3Errors.map(skewed, "upload of", "database/x.sql.gpg", "s3://backups/prod", "backups",
                "http://127.0.0.1:9000");
        assertThat(e).isInstanceOf(StorageException.class);
        assertThat(e.code().exitCode()).isEqualTo(4);
        assertThat(e.getMessage()).contains("this host's clock", "timedatectl", "set-ntp",
                "The server's clock is not the one to change", "database/x.sql.gpg")
                .doesNotContain("Access denied").doesNotContain("policy");
    }
}
