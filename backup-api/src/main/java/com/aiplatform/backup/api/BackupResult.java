package com.aiplatform.backup.api;

import java.util.Map;
import java.util.Objects;

/**
 * What a provider's backup session achieved, returned after it wrote its last artifact.
 *
 * @param kind            full or incremental
 * @param method          provider-specific method name ({@code tar}, {@code physical}, ...)
 * @param consistentPoint the point the backup restores to
 * @param parent          parent backup for an incremental, else null
 * @param metadata        engine metadata to keep in the manifest (no secrets)
 * @param contentSummary  counts for restore drills (rows per table, files, records per partition)
 */
public record BackupResult(BackupKind kind, String method, ConsistentPoint consistentPoint,
                           BackupId parent, Map<String, String> metadata,
                           Map<String, Long> contentSummary) {
    public BackupResult {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(consistentPoint, "consistentPoint");
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        contentSummary = contentSummary == null ? Map.of() : Map.copyOf(contentSummary);
        if (kind == BackupKind.INCREMENTAL && parent == null) {
            throw new IllegalArgumentException("an incremental backup must name its parent");
        }
    }
}
