package com.aiplatform.backup.api;

import java.time.Instant;
import java.util.Objects;

/**
 * One stored segment of a continuous archive (a PostgreSQL WAL segment, a slice of an oplog).
 * Stored under {@code <source>/wal/}; its JSON record is written after its data, so a segment
 * exists only once complete.
 *
 * @param name          provider-given segment name ({@code 000000010000000000000003})
 * @param partial       true for the partial flush of a segment still being filled; superseded
 *                      by the complete segment or a newer partial flush
 * @param startPosition engine position of the first byte ({@code 0/3000000})
 * @param endPosition   engine position just after the last byte
 * @param coveredUntil  wall-clock time up to which the source's changes are in this segment:
 *                      the recoverable point it gives
 * @param storedAt      when it was stored
 * @param rawSize       bytes before compression and encryption
 * @param storedSize    bytes of the stored object
 * @param storedSha256  SHA-256 of the stored object
 * @param compression   codec id
 * @param cipher        cipher id or {@code none}
 * @param keyId         key id, or null when not encrypted
 * @param storageKey    key of the stored data object
 */
public record SegmentEntry(String name, boolean partial, String startPosition, String endPosition,
                           Instant coveredUntil, Instant storedAt, long rawSize, long storedSize,
                           String storedSha256, String compression, String cipher, String keyId,
                           String storageKey) {
    public SegmentEntry {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(coveredUntil, "coveredUntil");
        Objects.requireNonNull(storedSha256, "storedSha256");
        Objects.requireNonNull(storageKey, "storageKey");
    }

    /** The same segment described as an artifact, for the shared verification code. */
    public ArtifactEntry asArtifact() {
        return new ArtifactEntry(name, rawSize, storedSize, storedSha256, compression, cipher, keyId);
    }
}
