package com.jiffoo.backup.bench;

import com.jiffoo.backup.crypto.OpenPgpTransform;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.bouncycastle.bcpg.HashAlgorithmTags;
import org.bouncycastle.bcpg.SymmetricKeyAlgorithmTags;
import org.bouncycastle.openpgp.PGPEncryptedDataGenerator;
import org.bouncycastle.openpgp.PGPEncryptedDataList;
import org.bouncycastle.openpgp.PGPException;
import org.bouncycastle.openpgp.PGPLiteralData;
import org.bouncycastle.openpgp.PGPLiteralDataGenerator;
import org.bouncycastle.openpgp.PGPPBEEncryptedData;
import org.bouncycastle.openpgp.jcajce.JcaPGPObjectFactory;
import org.bouncycastle.openpgp.operator.jcajce.JcaPGPDigestCalculatorProviderBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEDataDecryptorFactoryBuilder;
import org.bouncycastle.openpgp.operator.jcajce.JcePBEKeyEncryptionMethodGenerator;
import org.bouncycastle.openpgp.operator.jcajce.JcePGPDataEncryptorBuilder;

/**
 * The baseline the OpenPGP figures are compared with: the same message as {@link OpenPgpTransform} writes
 * (AES-256, SEIPD v1 with MDC, S2K count byte 0xFF, no compression, 64 KiB partial packets), with the bulk data
 * through Bouncy Castle's own JCE operators ({@code JcePGPDataEncryptorBuilder}, {@code AES/CFB/NoPadding} on
 * SunJCE), which is how {@code OpenPgpTransform} encrypted and decrypted before its own AES-CFB streams.
 */
public final class BcJceBaseline {
    private static final int BUFFER = 1 << 16;

    private BcJceBaseline() {}

    /** Wraps {@code out}; closing the result finishes the message and closes {@code out}. */
    public static OutputStream encrypt(OutputStream out, char[] passphrase) throws IOException {
        return encrypt(out, passphrase, OpenPgpTransform.S2K_COUNT_BYTE);
    }

    /** Like {@link #encrypt(OutputStream, char[])} with another S2K count byte (a low one opens fast). */
    public static OutputStream encrypt(OutputStream out, char[] passphrase, int s2kCountByte) throws IOException {
        try {
            PGPEncryptedDataGenerator gen = new PGPEncryptedDataGenerator(
                    new JcePGPDataEncryptorBuilder(SymmetricKeyAlgorithmTags.AES_256).setWithIntegrityPacket(true));
            gen.addMethod(new JcePBEKeyEncryptionMethodGenerator(
                    passphrase,
                    new JcaPGPDigestCalculatorProviderBuilder().build().get(HashAlgorithmTags.SHA256),
                    s2kCountByte));
            OutputStream encrypted = gen.open(out, new byte[BUFFER]);
            PGPLiteralDataGenerator lit = new PGPLiteralDataGenerator();
            OutputStream literal = lit.open(encrypted, PGPLiteralData.BINARY, "", PGPLiteralData.NOW, new byte[BUFFER]);
            return new FilterOutputStream(literal) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    literal.write(b, off, len);
                }

                @Override
                public void close() throws IOException {
                    lit.close();
                    gen.close();
                    out.close();
                }
            };
        } catch (PGPException e) {
            throw new IOException(e);
        }
    }

    /** The plaintext of a passphrase-encrypted message; the MDC is hashed as it is read but not compared at the end. */
    public static InputStream decrypt(InputStream in, char[] passphrase) throws IOException {
        try {
            JcaPGPObjectFactory f = new JcaPGPObjectFactory(in);
            PGPEncryptedDataList list = (PGPEncryptedDataList) f.nextObject();
            PGPPBEEncryptedData pbe = (PGPPBEEncryptedData) list.get(0);
            InputStream clear = pbe.getDataStream(
                    new JcePBEDataDecryptorFactoryBuilder(new JcaPGPDigestCalculatorProviderBuilder().build())
                            .build(passphrase));
            return ((PGPLiteralData) new JcaPGPObjectFactory(clear).nextObject()).getInputStream();
        } catch (PGPException e) {
            throw new IOException(e);
        }
    }
}
