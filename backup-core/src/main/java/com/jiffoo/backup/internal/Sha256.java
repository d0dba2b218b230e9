package com.jiffoo.backup.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 helpers. Not public API. */
public final class Sha256 {
    private Sha256() {}

    /** A new SHA-256 digest. */
    public static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }

    /** Lower-case hex of a digest. */
    public static String hex(byte[] digest) {
        return HexFormat.of().formatHex(digest);
    }

    /** The sidecar line of {@code sha256sum}: {@code "<hex>  <file name>\n"}. */
    public static String sidecarLine(String hex, String objectKey) {
        String name = objectKey.substring(objectKey.lastIndexOf('/') + 1);
        return hex + "  " + name + "\n";
    }

    /**
     * Parses a {@code sha256sum} line and returns its hex digest, or null when the text is not of that format for
     * the given file name.
     */
    public static String parseSidecar(String text, String objectKey) {
        String name = objectKey.substring(objectKey.lastIndexOf('/') + 1);
        String line = text.strip();
        if (line.length() < 66 || !line.substring(0, 64).matches("[0-9a-fA-F]{64}")) {
            return null;
        }
        String rest = line.substring(64);
        if (!(rest.equals("  " + name) || rest.equals(" *" + name))) {
            return null;
        }
        return line.substring(0, 64).toLowerCase(java.util.Locale.ROOT);
    }
}
