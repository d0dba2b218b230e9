package com.jiffoo.backup.minio;

import com.jiffoo.backup.internal.ETags;

import com.google.common.collect.HashMultimap;
import com.google.common.collect.Multimap;
import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import io.minio.MinioAsyncClient;
import io.minio.PutObjectArgs;
import io.minio.StatObjectArgs;
import io.minio.StatObjectResponse;
import io.minio.errors.ErrorResponseException;
import io.minio.messages.Part;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The stream of one new object in a {@link MinioSink}: buffers a part, sends a single PUT at commit when the object
 * fits in one part, else runs a multipart upload with parts uploaded in the background (at most
 * {@code partsInFlight} at a time) and completed at commit. Any failure and a close without commit abort the
 * upload. Not thread-safe (one writer); the upload threads only touch the part map, the failure and the semaphore.
 */
final class MinioOutput extends SinkOutput {
    private static final Logger log = LoggerFactory.getLogger(MinioOutput.class);
    private static final int FIRST_BUFFER = 64 * 1024;
    private static final String IF_NONE_MATCH = "If-None-Match";

    private final MinioSink sink;
    private final MinioAsyncClient client;
    private final String key;
    private final String name;
    private final Map<String, String> metadata;
    private final int partsInFlight;
    private final Semaphore permits;
    private final ConcurrentSkipListMap<Integer, Part> parts = new ConcurrentSkipListMap<>();
    private volatile Throwable uploadFailure;

    private byte[] buffer;
    private int length;
    /** Number of the part being filled (1-based). */
    private int partNumber = 1;
    private String uploadId;
    private long written;
    private boolean committed;
    private boolean closed;

    MinioOutput(MinioSink sink, String key, String name, Map<String, String> metadata) {
        this.sink = sink;
        this.client = sink.client();
        this.key = key;
        this.name = name;
        this.metadata = metadata;
        this.partsInFlight = sink.partsInFlight();
        this.permits = new Semaphore(partsInFlight);
        this.buffer = new byte[(int) Math.min(FIRST_BUFFER, sink.partSize())];
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        ensureWritable();
        try {
            while (len > 0) {
                int capacity = (int) PartSizes.sizeOf(sink.partSize(), partNumber);
                if (length == capacity) {
                    sendPart(); // the part is full and more bytes follow
                    continue;
                }
                if (length == buffer.length) {
                    buffer = Arrays.copyOf(buffer, (int) Math.min(capacity, 2L * buffer.length));
                }
                int n = Math.min(len, buffer.length - length);
                System.arraycopy(b, off, buffer, length, n);
                length += n;
                off += n;
                len -= n;
                written += n;
            }
        } catch (IOException | RuntimeException e) {
            abortAfter(e);
            throw e;
        }
    }

    @Override
    public void commit() throws IOException {
        if (committed) {
            return;
        }
        if (closed) {
            throw new IOException("object " + key + " was discarded and cannot be committed");
        }
        try {
            if (uploadId == null) {
                putSingle();
            } else {
                completeMultipart();
            }
            committed = true;
            closed = true;
            buffer = null;
            log.debug("committed {} ({} bytes, {} parts) to {}", key, written, Math.max(1, parts.size()),
                    sink.location());
        } catch (ObjectExistsException e) {
            abortAfter(null);
            throw e;
        } catch (IOException | RuntimeException e) {
            abortAfter(e);
            throw e;
        }
    }

