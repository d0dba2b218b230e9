package com.jiffoo.backup.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * S3 ETags, for proving that an object a store holds is the one a writer sent (after a lost answer). Not public API.
 */
public final class ETags {
    private ETags() {}

    /** The ETag S3 gives a multipart upload: the hex MD5 of the parts' binary MD5s, {@code -} the part count. */
    public static String multipart(List<String> partETags) {
        MessageDigest md5 = md5();
        for (String e : partETags) {
            md5.update(HexFormat.of().parseHex(unquote(e)));
        }
        return HexFormat.of().formatHex(md5.digest()) + "-" + partETags.size();
    }

    /** True when two ETags are equal, ignoring quotes and case. */
    public static boolean same(String a, String b) {
        return a != null && b != null && unquote(a).equalsIgnoreCase(unquote(b));
    }

    /** A new MD5 digest (an ETag of a single, unencrypted-at-rest PUT is the MD5 of the content). */
    public static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is required by every Java platform", e);
        }
    }

    private static String unquote(String etag) {
        return etag.replace("\"", "");
    }
}
