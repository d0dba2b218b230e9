package com.jiffoo.backup.store.multipart;

import com.jiffoo.backup.ObjectExistsException;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StorageException;
import com.jiffoo.backup.internal.ETags;
import com.jiffoo.backup.store.multipart.ObjectStore.ObjectHead;
import com.jiffoo.backup.store.multipart.ObjectStore.UploadedPart;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The multipart engine: one object being written to an {@link ObjectStoreSink} (see there for the rules). Not
 * thread-safe (one writer); parts upload on the sink's threads, which touch only their part and the memory budget.
 */
final class MultipartOutput extends SinkOutput {
    private static final Logger log = LoggerFactory.getLogger(MultipartOutput.class);

    private final ObjectStoreSink sink;
    private final ObjectStore store;
    private final String key;
    private final String name;
    private final Map<String, String> metadata;
    final MemoryBudget budget;
    private final List<Future<UploadedPart>> parts = new ArrayList<>();
    private PartBuffer current;
    private long currentCharge;
    /** The number of the part being filled (0 before the first). */
    private int partNumber;

    private String uploadId;
    private long written;
    private volatile boolean discarding;

    MultipartOutput(ObjectStoreSink sink, String key, String name, Map<String, String> metadata) {
        super(key);
        this.sink = sink;
        this.store = sink.store;
        this.key = key;
        this.name = name;
        this.metadata = metadata;
        this.budget = new MemoryBudget(sink.partSize * sink.partsInFlight);
    }

