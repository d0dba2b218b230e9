package com.jiffoo.backup.internal;

import com.jiffoo.backup.ConfigurationException;

/** Checks of object keys shared by every sink. Not public API. */
public final class Keys {
    private Keys() {
    }

    /**
     * Checks that {@code key} is a relative {@code /}-separated path with no empty, {@code .} or {@code ..} segment
     * and no control characters.
     *
     * @return the key
     * @throws ConfigurationException naming the key and what is wrong
     */
    public static String check(String key) {
        if (key == null || key.isEmpty()) {
            throw new ConfigurationException("An object key must not be empty.");
        }
        if (key.startsWith("/") || key.endsWith("/")) {
            throw new ConfigurationException("The object key '" + key
                    + "' must be relative (no leading or trailing '/'), e.g. files/files_backup_20260111_030000.tar.gz.gpg");
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new ConfigurationException("The object key '" + key
                        + "' has an empty, '.' or '..' segment; keys are plain relative paths.");
            }
        }
        for (int i = 0; i < key.length(); i++) {
            if (Character.isISOControl(key.charAt(i))) {
                throw new ConfigurationException("The object key '" + key.replaceAll("\\p{Cntrl}", "?")
                        + "' contains a control character.");
            }
        }
        return key;
    }
}