    /** Discards the object unless it was committed: waits for the parts on their way, then aborts the upload. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        abort();
    }

    private void ensureWritable() throws IOException {
        if (closed || committed) {
            throw new IOException("object " + key + " is already " + (committed ? "committed" : "closed"));
        }
        Throwable f = uploadFailure;
        if (f != null) {
            abortAfter(f);
            throw sink.translate(f, "upload a part of", key);
        }
    }

    private void putSingle() throws IOException {
        try {
            if (sink.exists(key, name)) {
                throw new ObjectExistsException(key, sink.location());
            }
            int n = length;
            byte[] data = buffer;
            PutObjectArgs.Builder args = PutObjectArgs.builder().bucket(sink.bucket()).region(sink.region())
                    .object(name).contentType("application/octet-stream").userMetadata(metadata);
            sink.sse().ifPresent(args::sse);
            if (sink.conditionalWrites()) {
                args.headers(Map.of(IF_NONE_MATCH, "*"));
            }
            AtomicInteger attempts = new AtomicInteger();
            try {
                sink.retry().run("upload " + key, () -> {
                    attempts.incrementAndGet();
                    return client.putObject(args.stream(new ByteArrayInputStream(data, 0, n), n, -1).build()).get();
                });
            } catch (Exception e) {
                // a PUT whose answer was lost is retried and refused (412): accept the object if it is ours
                if (attempts.get() > 1 && MinioSink.preconditionFailed(e) && isOurs(data, n)) {
                    log.info("the upload of {} was retried after a lost answer; the first attempt had worked", key);
                    return;
                }
                throw e;
            }
        } catch (ObjectExistsException e) {
            throw e;
        } catch (Exception e) {
            if (MinioSink.preconditionFailed(e)) {
                throw new ObjectExistsException(key, sink.location());
            }
            throw sink.translate(e, "upload", key);
        }
    }

    /** True when the key holds these bytes: same size and an MD5 ETag equal to the MD5 of the content. */
    private boolean isOurs(byte[] data, int n) {
        try {
            StatObjectResponse r = sink.retry().run("check the upload of " + key, () -> client.statObject(
                    StatObjectArgs.builder().bucket(sink.bucket()).region(sink.region()).object(name).build()).get());
            String etag = r.etag() == null ? "" : r.etag().replace("\"", "");
            if (r.size() != n) {
                return false;
            }
            if (!etag.matches("[0-9a-fA-F]{32}")) {
                // an ETag that is not an MD5 (SSE-KMS) cannot prove the bytes are ours: refuse, so the backup fails
                // cleanly instead of committing a manifest over another writer's object
                return false;
            }
            java.security.MessageDigest md5 = ETags.md5();
            md5.update(data, 0, n);
            return ETags.same(java.util.HexFormat.of().formatHex(md5.digest()), etag);
        } catch (Exception e) {
            log.debug("cannot check whether {} was uploaded: {}", key, Retry.describe(Retry.unwrap(e)));
            return false;
        }
    }

    private void completeMultipart() throws IOException {
        sendPart(); // the last part: not empty, since a part is only sent when more bytes follow it
        awaitParts();
        Throwable f = uploadFailure;
        if (f != null) {
            throw sink.translate(f, "upload a part of", key);
        }
        try {
            if (sink.exists(key, name)) {
                throw new ObjectExistsException(key, sink.location());
            }
            Part[] list = parts.values().toArray(new Part[0]);
            Multimap<String, String> headers = HashMultimap.create();
            if (sink.conditionalWrites()) {
                headers.put(IF_NONE_MATCH, "*");
            }
            AtomicInteger attempts = new AtomicInteger();
            try {
                sink.retry().run("complete the upload of " + key, () -> {
                    attempts.incrementAndGet();
                    return client.completeMultipartUploadAsync(
                            sink.bucket(), sink.region(), name, uploadId, list, headers, null).get();
                });
            } catch (Exception e) {
                // a completion whose answer was lost is retried and then refused (NoSuchUpload, or 412 with
                // If-None-Match) although it worked: accept the object if its ETag is the one our parts make
                if (attempts.get() > 1 && (MinioSink.preconditionFailed(e) || noSuchUpload(e))
                        && completedEarlier(list)) {
                    log.info("the completion of {} was retried after a lost answer; the first attempt had worked", key);
                    return;
                }
                throw e;
            }
        } catch (ObjectExistsException e) {
            throw e;
        } catch (Exception e) {
            if (MinioSink.preconditionFailed(e)) {
                throw new ObjectExistsException(key, sink.location());
            }
            throw sink.translate(e, "complete the upload of", key);
        }
    }

    private static boolean noSuchUpload(Exception failure) {
        Exception e = Retry.unwrap(failure);
        return e instanceof ErrorResponseException er && er.errorResponse() != null
                && "NoSuchUpload".equals(er.errorResponse().code());
    }

