package com.jiffoo.backup.s3;

import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3rverServer;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link BucketFilesContract} against s3rver, the second S3 implementation (skipped when it is not installed). */
class BucketFilesS3rverTest extends BucketFilesContract {
    @RegisterExtension
    static final S3rverServer.PerClass S3RVER = S3rverServer.perClass();

    @Override
    S3Endpoint server() {
        return S3RVER.server();
    }

    /** s3rver keeps each object as files with a metadata file beside it: 1,000 objects show the same protocol. */
    @Override
    int manyObjects() {
        return 1_000;
    }
}
