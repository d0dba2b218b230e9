package com.jiffoo.backup;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A backup written to a primary store and copies ({@link BackupPipeline.Builder#copy(Sink)}) was committed in some
 * stores but not in others (code {@link ErrorCode#PARTIAL}, exit 11). The stores in {@link #committed()} hold the
 * whole backup (data, sidecar, manifest), each confirmed against the same SHA-256; the stores in {@link #failures()}
 * do not: what was written to them was discarded or deleted, so nothing there looks committed.
 *
 * <p>Thrown only when at least one store committed; when every store failed, {@link BackupPipeline#run()} throws the
 * failure itself, as for a single store.
 */
public final class PartialBackupException extends BackupException {
    private static final long serialVersionUID = 1L;

    private final transient BackupManifest manifest;
    private final List<String> committed;
    private final transient Map<String, BackupException> failures;

    /**
     * Creates the exception for {@code manifest}, committed in the stores {@code committed} (their
     * {@link Sink#location()}s) and failed in the stores {@code failures} names, each with its failure.
     */
    public PartialBackupException(
            BackupManifest manifest, List<String> committed, Map<String, BackupException> failures) {
        super(
                ErrorCode.PARTIAL,
                message(manifest, committed, failures),
                manifest.objectKey(),
                String.join(", ", failures.keySet()),
                failures.values().iterator().next());
        this.manifest = manifest;
        this.committed = List.copyOf(committed);
        this.failures = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(failures));
        failures.values().stream().skip(1).forEach(this::addSuppressed);
    }

    private static String message(
            BackupManifest manifest, List<String> committed, Map<String, BackupException> failures) {
        Objects.requireNonNull(manifest, "manifest");
        if (committed.isEmpty() || failures.isEmpty()) {
            throw new IllegalArgumentException("a partial backup has committed and failed stores");
        }
        StringBuilder b = new StringBuilder("The backup ")
                .append(manifest.objectKey())
                .append(" was committed in ")
                .append(String.join(", ", committed))
                .append(" but FAILED in ")
                .append(failures.size() == 1 ? "the store " : "the stores ")
                .append(String.join(", ", failures.keySet()))
                .append(" (nothing of it is left there).");
        failures.forEach((where, e) -> b.append(" ").append(where).append(": ").append(e.getMessage()));
        return b.append(" Fix the failed store; the next backup is written to every store again.")
                .toString();
    }

    /** The backup's manifest, as committed in {@link #committed()}. */
    public BackupManifest manifest() {
        return manifest;
    }

    /** The locations of the stores that hold the committed backup, primary first. */
    public List<String> committed() {
        return committed;
    }

    /** The locations of the stores that failed, in the order configured, with their failures. */
    public Map<String, BackupException> failures() {
        return failures;
    }
}
