package com.aiplatform.backup.api;

import java.time.Instant;
import java.util.List;

/**
 * Objects left by a backup that never committed its manifest (failed, killed, interrupted).
 * Invisible to list and restore; removed by prune after a grace period.
 *
 * @param source   source name
 * @param backupId id of the uncommitted backup
 * @param keys     storage keys of the leftover objects
 * @param newest   time of the newest leftover object
 */
public record Debris(String source, BackupId backupId, List<String> keys, Instant newest) {
    public Debris {
        keys = List.copyOf(keys);
    }
}
