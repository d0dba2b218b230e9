package com.jiffoo.backup.crypto;

import com.jiffoo.backup.BackupException;
import com.jiffoo.backup.DecryptionException;
import com.jiffoo.backup.ErrorCode;
import com.jiffoo.backup.IntegrityException;
import com.jiffoo.backup.internal.StageFailure;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.bouncycastle.bcpg.ArmoredInputStream;
import org.bouncycastle.bcpg.InputStreamPacket;
import org.bouncycastle.bcpg.SymmetricEncIntegrityPacket;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPCompressedData;
import org.bouncycastle.openpgp.PGPDataValidationException;
import org.bouncycastle.openpgp.PGPEncryptedData;
import org.bouncycastle.openpgp.PGPEncryptedDataList;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPLiteralData;
import org.bouncycastle.openpgp.PGPMarker;
import org.bouncycastle.openpgp.PGPOnePassSignatureList;
import org.bouncycastle.openpgp.PGPPBEEncryptedData;
import org.bouncycastle.openpgp.PGPPublicKeyEncryptedData;
import org.bouncycastle.openpgp.PGPSessionKey;
import org.bouncycastle.openpgp.PGPSignatureList;
import org.bouncycastle.openpgp.jcajce.JcaPGPObjectFactory;
import org.bouncycastle.openpgp.operator.PGPDigestCalculatorProvider;
import org.bouncycastle.openpgp.operator.bc.BcPublicKeyDataDecryptorFactory;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEDataDecryptorFactoryBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens an OpenPGP message with the first configured key that fits and returns the verifying plaintext stream.
 * Package-private helper of {@link OpenPgpTransform}.
 */
final class PgpDecoder {
    private static final Logger LOG = LoggerFactory.getLogger(PgpDecoder.class);

    private static final String TRUNCATED = "the encrypted backup is truncated: its data ends before the OpenPGP "
            + "integrity check (MDC); the file was cut short (an interrupted upload or copy?). Do not use the data "
            + "read from it; restore from another backup";

    private PgpDecoder() {}

    static InputStream open(
            InputStream raw, List<OpenPgpTransform.PassphraseEntry> passphrases, List<PgpKeys.SecretKey> secretKeys)
            throws IOException {
        BufferedInputStream bin = new BufferedInputStream(raw, OpenPgpTransform.BUFFER_SIZE);
        bin.mark(64);
        byte[] head = bin.readNBytes(32);
        bin.reset();
        if (head.length == 0) {
            throw new IntegrityException("the encrypted backup is empty (0 bytes): not an OpenPGP message; the file "
                    + "was truncated or never written. Restore from another backup");
        }
        InputStream pgpIn = bin;
        if ((head[0] & 0x80) == 0) {
            String text = new String(head, StandardCharsets.ISO_8859_1);
            if (!text.startsWith("-----BEGIN PGP")) {
                throw new IntegrityException("not an OpenPGP file: it starts with bytes " + hexHead(head)
                        + ", not with an OpenPGP packet; expected what `gpg --symmetric` or `gpg --encrypt` writes "
                        + "(is this the right file, or was it stored without encryption?)");
            }
            pgpIn = new BufferedInputStream(new ArmoredInputStream(bin), OpenPgpTransform.BUFFER_SIZE);
        }

        PGPEncryptedDataList list = readEncryptedDataList(pgpIn, head);
        InputStreamPacket packet = list.getEncryptedData();
        if (!(packet instanceof SymmetricEncIntegrityPacket sip)) {
            if (!list.isEmpty() && !list.get(0).isAEAD()) {
                throw new IntegrityException("the OpenPGP message is not integrity protected (an old symmetrically "
                        + "encrypted data packet without MDC); refusing to decrypt it, since changes to it could not "
                        + "be detected. Decrypt it with `gpg --ignore-mdc-error` by hand if you must, and re-encrypt "
                        + "it with gpg 2.2 or later");
            }
            throw new IntegrityException("the OpenPGP message uses AEAD encryption ("
                    + packet.getClass().getSimpleName() + "), which this version does not read; decrypt it with gpg");
        }
        if (sip.getVersion() != SymmetricEncIntegrityPacket.VERSION_1) {
            throw new IntegrityException("the OpenPGP message is a version " + sip.getVersion() + " integrity "
                    + "protected packet (SEIPDv2), which this version does not read; decrypt it with gpg");
        }
        return decrypt(bin, list, passphrases, secretKeys);
    }

