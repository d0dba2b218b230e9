package com.jiffoo.backup.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The overlap rule of a bucket and a store: the same server and bucket, one prefix holding the other, by segment. */
class BucketLocationTest {
    private static final String MINIO = "http://minio:9000";
    private static final BucketLocation STORE = BucketLocation.of(MINIO, "shop", "backups");

    @Test
    void aBucketThatIsHoldsOrLiesInsideTheStoreOverlapsIt() {
        for (String prefix : List.of("", "backups", "backups/", "/backups", "backups/database", "backups//x/y")) {
            BucketLocation b = BucketLocation.of(MINIO, "shop", prefix);
            assertThat(b.overlaps(STORE)).as(prefix).isTrue();
            assertThat(STORE.overlaps(b)).as("symmetric: " + prefix).isTrue();
        }
        assertThat(BucketLocation.of(MINIO, "shop", "").holds(STORE)).isTrue();
        assertThat(BucketLocation.of(MINIO, "shop", "backups/database").holds(STORE))
                .isFalse();
        assertThat(STORE.holds(BucketLocation.of(MINIO, "shop", "backups/database")))
                .isTrue();
    }

    @Test
    void aPrefixBesideTheStoreDoesNotOverlapItEvenWhenItsNameStartsTheSame() {
        for (String prefix : List.of("media", "backups2", "backupsx/y", "back", "backup", "a/backups")) {
            assertThat(BucketLocation.of(MINIO, "shop", prefix).overlaps(STORE))
                    .as(prefix)
                    .isFalse();
        }
        BucketLocation ab = BucketLocation.of(MINIO, "b", "a/b");
        assertThat(ab.overlaps(BucketLocation.of(MINIO, "b", "a/bc"))).isFalse();
        assertThat(ab.overlaps(BucketLocation.of(MINIO, "b", "a/b/c"))).isTrue();
        assertThat(ab.overlaps(BucketLocation.of(MINIO, "b", "a"))).isTrue();
    }

    @Test
    void anotherBucketOrAnotherServerNeverOverlaps() {
        assertThat(BucketLocation.of(MINIO, "other", "backups").overlaps(STORE)).isFalse();
        assertThat(BucketLocation.of("http://minio:9001", "shop", "backups").overlaps(STORE))
                .isFalse();
        assertThat(BucketLocation.of("http://minio2:9000", "shop", "").overlaps(STORE))
                .isFalse();
        assertThat(BucketLocation.of(null, "shop", "").overlaps(STORE))
                .as("AWS S3")
                .isFalse();
    }

    @Test
    void oneServerIsRecognisedWhateverItsEndpointSpelling() {
        assertThat(BucketLocation.of("http://MinIO:9000/", "shop", "").server()).isEqualTo("minio:9000");
        assertThat(BucketLocation.of("https://minio:9000", "shop", "").server())
                .as("the scheme is left out")
                .isEqualTo("minio:9000");
        assertThat(BucketLocation.of("http://minio", "shop", "").server()).isEqualTo("minio:80");
        assertThat(BucketLocation.of("https://minio", "shop", "").server()).isEqualTo("minio:443");
        for (String loopback : List.of("http://127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000")) {
            assertThat(BucketLocation.of(loopback, "shop", "").server())
                    .as(loopback)
                    .isEqualTo("localhost:9000");
        }
        // bucket names are global in AWS: every regional endpoint is one server
        for (String aws : List.of(
                "https://s3.eu-west-1.amazonaws.com",
                "https://s3.us-east-1.amazonaws.com",
                "https://s3.amazonaws.com")) {
            assertThat(BucketLocation.of(aws, "shop", "").overlaps(BucketLocation.of(null, "shop", "backups")))
                    .as(aws)
                    .isTrue();
        }
        assertThat(BucketLocation.of("https://s3.cn-north-1.amazonaws.com.cn", "shop", "")
                        .overlaps(BucketLocation.of(null, "shop", "")))
                .isFalse();
        assertThat(BucketLocation.of(MINIO, "Shop", "backups").overlaps(STORE))
                .as("bucket names compare without case")
                .isTrue();
        assertThat(BucketLocation.of(MINIO, "shop", "Backups").overlaps(STORE))
                .as("prefixes keep their case")
                .isFalse();
    }

    @Test
    void itPrintsAsAnS3UriOnItsServer() {
        assertThat(STORE.uri()).isEqualTo("s3://shop/backups");
        assertThat(BucketLocation.of(MINIO, "shop", "/").uri()).isEqualTo("s3://shop");
        assertThat(STORE).hasToString("s3://shop/backups on minio:9000");
        assertThatThrownBy(() -> BucketLocation.of(MINIO, "", "x")).isInstanceOf(IllegalArgumentException.class);
    }
}
