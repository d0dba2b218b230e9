package com.jiffoo.backup.minio;

import com.google.common.collect.HashMultimap;
import com.google.common.collect.Multimap;
import com.jiffoo.backup.Sink.PartialWrite;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.store.multipart.ObjectStore;
import com.jiffoo.backup.store.multipart.PartBuffer;
import com.jiffoo.backup.store.multipart.StoreFailure;
import io.minio.GetObjectArgs;
import io.minio.ListObjectsArgs;
import io.minio.MinioAsyncClient;
import io.minio.PutObjectArgs;
import io.minio.RemoveObjectArgs;
import io.minio.RemoveObjectsArgs;
import io.minio.Result;
import io.minio.ServerSideEncryption;
import io.minio.StatObjectArgs;
import io.minio.StatObjectResponse;
import io.minio.errors.ErrorResponseException;
import io.minio.errors.ServerException;
import io.minio.messages.DeleteError;
import io.minio.messages.DeleteObject;
import io.minio.messages.Item;
import io.minio.messages.ListMultipartUploadsResult;
import io.minio.messages.Part;
import io.minio.messages.Upload;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** The S3 requests of a {@link MinioSink}, through the MinIO Java client. */
record MinioObjects(MinioAsyncClient client, String bucket, String region, ServerSideEncryption sse, String location)
        implements ObjectStore {
    static final int LIST_PAGE = 1000;

    /** A MinIO client call. */
    interface Call<T> {
        T call() throws Exception;
    }

    /** The MinIO client sends a part from one array without copying it (it would copy a stream). */
    @Override
    public boolean contiguousParts() {
        return true;
    }

    @Override
    public String startUpload(String name, Map<String, String> metadata) throws IOException {
        Multimap<String, String> h = HashMultimap.create();
        h.put("Content-Type", "application/octet-stream");
        if (sse != null) {
            sse.headers().forEach(h::put);
        }
        metadata.forEach((k, v) -> h.put("x-amz-meta-" + k, v));
        return minio(() -> client.createMultipartUploadAsync(bucket, region, name, h, null)
                .get()
                .result()
                .uploadId());
    }

    @Override
    public UploadedPart uploadPart(String name, String uploadId, int number, PartBuffer part) throws IOException {
        Object data = part.array() != null ? part.array() : part.newInputStream();
        return new UploadedPart(
                number,
                minio(() -> client.uploadPartAsync(
                                bucket, region, name, data, part.size(), uploadId, number, null, null)
                        .get()
                        .etag()),
                Map.of());
    }

    @Override
    public void completeUpload(String name, String uploadId, List<UploadedPart> parts, boolean ifNoneMatch)
            throws IOException {
        Part[] list = parts.stream().map(p -> new Part(p.number(), p.eTag())).toArray(Part[]::new);
        Multimap<String, String> h = HashMultimap.create();
        if (ifNoneMatch) {
            h.put("If-None-Match", "*");
        }
        minio(() -> client.completeMultipartUploadAsync(bucket, region, name, uploadId, list, h, null)
                .get());
    }

    @Override
    public void abortUpload(String name, String uploadId) throws IOException {
        minio(() -> client.abortMultipartUploadAsync(bucket, region, name, uploadId, null, null)
                .get());
    }

    @Override
    public void put(String name, PartBuffer data, Map<String, String> metadata, boolean ifNoneMatch)
            throws IOException {
        long n = data.size();
        minio(() -> {
            InputStream in =
                    data.array() != null ? new ByteArrayInputStream(data.array(), 0, (int) n) : data.newInputStream();
            PutObjectArgs.Builder args = PutObjectArgs.builder()
                    .bucket(bucket)
                    .region(region)
                    .object(name)
                    .contentType("application/octet-stream")
                    .userMetadata(metadata)
                    .stream(in, n, -1);
            if (sse != null) {
                args.sse(sse);
            }
            if (ifNoneMatch) {
                args.headers(Map.of("If-None-Match", "*"));
            }
            return client.putObject(args.build()).get();
        });
    }

    @Override
    public Optional<ObjectHead> head(String name) throws IOException {
        try {
            StatObjectResponse r = minio(() -> client.statObject(StatObjectArgs.builder()
                            .bucket(bucket)
                            .region(region)
                            .object(name)
                            .build())
                    .get());
            return Optional.of(new ObjectHead(r.size(), r.etag()));
        } catch (StoreFailure f) {
            if (f.is("NoSuchKey") || f.is("NoSuchObject") || (f.status() == 404 && !f.is("NoSuchBucket"))) {
                return Optional.empty();
            }
            throw f;
        }
    }

    /** The user metadata of an object ({@code x-amz-meta-*} names without the prefix, lower case). */
    Map<String, String> metadataOf(String name) throws IOException {
        return Map.copyOf(minio(() -> client.statObject(StatObjectArgs.builder()
                                .bucket(bucket)
                                .region(region)
                                .object(name)
                                .build())
                        .get())
                .userMetadata());
    }

    @Override
    public InputStream get(String name, long offset, long length) throws IOException {
        GetObjectArgs.Builder args =
                GetObjectArgs.builder().bucket(bucket).region(region).object(name);
        if (offset > 0 || length >= 0) {
            args.offset(offset);
        }
        if (length >= 0) {
            args.length(length);
        }
        InputStream in = minio(() -> client.getObject(args.build()).get());
        return new FilterInputStream(in) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return super.read(b, off, len);
                } catch (IOException e) {
                    throw new IOException(
                            "Reading " + name + " from " + location + " failed: " + e
                                    + ". Check the network and run the restore again.",
                            e);
                }
            }

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }
        };
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        return minio(() -> {
            List<StoredObject> out = new ArrayList<>();
            for (Result<Item> r : client.listObjects(ListObjectsArgs.builder()
                    .bucket(bucket)
                    .region(region)
                    .prefix(prefix)
                    .recursive(true)
                    .maxKeys(LIST_PAGE)
                    .build())) {
                Item item = r.get();
                if (!item.isDir()) {
                    out.add(new StoredObject(
                            item.objectName(), item.size(), item.lastModified().toInstant()));
                }
            }
            return out;
        });
    }

    @Override
    public List<PartialWrite> listUploads(String prefix) throws IOException {
        return minio(() -> {
            List<PartialWrite> out = new ArrayList<>();
            String keyMarker = null;
            String uploadIdMarker = null;
            ListMultipartUploadsResult page;
            do {
                page = client.listMultipartUploadsAsync(
                                bucket, region, null, null, keyMarker, LIST_PAGE, prefix, uploadIdMarker, null, null)
                        .get()
                        .result();
                for (Upload u : page.uploads()) {
                    out.add(new PartialWrite(
                            u.objectName(),
                            u.uploadId(),
                            u.initiated() != null ? u.initiated().toInstant() : Instant.EPOCH));
                }
                keyMarker = page.nextKeyMarker();
                uploadIdMarker = page.nextUploadIdMarker();
            } while (page.isTruncated());
            return out;
        });
    }

    @Override
    public void delete(String name) throws IOException {
        minio(() -> client.removeObject(RemoveObjectArgs.builder()
                        .bucket(bucket)
                        .region(region)
                        .object(name)
                        .build())
                .get());
    }

    @Override
    public List<String> deleteBatch(List<String> names) throws IOException {
        return minio(() -> {
            List<String> failed = new ArrayList<>();
            // lazy: the request is sent while the result iterator is consumed
            for (Result<DeleteError> r : client.removeObjects(RemoveObjectsArgs.builder()
                    .bucket(bucket)
                    .region(region)
                    .objects(names.stream().map(DeleteObject::new).toList())
                    .build())) {
                DeleteError e = r.get();
                failed.add(e.objectName() + " (" + e.code() + ": " + e.message() + ")");
            }
            return failed;
        });
    }

    /** Runs a MinIO client call, turning its failures into an {@link ObjectStore}'s. */
    static <T> T minio(Call<T> call) throws IOException {
        try {
            return call.call();
        } catch (Exception e) {
            throw failure(e);
        }
    }

    private static IOException failure(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof ExecutionException || t instanceof CompletionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof ErrorResponseException e) {
            var r = e.errorResponse();
            return new StoreFailure(
                    e.response() == null ? 0 : e.response().code(),
                    r == null ? null : r.code(),
                    r == null ? e.getMessage() : r.message(),
                    r == null ? null : r.requestId(),
                    e);
        }
        if (t instanceof ServerException e) {
            return new StoreFailure(e.statusCode(), null, "an error answer from the server", null, e);
        }
        if (t instanceof io.minio.errors.InvalidResponseException e) {
            return new StoreFailure(0, null, "an answer that is no S3 answer (a proxy's error page?)", null, e);
        }
        if (t instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            return new InterruptedIOException("interrupted");
        }
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return t instanceof IOException io ? io : new IOException(t.toString(), t);
    }
}