    private static PGPEncryptedDataList readEncryptedDataList(InputStream pgpIn, byte[] head) {
        JcaPGPObjectFactory factory = new JcaPGPObjectFactory(pgpIn);
        try {
            Object o;
            do {
                o = factory.nextObject();
            } while (o instanceof PGPMarker);
            if (o instanceof PGPEncryptedDataList list) {
                if (list.isEmpty()) {
                    throw new IntegrityException("the OpenPGP message has no session key packet: it cannot be "
                            + "decrypted; the file is damaged");
                }
                return list;
            }
            if (o == null) {
                throw new IntegrityException("the OpenPGP file holds no encrypted data (it ends after "
                        + "its first packets: truncated?); restore from another backup");
            }
            throw new IntegrityException("the OpenPGP file is not encrypted (it starts with a "
                    + o.getClass().getSimpleName().replace("PGP", "") + " packet); refusing it as a backup, "
                    + "which is always encrypted");
        } catch (EOFException e) {
            throw new IntegrityException(TRUNCATED, e);
        } catch (IOException | RuntimeException e) {
            if (e instanceof BackupException be) {
                throw be;
            }
            throw new IntegrityException(
                    "not an OpenPGP encrypted file, or its header is damaged (it starts with " + hexHead(head) + "): "
                            + e.getMessage(),
                    e);
        }
    }

    private static InputStream decrypt(
            InputStream raw,
            PGPEncryptedDataList list,
            List<OpenPgpTransform.PassphraseEntry> passphrases,
            List<PgpKeys.SecretKey> secretKeys) {
        Set<String> fileKeyIds = new LinkedHashSet<>();
        boolean passphraseEncrypted = false;
        boolean sessionKeyButBadData = false;
        PGPDigestCalculatorProvider digests;
        try {
            digests = new JcaPGPDigestCalculatorProviderBuilder().build();
        } catch (PGPException e) {
            throw new IllegalStateException("no SHA digests in this JVM", e);
        }
        for (PGPEncryptedData ed : list) {
            if (ed instanceof PGPPublicKeyEncryptedData pk) {
                long id = pk.getKeyID();
                fileKeyIds.add(id == 0 ? "anonymous (hidden recipient)" : PgpKeys.keyIdHex(id));
                for (PgpKeys.SecretKey sk : secretKeys) {
                    if (id != 0 && sk.keyId() != id) {
                        continue;
                    }
                    PGPSessionKey sessionKey;
                    try {
                        sessionKey = pk.getSessionKey(new BcPublicKeyDataDecryptorFactory(sk.privateKey()));
                    } catch (PGPException | RuntimeException e) {
                        LOG.debug("secret key {} does not open the session key: {}", sk.label(), e.toString());
                        continue;
                    }
                    InputStream clear = dataStream(ed, sessionKey, false);
                    if (clear != null) {
                        LOG.debug("decrypting with secret key {}", sk.label());
                        return plaintext(raw, ed, clear);
                    }
                    sessionKeyButBadData = true;
                }
            } else if (ed instanceof PGPPBEEncryptedData pbe) {
                passphraseEncrypted = true;
                for (OpenPgpTransform.PassphraseEntry p : passphrases) {
                    PGPSessionKey sessionKey;
                    try {
                        sessionKey =
                                pbe.getSessionKey(new JcePBEDataDecryptorFactoryBuilder(digests).build(p.passphrase()));
                    } catch (PGPException | RuntimeException e) {
                        LOG.debug("passphrase {} does not open the session key: {}", p.label(), e.toString());
                        continue;
                    }
                    InputStream clear = dataStream(ed, sessionKey, true);
                    if (clear != null) {
                        LOG.debug("decrypting with passphrase {}", p.label());
                        return plaintext(raw, ed, clear);
                    }
                }
            }
        }
        if (sessionKeyButBadData) {
            throw new IntegrityException("the secret key opened the backup's session key, but the encrypted data "
                    + "does not decrypt with it: the file is damaged at its start; restore from another backup");
        }
        throw noKey(fileKeyIds, passphraseEncrypted, passphrases, secretKeys);
    }

