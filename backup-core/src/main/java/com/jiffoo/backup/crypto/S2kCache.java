package com.jiffoo.backup.crypto;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.bouncycastle.bcpg.S2K;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.operator.PBEDataDecryptorFactory;
import org.bouncycastle.openpgp.operator.PGPDigestCalculatorProvider;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEKeyEncryptionMethodGenerator;

/**
 * Keys derived from passphrases by OpenPGP's iterated and salted S2K, kept for the life of one
 * {@link OpenPgpTransform}: the S2K hashes 64 MiB per derivation, more than a 16 MiB WAL segment costs to decrypt,
 * and a process that encrypts or decrypts many small messages (the WAL uploader, {@code wal-fetch} reading ahead)
 * would pay it per message.
 *
 * <ul>
 *   <li>Encrypting: one S2K salt per transform ({@link #encryptionMethod}); each message still gets its own random
 *       session key, carried encrypted under the derived key in its symmetric-key packet (what gpg writes when it
 *       encrypts for a passphrase and keys at once, and reads in every case).
 *   <li>Decrypting: derived keys are looked up by passphrase, algorithm, hash, salt and count
 *       ({@link #decryptorFactory}), so messages written by one transform cost one derivation together.
 * </ul>
 *
 * <p>Thread-safe. Holds at most {@value #MAX} derived keys.
 */
final class S2kCache {
    private static final int MAX = 32;

    private record Key(char[] passphrase, int algorithm, int type, int hash, byte[] salt, long count) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k
                    && k.passphrase == passphrase // the transform's own array: identity
                    && k.algorithm == algorithm
                    && k.type == type
                    && k.hash == hash
                    && k.count == count
                    && Arrays.equals(k.salt, salt);
        }

        @Override
        public int hashCode() {
            return Objects.hash(
                    System.identityHashCode(passphrase), algorithm, type, hash, Arrays.hashCode(salt), count);
        }

        @Override
        public String toString() {
            return "S2K key"; // never the passphrase
        }
    }

    private final Map<Key, byte[]> keys = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, byte[]> eldest) {
            return size() > MAX;
        }
    };

    private final java.util.concurrent.atomic.AtomicInteger derivations =
            new java.util.concurrent.atomic.AtomicInteger();

    /** How many S2K derivations ran through this cache (tests). */
    int derivations() {
        return derivations.get();
    }

    interface Derivation {
        byte[] derive() throws PGPException;
    }

    byte[] get(char[] passphrase, int algorithm, S2K s2k, Derivation d) throws PGPException {
        if (s2k.getType() != S2K.SALTED_AND_ITERATED && s2k.getType() != S2K.SALTED) {
            return d.derive(); // simple S2K or Argon2: nothing worth keeping, or not ours
        }
        Key k = new Key(
                passphrase,
                algorithm,
                s2k.getType(),
                s2k.getHashAlgorithm(),
                s2k.getIV().clone(),
                s2k.getType() == S2K.SALTED_AND_ITERATED ? s2k.getIterationCount() : 0);
        synchronized (keys) {
            byte[] known = keys.get(k);
            if (known != null) {
                return known.clone();
            }
        }
        byte[] derived = d.derive(); // outside the lock: a derivation takes a tenth of a second
        derivations.incrementAndGet();
        synchronized (keys) {
            keys.put(k, derived.clone());
        }
        return derived;
    }

    /** A decryptor factory for {@code passphrase} that derives through this cache and otherwise is {@code inner}. */
    PBEDataDecryptorFactory decryptorFactory(
            char[] passphrase, PGPDigestCalculatorProvider digests, PBEDataDecryptorFactory inner) {
        return new CachingFactory(passphrase, digests, inner, this);
    }

    /**
     * The encryption method of a transform: one salt, one derivation, a session key per message (the generator must
     * be used with {@code PGPEncryptedDataGenerator.setForceSessionKey(true)}).
     */
    static JcePBEKeyEncryptionMethodGenerator encryptionMethod(
            char[] passphrase, org.bouncycastle.openpgp.operator.PGPDigestCalculator s2kDigest, int countByte) {
        return new JcePBEKeyEncryptionMethodGenerator(passphrase, s2kDigest, countByte) {
            private final Map<Integer, byte[]> derived = new java.util.HashMap<>();

            @Override
            public synchronized byte[] getKey(int algorithm) throws PGPException {
                byte[] k = derived.get(algorithm);
                if (k == null) {
                    k = super.getKey(algorithm); // the first call draws the salt, kept for every later message
                    derived.put(algorithm, k.clone());
                    return k;
                }
                return k.clone();
            }
        };
    }

    private static final class CachingFactory extends PBEDataDecryptorFactory {
        private final char[] passphrase;
        private final PBEDataDecryptorFactory inner;
        private final S2kCache cache;

        CachingFactory(
                char[] passphrase, PGPDigestCalculatorProvider digests, PBEDataDecryptorFactory inner, S2kCache cache) {
            super(passphrase, digests);
            this.passphrase = passphrase;
            this.inner = inner;
            this.cache = cache;
        }

        @Override
        public byte[] makeKeyFromPassPhrase(int keyAlgorithm, S2K s2k) throws PGPException {
            return cache.get(passphrase, keyAlgorithm, s2k, () -> inner.makeKeyFromPassPhrase(keyAlgorithm, s2k));
        }

        @Override
        public byte[] recoverSessionData(int keyAlgorithm, byte[] key, byte[] secKeyData) throws PGPException {
            return inner.recoverSessionData(keyAlgorithm, key, secKeyData);
        }

        @Override
        public byte[] recoverAEADEncryptedSessionData(
                org.bouncycastle.bcpg.SymmetricKeyEncSessionPacket keyData, byte[] ikm) throws PGPException {
            return inner.recoverAEADEncryptedSessionData(keyData, ikm);
        }

        @Override
        public org.bouncycastle.openpgp.operator.PGPDataDecryptor createDataDecryptor(
                boolean withIntegrityPacket, int encAlgorithm, byte[] key) throws PGPException {
            return inner.createDataDecryptor(withIntegrityPacket, encAlgorithm, key);
        }

        @Override
        public org.bouncycastle.openpgp.operator.PGPDataDecryptor createDataDecryptor(
                org.bouncycastle.bcpg.AEADEncDataPacket aeadEncDataPacket,
                org.bouncycastle.openpgp.PGPSessionKey sessionKey)
                throws PGPException {
            return inner.createDataDecryptor(aeadEncDataPacket, sessionKey);
        }

        @Override
        public org.bouncycastle.openpgp.operator.PGPDataDecryptor createDataDecryptor(
                org.bouncycastle.bcpg.SymmetricEncIntegrityPacket seipd,
                org.bouncycastle.openpgp.PGPSessionKey sessionKey)
                throws PGPException {
            return inner.createDataDecryptor(seipd, sessionKey);
        }
    }
}
