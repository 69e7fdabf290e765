package com.aiplatform.backup.spi;

import java.time.Instant;
import java.util.Objects;

/**
 * A complete stored object.
 *
 * @param key          its key
 * @param size         bytes
 * @param lastModified when it was written
 */
public record StorageObject(String key, long size, Instant lastModified) {
    public StorageObject {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(lastModified, "lastModified");
    }
}