    /**
     * The decrypted packet stream, or null when the session key is wrong: the quick check failed, or (passphrase
     * mode, where a wrong passphrase decrypts the session-key packet to garbage) the session key is unusable.
     */
    private static InputStream dataStream(PGPEncryptedData ed, PGPSessionKey sessionKey, boolean fromPassphrase) {
        if (fromPassphrase && !usableAlgorithm(sessionKey)) {
            return null;
        }
        try {
            var factory = PgpDataCiphers.decryptorFactory(sessionKey);
            if (ed instanceof PGPPublicKeyEncryptedData pk) {
                return pk.getDataStream(factory);
            }
            return ((PGPPBEEncryptedData) ed).getDataStream(factory);
        } catch (PGPDataValidationException e) {
            return null; // quick check failed: wrong key (BC has reset the stream to retry)
        } catch (PGPException | RuntimeException e) {
            if (e.getCause() instanceof EOFException) {
                throw new IntegrityException(TRUNCATED, e);
            }
            if (fromPassphrase) {
                LOG.debug("session key from passphrase unusable: {}", e.toString());
                return null;
            }
            throw new IntegrityException(
                    "the encrypted data of the backup cannot be read: " + e.getMessage() + "; the file is damaged", e);
        }
    }

    private static boolean usableAlgorithm(PGPSessionKey key) {
        int keyBits;
        switch (key.getAlgorithm()) {
            case SymmetricKeyAlgorithmTags.AES_128,
                    SymmetricKeyAlgorithmTags.CAMELLIA_128,
                    SymmetricKeyAlgorithmTags.CAST5,
                    SymmetricKeyAlgorithmTags.BLOWFISH,
                    SymmetricKeyAlgorithmTags.IDEA -> keyBits = 128;
            case SymmetricKeyAlgorithmTags.AES_192,
                    SymmetricKeyAlgorithmTags.CAMELLIA_192,
                    SymmetricKeyAlgorithmTags.TRIPLE_DES -> keyBits = 192;
            case SymmetricKeyAlgorithmTags.AES_256,
                    SymmetricKeyAlgorithmTags.CAMELLIA_256,
                    SymmetricKeyAlgorithmTags.TWOFISH -> keyBits = 256;
            default -> {
                return false;
            }
        }
        return key.getKey() != null && key.getKey().length * 8 == keyBits;
    }

    private static DecryptionException noKey(
            Set<String> fileKeyIds,
            boolean passphraseEncrypted,
            List<OpenPgpTransform.PassphraseEntry> passphrases,
            List<PgpKeys.SecretKey> secretKeys) {
        StringBuilder m = new StringBuilder();
        List<String> configuredKeys = new ArrayList<>();
        for (PgpKeys.SecretKey sk : secretKeys) {
            configuredKeys.add(sk.label());
        }
        if (passphraseEncrypted && !passphrases.isEmpty()) {
            if (passphrases.size() == 1) {
                m.append("the ")
                        .append(passphrases.get(0).label())
                        .append(" does not open this backup; it was " + "encrypted with another passphrase");
            } else {
                m.append("none of the configured passphrases (")
                        .append(passphrases)
                        .append(") opens this backup");
            }
        } else if (passphraseEncrypted) {
            m.append("this backup is encrypted with a passphrase, and no passphrase is configured");
        }
        if (!fileKeyIds.isEmpty()) {
            if (m.length() > 0) {
                m.append("; ");
            }
            m.append("this backup is encrypted to the public key(s) ")
                    .append(fileKeyIds)
                    .append(", and the configured secret keys are ")
                    .append(configuredKeys.isEmpty() ? "none" : configuredKeys.toString());
        } else if (!secretKeys.isEmpty()) {
            m.append(" (it is not encrypted to any public key; the configured secret keys ")
                    .append(configuredKeys)
                    .append(" cannot open it)");
        }
        m.append(". Configure the key file or secret key the backup was made with (after a key rotation, add the "
                + "old key for decryption), or check that this is the right file");
        return new DecryptionException(m.toString());
    }