    @Override
    protected void writeBytes(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            if (current != null && current.remaining() == 0) {
                submitCurrent(); // only now, with more bytes coming, is the full part known not to be the whole object
            }
            if (current == null) {
                newPart();
            }
            int n = current.write(b, off, len);
            off += n;
            len -= n;
            written += n;
        }
    }

    private void newPart() throws IOException {
        if (partNumber == PartSizes.MAX_PARTS) {
            throw new StorageException(
                    "The object " + key + " is larger than S3's 10,000 parts can hold ("
                            + PartSizes.capacity(sink.partSize) + " bytes at a part size of " + sink.partSize
                            + "); use a larger part size.",
                    key,
                    sink.location(),
                    null);
        }
        long size = PartSizes.sizeOf(partNumber + 1, sink.partSize);
        try {
            currentCharge = budget.acquire(size);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for a part upload to " + sink.location());
        }
        partNumber++;
        current = new PartBuffer(size, store.contiguousParts());
    }

    private void submitCurrent() throws IOException {
        checkFailedParts();
        if (uploadId == null) {
            uploadId = sink.call("start of the upload of", key, () -> store.startUpload(name, metadata));
            log.debug("multipart upload of {} to {} started, upload id {}", key, sink.location(), uploadId);
        }
        PartBuffer part = current;
        long charge = currentCharge;
        int number = partNumber;
        String id = uploadId;
        current = null;
        try {
            parts.add(sink.uploads.submit(() -> {
                try {
                    return discarding
                            ? null
                            : sink.retry.run(
                                    "upload of part " + number + " of " + key,
                                    () -> store.uploadPart(name, id, number, part));
                } finally {
                    budget.release(charge);
                }
            }));
        } catch (RejectedExecutionException e) {
            budget.release(charge);
            throw new StorageException(
                    "The sink for " + sink.location() + " is closed; cannot upload " + key, key, sink.location(), e);
        }
    }

    /** Fails fast when a part has failed (after its retries). */
    private void checkFailedParts() throws IOException {
        for (Future<UploadedPart> f : parts) {
            if (f.isDone()) {
                result(f);
            }
        }
    }

    private UploadedPart result(Future<UploadedPart> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while uploading " + key + " to " + sink.location());
        } catch (CancellationException e) {
            throw new IOException("the sink " + sink.location() + " was closed while " + key + " was uploading", e);
        } catch (ExecutionException e) {
            throw sink.errors.map(e.getCause(), "upload of a part of", key);
        }
    }

    @Override
    protected void publish() throws IOException {
        if (uploadId == null) {
            PartBuffer whole = current != null ? current : new PartBuffer(0, false);
            refuseExisting();
            sendRefusable("upload of", whole.md5Hex(), () -> store.put(name, whole, metadata, sink.conditionalWrites));
            budget.release(currentCharge);
            current = null;
        } else {
            submitCurrent(); // the last part: not empty, since a part is only sent when more bytes follow it
            List<UploadedPart> done = new ArrayList<>();
            for (Future<UploadedPart> f : parts) {
                done.add(result(f));
            }
            refuseExisting();
            String expected =
                    ETags.multipart(done.stream().map(UploadedPart::eTag).toList());
            sendRefusable(
                    "completion of the upload of",
                    expected,
                    () -> store.completeUpload(name, uploadId, done, sink.conditionalWrites));
        }
        sink.live.remove(this);
        log.debug("committed {} ({} bytes, {} parts) in {}", key, written, Math.max(1, partNumber), sink.location());
    }

    /** Write-once for stores that ignore {@code If-None-Match}: a {@code HeadObject} right before. */
    private void refuseExisting() throws IOException {
        if (sink.call("check of", key, () -> store.head(name)).isPresent()) {
            throw new ObjectExistsException(key, sink.location());
        }
    }

    /**
     * Sends a {@code PutObject} or a completion. A refusal (412, or {@code NoSuchUpload}) of a retry may answer an
     * attempt that worked but whose answer was lost: then the object is ours if it has our size and ETag.
     */
    private void sendRefusable(String what, String expectedETag, IoAction action) throws IOException {
        AtomicInteger attempts = new AtomicInteger();
        try {
            sink.retry.run(what + " " + key, () -> {
                attempts.incrementAndGet();
                action.run();
                return null;
            });
        } catch (IOException e) {
            boolean exists = e instanceof StoreFailure f && (f.status() == 412 || f.is("PreconditionFailed"));
            boolean refused = exists || e instanceof StoreFailure f && f.is("NoSuchUpload");
            if (refused && attempts.get() > 1 && storedIsOurs(expectedETag)) {
                log.info(
                        "the answer to the {} {} in {} was lost; the object stored is ours",
                        what,
                        key,
                        sink.location());
                return;
            }
            if (exists) {
                throw new ObjectExistsException(key, sink.location());
            }
            throw sink.errors.map(e, what, key);
        }
    }

    private boolean storedIsOurs(String expectedETag) {
        try {
            Optional<ObjectHead> head = sink.retry.run("check of " + key, () -> store.head(name));
            return head.isPresent()
                    && head.get().size() == written
                    && ETags.same(expectedETag, head.get().eTag());
        } catch (IOException | RuntimeException e) {
            log.debug("cannot tell whether {} is ours: {}", key, e.toString());
            return false;
        }
    }

    /** Waits for the parts on their way (they would land after an abort and stay), then aborts the upload. */
    @Override
    protected void discard() {
        discarding = true;
        current = null;
        boolean interrupted = Thread.interrupted();
        try {
            for (Future<UploadedPart> f : parts) {
                if (sink.closing) {
                    f.cancel(true); // the sink is closing: abort while the client still works
                }
                try {
                    f.get(5, TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    interrupted = true;
                    break;
                } catch (ExecutionException | CancellationException ignored) {
                    // the part failed: nothing to wait for
                } catch (TimeoutException e) {
                    log.warn(
                            "a part upload of {} to {} did not end within 5 minutes; aborting anyway",
                            key,
                            sink.location());
                    break;
                }
            }
            if (uploadId != null) {
                abort();
            }
        } finally {
            sink.live.remove(this);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void abort() {
        try {
            sink.retry.run("abort of the upload of " + key, () -> {
                store.abortUpload(name, uploadId);
                return null;
            });
            log.debug("aborted the multipart upload {} of {} in {}", uploadId, key, sink.location());
        } catch (IOException | RuntimeException e) {
            throw new StorageException(
                    "Could not abort the unfinished upload of " + key + " in " + sink.location()
                            + " (upload id " + uploadId + "): " + e
                            + ". Its parts stay billed until it is aborted: a bucket "
                            + "lifecycle rule AbortIncompleteMultipartUpload removes them.",
                    key,
                    sink.location(),
                    e);
        }
    }

    /** A request without a result. */
    private interface IoAction {
        void run() throws IOException;
    }
}
