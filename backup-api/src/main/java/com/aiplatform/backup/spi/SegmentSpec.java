package com.aiplatform.backup.spi;

import java.time.Instant;
import java.util.Objects;

/**
 * What an archiver says about a segment it is about to store.
 *
 * @param name          segment name, unique per source, sortable ({@code 000000010000000000000003})
 * @param partial       true when the segment is not yet complete (an RPO flush)
 * @param startPosition engine position of the first byte
 * @param endPosition   engine position just after the last byte
 * @param coveredUntil  wall-clock time up to which the source's changes are included
 */
public record SegmentSpec(String name, boolean partial, String startPosition, String endPosition,
                          Instant coveredUntil) {
    public SegmentSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(startPosition, "startPosition");
        Objects.requireNonNull(endPosition, "endPosition");
        Objects.requireNonNull(coveredUntil, "coveredUntil");
        StorageKeys.requireValid(name);
        if (name.contains("/") || name.endsWith(".json") || name.contains(".partial")) {
            throw new IllegalArgumentException("segment name '" + name
                    + "' must be one path segment and must not end in .json or contain .partial");
        }
    }
}
