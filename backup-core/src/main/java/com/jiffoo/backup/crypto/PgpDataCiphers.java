package com.jiffoo.backup.crypto;

import java.io.InputStream;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Objects;
import org.bouncycastle.bcpg.AEADEncDataPacket;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricEncIntegrityPacket;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPSessionKey;
import org.bouncycastle.openpgp.operator.PGPDataDecryptor;
import org.bouncycastle.openpgp.operator.PGPDataEncryptor;
import org.bouncycastle.openpgp.operator.PGPDataEncryptorBuilder;
import org.bouncycastle.openpgp.operator.PGPDigestCalculator;
import org.bouncycastle.openpgp.operator.SessionKeyDataDecryptorFactory;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JceSessionKeyDataDecryptorFactoryBuilder;

/**
 * Bouncy Castle data encryptor and decryptor for OpenPGP's symmetrically encrypted integrity-protected data packet
 * version 1 (CFB + MDC) with AES, running the bulk data through {@link AesCfb} instead of through
 * {@code AES/CFB/NoPadding}; the bytes are the same. Everything else (packets, session keys, S2K, the MDC's SHA-1,
 * which is a {@code MessageDigest} the JVM accelerates) stays Bouncy Castle's. Package-private helper of
 * {@link OpenPgpTransform}.
 */
final class PgpDataCiphers {
    /** OpenPGP's CFB for SEIPD v1 starts from an all-zero IV; the random prefix takes the IV's place. */
    private static final byte[] ZERO_IV = new byte[AesCfb.BLOCK];

    private PgpDataCiphers() {}

    /** Encrypts SEIPD v1 packets with {@code algorithm}, an AES variant, taking randomness from {@code random}. */
    static PGPDataEncryptorBuilder encryptorBuilder(int algorithm, SecureRandom random) {
        if (!isAes(algorithm)) {
            throw new IllegalArgumentException("only AES is supported, not algorithm " + algorithm);
        }
        return new EncryptorBuilder(algorithm, Objects.requireNonNull(random, "random"));
    }

    /**
     * Decrypts with {@code sessionKey}: SEIPD v1 packets with AES through {@link AesCfb}, anything else through
     * Bouncy Castle's JCE decryptor.
     */
    static SessionKeyDataDecryptorFactory decryptorFactory(PGPSessionKey sessionKey) {
        return new DecryptorFactory(new JceSessionKeyDataDecryptorFactoryBuilder().build(sessionKey));
    }

    private static boolean isAes(int algorithm) {
        return algorithm == SymmetricKeyAlgorithmTags.AES_128
                || algorithm == SymmetricKeyAlgorithmTags.AES_192
                || algorithm == SymmetricKeyAlgorithmTags.AES_256;
    }

    private static PGPDigestCalculator sha1() throws PGPException {
        return new JcaPGPDigestCalculatorProviderBuilder().build().get(HashAlgorithmTags.SHA1);
    }

    /** SEIPD v1 only: integrity protection cannot be switched off, and AEAD (v2, v5) is not offered. */
    private static final class EncryptorBuilder implements PGPDataEncryptorBuilder {
        private final int algorithm;
        private final SecureRandom random;

        EncryptorBuilder(int algorithm, SecureRandom random) {
            this.algorithm = algorithm;
            this.random = random;
        }

        @Override
        public int getAlgorithm() {
            return algorithm;
        }

        /** -1: no AEAD. */
        @Override
        public int getAeadAlgorithm() {
            return -1;
        }

        @Override
        public int getChunkSize() {
            return 0;
        }

        @Override
        public boolean isV5StyleAEAD() {
            return false;
        }

        @Override
        public PGPDataEncryptor build(byte[] keyBytes) throws PGPException {
            if (!AesCfb.isAesKey(keyBytes)) {
                throw new PGPException("an AES key has 16, 24 or 32 bytes, not " + keyBytes.length);
            }
            return new CfbData(keyBytes.clone(), sha1());
        }

        @Override
        public PGPDataEncryptor build(byte[] keyBytes, byte[] salt) throws PGPException {
            throw new PGPException("only SEIPD version 1 (CFB + MDC) is written, not version 2 (AEAD)");
        }

        @Override
        public SecureRandom getSecureRandom() {
            return random;
        }

        @Override
        public PGPDataEncryptorBuilder setWithIntegrityPacket(boolean withIntegrityPacket) {
            if (!withIntegrityPacket) {
                throw new UnsupportedOperationException("data without integrity protection is not written");
            }
            return this;
        }

        @Override
        public PGPDataEncryptorBuilder setWithAEAD(int aeadAlgorithm, int chunkSize) {
            throw new UnsupportedOperationException("AEAD is not written; this encryptor writes SEIPD v1");
        }

        @Override
        public PGPDataEncryptorBuilder setUseV5AEAD() {
            throw new UnsupportedOperationException("AEAD is not written; this encryptor writes SEIPD v1");
        }

        @Override
        public PGPDataEncryptorBuilder setUseV6AEAD() {
            throw new UnsupportedOperationException("AEAD is not written; this encryptor writes SEIPD v1");
        }
    }

    /** One message's bulk data cipher, either way: the {@link AesCfb} stream and the MDC's SHA-1. */
    private static final class CfbData implements PGPDataEncryptor, PGPDataDecryptor {
        private final byte[] key;
        private final PGPDigestCalculator mdc;

        CfbData(byte[] key, PGPDigestCalculator mdc) {
            this.key = key;
            this.mdc = mdc;
        }

        @Override
        public OutputStream getOutputStream(OutputStream out) {
            try {
                return AesCfb.encrypting(out, key, ZERO_IV);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("this JVM cannot run AES/CBC/NoPadding: " + e.getMessage(), e);
            }
        }

        @Override
        public InputStream getInputStream(InputStream in) {
            try {
                return AesCfb.decrypting(in, key, ZERO_IV);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("this JVM cannot run AES/ECB/NoPadding: " + e.getMessage(), e);
            }
        }

        @Override
        public PGPDigestCalculator getIntegrityCalculator() {
            return mdc;
        }

        @Override
        public int getBlockSize() {
            return AesCfb.BLOCK;
        }
    }

    /** Ours for SEIPD v1 with AES; Bouncy Castle's JCE decryptor for the rest. */
    private static final class DecryptorFactory implements SessionKeyDataDecryptorFactory {
        private final SessionKeyDataDecryptorFactory jce;

        DecryptorFactory(SessionKeyDataDecryptorFactory jce) {
            this.jce = jce;
        }

        @Override
        public PGPSessionKey getSessionKey() {
            return jce.getSessionKey();
        }

        @Override
        public PGPDataDecryptor createDataDecryptor(boolean withIntegrityPacket, int encAlgorithm, byte[] key)
                throws PGPException {
            if (!withIntegrityPacket || !isAes(encAlgorithm) || !AesCfb.isAesKey(key)) {
                return jce.createDataDecryptor(withIntegrityPacket, encAlgorithm, key);
            }
            return new CfbData(key.clone(), sha1());
        }

        @Override
        public PGPDataDecryptor createDataDecryptor(AEADEncDataPacket packet, PGPSessionKey sessionKey)
                throws PGPException {
            return jce.createDataDecryptor(packet, sessionKey);
        }

        @Override
        public PGPDataDecryptor createDataDecryptor(SymmetricEncIntegrityPacket packet, PGPSessionKey sessionKey)
                throws PGPException {
            return jce.createDataDecryptor(packet, sessionKey);
        }
    }
}
