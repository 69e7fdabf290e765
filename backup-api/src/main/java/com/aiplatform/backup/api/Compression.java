package com.aiplatform.backup.api;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** Codec applied to every artifact before encryption. {@link #ZSTD} (level 1) is the default. */
public enum Compression {
    ZSTD, LZ4, GZIP, NONE;

    /** Name used in configuration files and manifests: {@code zstd}, {@code lz4}, {@code gzip}, {@code none}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a configuration value; the error names the allowed values. */
    public static Compression fromId(String id) {
        for (Compression c : values()) {
            if (c.id().equalsIgnoreCase(id == null ? "" : id.trim())) {
                return c;
            }
        }
        throw new IllegalArgumentException("compression '" + id + "' is not one of "
                + Arrays.stream(values()).map(Compression::id).collect(Collectors.joining(", ")));
    }
}
