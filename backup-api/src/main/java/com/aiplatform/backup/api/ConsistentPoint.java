package com.aiplatform.backup.api;

import java.time.Instant;
import java.util.Objects;

/**
 * The point in the source's history that a backup restores to: an engine-specific position
 * (a PostgreSQL LSN, Kafka offsets, a tar of a directory taken at a time) plus wall-clock time.
 *
 * @param position engine-specific position, human-readable (e.g. {@code 0/3000060}); never null
 * @param time     wall-clock time of that position
 */
public record ConsistentPoint(String position, Instant time) {
    public ConsistentPoint {
        Objects.requireNonNull(position, "position");
        Objects.requireNonNull(time, "time");
    }
}
