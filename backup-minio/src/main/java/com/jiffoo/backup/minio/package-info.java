/**
 * A {@link com.jiffoo.backup.Sink} in a MinIO or other S3-compatible bucket through the MinIO Java client:
 * {@link com.jiffoo.backup.minio.MinioSink}. Streaming multipart uploads with memory bounded by part size &times;
 * parts in flight, aborted on any failure; write-once commits; paginated listing; batched deletes.
 *
 * <pre>{@code
 * try (MinioSink sink = MinioSink.builder()
 *         .endpoint("https://minio.internal:9000").bucket("backups").prefix("prod")
 *         .credentials(accessKey, secretKey)
 *         .build()) {
 *     sink.checkBucket();
 *     BackupPipeline.builder().source(source).encryption(pgp).sink(sink).build().run();
 * }
 * }</pre>
 */
package com.jiffoo.backup.minio;