    private static InputStream plaintext(InputStream raw, PGPEncryptedData ed, InputStream clear) {
        try {
            JcaPGPObjectFactory f = new JcaPGPObjectFactory(clear);
            while (true) {
                Object o = f.nextObject();
                if (o instanceof PGPCompressedData cd) {
                    f = new JcaPGPObjectFactory(cd.getDataStream());
                } else if (o instanceof PGPLiteralData ld) {
                    return new DecodingStream(raw, ed, ld.getInputStream());
                } else if (o instanceof PGPMarker
                        || o instanceof PGPOnePassSignatureList
                        || o instanceof PGPSignatureList) {
                    continue;
                } else if (o == null) {
                    throw new IntegrityException(
                            "the decrypted backup holds no literal data packet; the file is " + "damaged or truncated");
                } else {
                    throw new IntegrityException("the decrypted backup holds an unexpected "
                            + o.getClass().getSimpleName() + " where its data should be; the file is damaged");
                }
            }
        } catch (EOFException e) {
            throw new IntegrityException(TRUNCATED, e);
        } catch (IOException | PGPException | RuntimeException e) {
            if (e instanceof BackupException be) {
                throw be;
            }
            throw new IntegrityException(
                    "the decrypted backup cannot be parsed (" + e.getMessage() + "); the file " + "is damaged", e);
        }
    }

    /**
     * The failure of reading the store ({@link StageFailure} tagged {@link ErrorCode#STORAGE} by the pipeline) in
     * {@code e} or its causes, else null: it says nothing about the backup, so it must not become "damaged".
     */
    private static StageFailure storeFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StageFailure sf && sf.code() == ErrorCode.STORAGE) {
                return sf;
            }
        }
        return null;
    }

    private static String hexHead(byte[] head) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(8, head.length); i++) {
            sb.append(String.format("%02x ", head[i] & 0xff));
        }
        return sb.toString().trim();
    }

    /** The plaintext; checks the MDC at the end and throws instead of returning -1 when it fails. */
    private static final class DecodingStream extends InputStream {
        private final InputStream raw;
        private final PGPEncryptedData ed;
        private final InputStream literal;
        private boolean verified;
        private boolean closed;
        private BackupException failure;

        DecodingStream(InputStream raw, PGPEncryptedData ed, InputStream literal) {
            this.raw = raw;
            this.ed = ed;
            this.literal = literal;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (closed) {
                throw new IOException("stream closed");
            }
            if (failure != null) {
                throw failure;
            }
            if (verified) {
                return -1;
            }
            if (len == 0) {
                return 0;
            }
            int n;
            try {
                n = literal.read(b, off, len);
            } catch (EOFException e) {
                throw fail(new IntegrityException(TRUNCATED, e));
            } catch (IOException | RuntimeException e) {
                if (e instanceof BackupException be) {
                    throw fail(be);
                }
                if (storeFailure(e) != null) {
                    throw storeFailure(e); // the store failed (a reset, a timeout): no verdict on the backup
                }
                throw fail(new IntegrityException(
                        "the encrypted backup is damaged: its data cannot be decrypted (" + e.getMessage()
                                + "); do not use the data read from it; restore from another backup",
                        e));
            }
            if (n < 0) {
                verify();
                return -1;
            }
            return n;
        }

        private void verify() throws IOException {
            boolean ok;
            try {
                ok = ed.verify();
            } catch (EOFException e) {
                throw fail(new IntegrityException(TRUNCATED, e));
            } catch (IOException | PGPException | RuntimeException e) {
                if (storeFailure(e) != null) {
                    throw storeFailure(e);
                }
                throw fail(new IntegrityException(
                        "the encrypted backup's integrity check (MDC) cannot be read (" + e.getMessage()
                                + "); the file is damaged or truncated; do not use the data read from it",
                        e));
            }
            if (!ok) {
                throw fail(new IntegrityException("the encrypted backup failed its integrity check (MDC): it was "
                        + "modified or damaged after it was written; do not use the data read from it; restore from "
                        + "another backup"));
            }
            verified = true;
        }

        private BackupException fail(BackupException e) {
            failure = e;
            return e;
        }

        @Override
        public int available() throws IOException {
            return closed || verified || failure != null ? 0 : literal.available();
        }

        /** Closes the underlying stream; never checks or throws for an unread rest. */
        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            raw.close();
        }
    }
}
