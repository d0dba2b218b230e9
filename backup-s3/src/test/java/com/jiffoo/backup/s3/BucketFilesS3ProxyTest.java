package com.jiffoo.backup.s3;

import com.jiffoo.backup.testing.s3.S3Endpoint;
import com.jiffoo.backup.testing.s3.S3ProxyServer;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link BucketFilesContract} against S3Proxy, in-process. */
class BucketFilesS3ProxyTest extends BucketFilesContract {
    @RegisterExtension
    static final S3ProxyServer.PerClass S3PROXY = S3ProxyServer.perClass();

    @Override
    S3Endpoint server() {
        return S3PROXY.server();
    }
}
