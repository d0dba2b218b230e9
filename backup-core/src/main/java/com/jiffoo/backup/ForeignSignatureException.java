package com.jiffoo.backup;

import java.util.Collection;
import java.util.Optional;

/**
 * An object's signature is of the other authentication mode than this host's key material checks: an OpenPGP
 * signature where only key files (HMAC, passphrase mode) are configured, or an HMAC line where only signers' public
 * keys are (public-key mode). The local keys decide the mode, so such an object is, in that one store, not authentic
 * (an {@link ErrorCode#INTEGRITY} failure: planted or replaced by someone who can write there), and another store's
 * copy may serve.
 *
 * <p>When every store answers the same for the same object, the likelier cause is this host's configuration (a
 * passphrase key file where the backups are signed with OpenPGP, or the reverse): {@link #ifEveryStore} turns that
 * into a {@link ConfigurationException}.
 */
public class ForeignSignatureException extends IntegrityException {
    private static final long serialVersionUID = 1L;

    private final String found;
    private final String expected;

    /**
     * Creates the exception.
     *
     * @param message  what failed, where, and what to do
     * @param key      the object's key
     * @param found    the signature found, e.g. {@code "an HMAC line (passphrase mode)"}
     * @param expected what this host's keys check, e.g. {@code "OpenPGP signatures (public-key mode)"}
     */
    public ForeignSignatureException(String message, String key, String found, String expected) {
        super(message, key, null, null);
        this.found = found;
        this.expected = expected;
    }

    /**
     * A {@link ConfigurationException} when every one of {@code failures} (one per store tried, none empty) is a
     * foreign signature: each store holds the object signed in the other mode, so this host's keys are the likely
     * fault, not each store. Empty when any store failed otherwise (that store's failure, or the foreign object,
     * is then what is reported).
     */
    public static Optional<ConfigurationException> ifEveryStore(Collection<? extends BackupException> failures) {
        if (failures.isEmpty() || !failures.stream().allMatch(ForeignSignatureException.class::isInstance)) {
            return Optional.empty();
        }
        ForeignSignatureException first =
                (ForeignSignatureException) failures.iterator().next();
        String key = first.key().orElse("the object");
        ConfigurationException c = new ConfigurationException(
                (failures.size() == 1 ? "The store holds " : "Every store (" + failures.size() + ") holds ") + key
                        + " with " + first.found + ", while this host's keys check " + first.expected + " only: the"
                        + " key configuration here is not the one the backups are made with. Configure the same"
                        + " mode as the backup host (ENCRYPTION_KEY_FILE for passphrase mode, or"
                        + " ENCRYPTION_SIGNER_PUBLIC_KEY_FILE for public-key mode; docs/security.md). If it is,"
                        + " someone who can write to "
                        + (failures.size() == 1 ? "the store" : "every store")
                        + " planted it: do not restore it.",
                key,
                first.location().orElse(null),
                first);
        failures.stream().skip(1).forEach(c::addSuppressed);
        return Optional.of(c);
    }
}
