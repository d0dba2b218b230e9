package com.jiffoo.backup.store.multipart;

import com.jiffoo.backup.Sink.PartialWrite;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.internal.ETags;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An {@link ObjectStore} in memory that behaves like S3 (MD5 ETags, {@code -N} multipart ETags, 412 for
 * {@code If-None-Match: *} over an existing object, {@code NoSuchUpload} for a finished upload), with faults a test
 * scripts: a request may fail before it acts ({@link #failBefore}) or act and lose its answer ({@link #loseAnswer}).
 */
final class ScriptedObjectStore implements ObjectStore {
    /** A request kind faults can be scripted for. */
    enum Op {
        START,
        PART,
        COMPLETE,
        ABORT,
        PUT,
        HEAD,
        UPLOADS
    }

    /** A fault: what to throw on a call, or null for none. */
    interface Fault {
        IOException on(int call);
    }

    final Map<String, byte[]> objects = new ConcurrentHashMap<>();
    final Map<String, Map<Integer, byte[]>> uploads = new ConcurrentHashMap<>();
    final Map<Op, AtomicInteger> calls = new ConcurrentHashMap<>();
    private final Map<Op, Fault> before = new ConcurrentHashMap<>();
    private final Map<Op, Fault> after = new ConcurrentHashMap<>();
    private final AtomicInteger ids = new AtomicInteger();
    /** The part ETags of multipart objects, whose ETag is {@code md5(part md5s)-N}. */
    private final Map<String, List<String>> multipartETags = new ConcurrentHashMap<>();
    /** Run at the start of each part upload (a test may block it). */
    volatile Runnable onPart = () -> {};

    ScriptedObjectStore failBefore(Op op, Fault fault) {
        before.put(op, fault);
        return this;
    }

    ScriptedObjectStore loseAnswer(Op op, Fault fault) {
        after.put(op, fault);
        return this;
    }

    static StoreFailure answer(int status, String code) {
        return new StoreFailure(status, code, "scripted " + code, null, null);
    }

    int calls(Op op) {
        return calls.computeIfAbsent(op, o -> new AtomicInteger()).get();
    }

    private <T> T run(Op op, IoSupplier<T> action) throws IOException {
        int n = calls.computeIfAbsent(op, o -> new AtomicInteger()).incrementAndGet();
        IOException fault = before.getOrDefault(op, c -> null).on(n);
        if (fault != null) {
            throw fault;
        }
        T result = action.get();
        IOException lost = after.getOrDefault(op, c -> null).on(n);
        if (lost != null) {
            throw lost;
        }
        return result;
    }

    private interface IoSupplier<T> {
        T get() throws IOException;
    }

    @Override
    public String startUpload(String name, Map<String, String> metadata) throws IOException {
        return run(Op.START, () -> {
            String id = name + "#" + ids.incrementAndGet();
            uploads.put(id, new ConcurrentSkipListMap<>());
            return id;
        });
    }

    @Override
    public UploadedPart uploadPart(String name, String uploadId, int number, PartBuffer part) throws IOException {
        onPart.run();
        return run(Op.PART, () -> {
            byte[] bytes = part.newInputStream().readAllBytes();
            uploads.get(uploadId).put(number, bytes);
            return new UploadedPart(number, md5(bytes), Map.of());
        });
    }

    @Override
    public void completeUpload(String name, String uploadId, List<UploadedPart> parts, boolean ifNoneMatch)
            throws IOException {
        run(Op.COMPLETE, () -> {
            Map<Integer, byte[]> upload = uploads.get(uploadId);
            if (upload == null) {
                throw answer(404, "NoSuchUpload");
            }
            if (ifNoneMatch && objects.containsKey(name)) {
                throw answer(412, "PreconditionFailed");
            }
            var all = new java.io.ByteArrayOutputStream();
            for (UploadedPart p : parts) {
                all.writeBytes(upload.get(p.number()));
            }
            objects.put(name, all.toByteArray());
            multipartETags.put(
                    name, parts.stream().map(p -> md5(upload.get(p.number()))).toList());
            uploads.remove(uploadId);
            return null;
        });
    }

    @Override
    public void abortUpload(String name, String uploadId) throws IOException {
        run(Op.ABORT, () -> uploads.remove(uploadId));
    }

    @Override
    public void put(String name, PartBuffer data, Map<String, String> metadata, boolean ifNoneMatch)
            throws IOException {
        run(Op.PUT, () -> {
            if (ifNoneMatch && objects.containsKey(name)) {
                throw answer(412, "PreconditionFailed");
            }
            multipartETags.remove(name);
            return objects.put(name, data.newInputStream().readAllBytes());
        });
    }

    @Override
    public Optional<ObjectHead> head(String name) throws IOException {
        return run(
                Op.HEAD,
                () -> Optional.ofNullable(objects.get(name)).map(b -> new ObjectHead(b.length, eTagOf(name, b))));
    }

    private String eTagOf(String name, byte[] bytes) {
        List<String> parts = multipartETags.get(name);
        return parts == null ? md5(bytes) : ETags.multipart(parts);
    }

    @Override
    public InputStream get(String name, long offset, long length) throws IOException {
        byte[] b = objects.get(name);
        if (b == null) {
            throw answer(404, "NoSuchKey");
        }
        int from = (int) Math.min(offset, b.length);
        int n = (int) (length < 0 ? b.length - from : Math.min(length, b.length - from));
        return new ByteArrayInputStream(b, from, n);
    }

    @Override
    public List<StoredObject> list(String prefix) {
        List<StoredObject> out = new ArrayList<>();
        objects.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.add(new StoredObject(k, v.length, Instant.EPOCH));
            }
        });
        return out;
    }

    @Override
    public List<PartialWrite> listUploads(String prefix) throws IOException {
        return run(
                Op.UPLOADS,
                () -> uploads.keySet().stream()
                        .filter(id -> id.startsWith(prefix))
                        .map(id -> new PartialWrite(id.substring(0, id.indexOf('#')), id, Instant.EPOCH))
                        .toList());
    }

    @Override
    public void delete(String name) {
        objects.remove(name);
    }

    @Override
    public List<String> deleteBatch(List<String> names) {
        names.forEach(objects::remove);
        return List.of();
    }

    static String md5(byte[] b) {
        return HexFormat.of().formatHex(ETags.md5().digest(b));
    }
}
