package com.jiffoo.backup.cli;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.NotFoundException;
import com.jiffoo.backup.Sink;
import com.jiffoo.backup.SinkOutput;
import com.jiffoo.backup.StoredObject;
import com.jiffoo.backup.internal.BoundedJson;
import com.jiffoo.backup.store.StoreLayout;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A read-only store of one backup given as a local file — e.g. downloaded with {@code aws s3 cp} — whose
 * {@code .sha256}, {@code .manifest.json} and {@code .manifest.json.sig} lie in the same directory. The directory need not be laid out as a
 * store ({@code database/…}): the keys are those the manifest names, mapped to the three files by their names.
 */
final class BackupFileSink implements Sink {
    private final Path dir;
    private final String fileName;
    private final String objectKey;

    private BackupFileSink(Path dir, String fileName, String objectKey) {
        this.dir = dir;
        this.fileName = fileName;
        this.objectKey = objectKey;
    }

    /**
     * The backup whose data, {@code .sha256} or {@code .manifest.json} file is {@code path}.
     *
     * @throws ConfigurationException when the data file or its manifest is not there, naming what to copy
     */
    static BackupFileSink open(Path path) {
        Path abs = path.toAbsolutePath().normalize();
        Path dir = abs.getParent();
        String name = StoreLayout.dataKeyOf(abs.getFileName().toString());
        Path data = dir.resolve(name);
        if (!Files.isRegularFile(data)) {
            throw new ConfigurationException("the backup file " + data + " does not exist; give the path of a backup's"
                    + " data file (…sql.gpg or …tar.gz.gpg), or its key or s3:// URI.");
        }
        Path manifest = dir.resolve(StoreLayout.manifestKey(name));
        byte[] json;
        try (InputStream in = Files.newInputStream(manifest)) {
            json = in.readNBytes(BoundedJson.MAX_DOCUMENT_BYTES + 1);
        } catch (NoSuchFileException e) {
            throw new ConfigurationException(
                    "the backup file " + data + " has no " + manifest.getFileName()
                            + " next to it: copy the backup's .manifest.json, .manifest.json.sig and .sha256 from the store into "
                            + dir
                            + " too (e.g. `aws s3 cp s3://BUCKET/PREFIX/KIND/" + name + ".manifest.json " + dir
                            + "/`). Without"
                            + " its manifest a backup cannot be checked; docs/runbook.md shows the restore by hand with gpg.",
                    e);
        } catch (IOException e) {
            throw new ConfigurationException("cannot read " + manifest + ": " + e.getMessage(), e);
        }
        if (json.length > BoundedJson.MAX_DOCUMENT_BYTES) {
            throw new IntegrityException(
                    "The manifest " + manifest + " is larger than " + BoundedJson.MAX_DOCUMENT_BYTES
                            + " bytes; it is not a manifest written by jiffoo-backup. Copy the backup's real .manifest.json"
                            + " from the store.",
                    manifest.toString(),
                    null,
                    null);
        }
        BackupManifest m = BackupManifest.fromJson(json, manifest.toString());
        return new BackupFileSink(dir, name, m.objectKey());
    }

    /** The key of the backup's data, as its manifest names it. */
    String objectKey() {
        return objectKey;
    }

    @Override
    public String location() {
        return "file:" + dir;
    }

    @Override
    public SinkOutput create(String key) throws IOException {
        throw new IOException("the backup file store " + dir + " is read-only");
    }

    @Override
    public InputStream open(String key) throws IOException {
        Path p = pathOf(key)
                .orElseThrow(
                        () -> new NotFoundException("No object " + key + " in " + location(), key, location(), null));
        try {
            return Files.newInputStream(p);
        } catch (NoSuchFileException e) {
            throw new NotFoundException("No object " + key + " (" + p + ") in " + location(), key, location(), e);
        }
    }

    @Override
    public List<StoredObject> list(String prefix) throws IOException {
        List<StoredObject> out = new ArrayList<>();
        for (String key : List.of(
                objectKey,
                StoreLayout.manifestKey(objectKey),
                StoreLayout.signatureKey(objectKey),
                StoreLayout.sidecarKey(objectKey))) {
            Path p = pathOf(key).orElseThrow();
            if (key.startsWith(prefix) && Files.isRegularFile(p)) {
                out.add(new StoredObject(
                        key, Files.size(p), Files.getLastModifiedTime(p).toInstant()));
            }
        }
        out.sort(java.util.Comparator.comparing(StoredObject::key));
        return out;
    }

    @Override
    public Optional<Path> localRoot() {
        return Optional.of(dir);
    }

    @Override
    public void delete(String key) throws IOException {
        throw new IOException("the backup file store " + dir + " is read-only");
    }

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "BackupFileSink{" + dir + "/" + fileName + "}";
    }

    /** The file of a key: one of the backup's four objects, else empty. */
    Optional<Path> pathOf(String key) {
        if (key.equals(objectKey)
                || key.equals(StoreLayout.manifestKey(objectKey))
                || key.equals(StoreLayout.signatureKey(objectKey))
                || key.equals(StoreLayout.sidecarKey(objectKey))) {
            return Optional.of(dir.resolve(fileName + key.substring(objectKey.length())));
        }
        return Optional.empty();
    }
}
