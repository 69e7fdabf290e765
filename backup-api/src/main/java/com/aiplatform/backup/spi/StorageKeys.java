package com.aiplatform.backup.spi;

/** Validation of object keys shared by every storage target. */
public final class StorageKeys {
    private StorageKeys() {
    }

    /**
     * Returns the key if it is a safe relative key: non-empty, {@code /}-separated, no empty,
     * {@code .} or {@code ..} segment, no backslash or NUL.
     *
     * @throws IllegalArgumentException naming the key otherwise
     */
    public static String requireValid(String key) {
        if (key == null || key.isEmpty()) {
            throw new IllegalArgumentException("storage key must not be empty");
        }
        if (key.indexOf('\\') >= 0 || key.indexOf('\0') >= 0 || key.startsWith("/") || key.endsWith("/")) {
            throw new IllegalArgumentException("storage key '" + key + "' is not a relative /-separated key");
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("storage key '" + key + "' has an empty, '.' or '..' segment");
            }
        }
        return key;
    }
}
