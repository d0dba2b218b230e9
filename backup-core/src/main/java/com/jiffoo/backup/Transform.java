package com.jiffoo.backup;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Map;

/**
 * One reversible stage between a source and a store: encryption, compression. Layering is done by wrapping streams.
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #encode} wraps the way out. Closing the returned stream finishes the encoding (trailers, MDC) and
 *       closes {@code out}.</li>
 *   <li>{@link #decode} wraps the way back. Reading the returned stream to its end verifies whatever the format can
 *       verify (an OpenPGP MDC, a gzip CRC); a failure is thrown as a {@link BackupException}
 *       ({@link IntegrityException}, {@link DecryptionException}) from {@code read}, never as silently short data.
 *       Closing it closes {@code in}.</li>
 *   <li>Both are streaming: memory does not grow with the data.</li>
 * </ul>
 * Instances are immutable and thread-safe; each call returns a new stream.
 */
public interface Transform {

    /** The suffix this stage adds to a stored object's name: {@code .gpg}, {@code .gz}. */
    String suffix();

    /** Wraps {@code out} so that bytes written to the result reach {@code out} encoded. */
    OutputStream encode(OutputStream out) throws IOException;

    /** Wraps {@code in} (encoded bytes) so that reading the result gives the original bytes. */
    InputStream decode(InputStream in) throws IOException;

    /**
     * A description for the manifest, with a {@code "type"} entry ({@code "openpgp"}, {@code "gzip"}) and the
     * parameters a reader needs to know (algorithm, key ids). Never contains secrets. A restore picks, for each
     * transform a manifest lists, the configured transform with the same {@code "type"}; an encrypting transform
     * also puts {@code "encrypts": true}.
     */
    Map<String, Object> describe();

    /** True when this stage encrypts. A backup pipeline refuses to run unencrypted unless asked to explicitly. */
    default boolean encrypts() {
        return false;
    }

    /**
     * How backups written through this stage are authenticated, when it has key material: an encrypting stage
     * authenticates its manifests with the same keys, so that configuring encryption also refuses backups planted
     * by someone without them (see {@link Authenticator}). Empty by default.
     */
    default java.util.Optional<Authenticator> authenticator() {
        return java.util.Optional.empty();
    }
}