    /**
     * True when the key holds the object a lost completion answer hid: its size is what was written and its ETag is
     * the multipart ETag our parts make (the MD5 of the parts' MD5s, {@code -N}). Another writer's object differs.
     */
    private boolean completedEarlier(Part[] completed) {
        try {
            String expected = ETags.multipart(java.util.Arrays.stream(completed).map(Part::etag).toList());
            StatObjectResponse r = sink.retry().run("check the completed upload of " + key, () -> client.statObject(
                    StatObjectArgs.builder().bucket(sink.bucket()).region(sink.region()).object(name).build()).get());
            String etag = r.etag() == null ? "" : r.etag().replace("\"", "");
            return r.size() == written && ETags.same(expected, etag);
        } catch (Exception e) {
            log.debug("cannot check whether {} was completed: {}", key, Retry.describe(Retry.unwrap(e)));
            return false;
        }
    }

    /** Hands the filled buffer to an upload thread, starting the multipart upload first if needed. */
    private void sendPart() throws IOException {
        if (uploadId == null) {
            try {
                uploadId = sink.retry().run("start the upload of " + key, () -> client.createMultipartUploadAsync(
                        sink.bucket(), sink.region(), name, sink.writeHeaders(metadata), null).get()
                        .result().uploadId());
            } catch (Exception e) {
                throw sink.translate(e, "start the upload of", key);
            }
            log.debug("started multipart upload of {} in {}", key, sink.location());
        }
        try {
            permits.acquire(); // bounds memory: at most partsInFlight parts are on their way
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to upload a part of " + key);
        }
        Throwable f = uploadFailure;
        if (f != null) {
            permits.release();
            throw sink.translate(f, "upload a part of", key);
        }
        final byte[] data = length == buffer.length ? buffer : Arrays.copyOf(buffer, length);
        final int number = partNumber;
        final String id = uploadId;
        try {
            sink.uploads().execute(() -> {
                try {
                    String etag = sink.retry().run("upload part " + number + " of " + key, () ->
                            client.uploadPartAsync(sink.bucket(), sink.region(), name, data, data.length, id,
                                    number, null, null).get().etag());
                    parts.put(number, new Part(number, etag));
                } catch (Throwable t) {
                    if (uploadFailure == null) {
                        uploadFailure = t;
                    }
                } finally {
                    permits.release();
                }
            });
        } catch (RuntimeException e) {
            permits.release();
            throw e;
        }
        partNumber++;
        length = 0;
        buffer = new byte[(int) PartSizes.sizeOf(sink.partSize(), partNumber)];
    }

    private void awaitParts() throws IOException {
        try {
            permits.acquire(partsInFlight);
            permits.release(partsInFlight);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for the parts of " + key);
        }
    }

    /** Aborts after a failure, adding an abort failure to it as suppressed. */
    private void abortAfter(Throwable failure) {
        try {
            abort();
        } catch (IOException | RuntimeException e) {
            if (failure != null && failure != e) {
                failure.addSuppressed(e);
            } else {
                log.warn("{}", e.getMessage());
            }
        }
    }

    private void abort() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        buffer = null;
        if (uploadId == null) {
            return;
        }
        boolean interrupted = Thread.interrupted();
        try {
            // parts still on their way would land after the abort and stay: wait for them first
            permits.acquireUninterruptibly(partsInFlight);
            permits.release(partsInFlight);
            sink.retry().run("abort the upload of " + key, () -> client.abortMultipartUploadAsync(
                    sink.bucket(), sink.region(), name, uploadId, null, null).get());
            log.debug("aborted multipart upload of {} in {}", key, sink.location());
        } catch (Exception e) {
            throw new StorageException("Could not abort the unfinished upload of " + key + " in " + sink.location()
                    + " (upload id " + uploadId + "): " + Retry.describe(Retry.unwrap(e))
                    + ". Its parts stay until it is aborted; a bucket lifecycle rule that aborts incomplete uploads "
                    + "after a day cleans them.", key, sink.location(), Retry.unwrap(e));
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
