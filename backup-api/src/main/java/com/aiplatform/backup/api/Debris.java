package com.aiplatform.backup.api;

import java.time.Instant;
import java.util.List;

/**
 * Objects left by a backup that never committed its manifest (failed, killed, interrupted),
 * and uploads that were never finished (the hidden partial files of a killed process).
 * Invisible to list and restore; removed by prune after a grace period.
 *
 * @param source   source name
 * @param backupId id of the uncommitted backup; null for partial uploads outside a backup
 *                 (archive segments, locks)
 * @param keys     storage keys of the leftover complete objects
 * @param newest   time of the newest leftover object or partial upload
 * @param partials uploads started and never committed or aborted
 * @param bytes    bytes the leftovers take on storage (objects and partial uploads)
 */
public record Debris(String source, BackupId backupId, List<String> keys, Instant newest,
                     List<PartialUpload> partials, long bytes) {
    public Debris {
        keys = List.copyOf(keys);
        partials = partials == null ? List.of() : List.copyOf(partials);
    }

    /** Leftover complete objects only, size unknown. */
    public Debris(String source, BackupId backupId, List<String> keys, Instant newest) {
        this(source, backupId, keys, newest, List.of(), 0);
    }

    /**
     * An upload that was never finished.
     *
     * @param key          the key it would have created
     * @param uploadId     the storage target's id of the upload (file name, multipart upload id)
     * @param size         bytes written
     * @param lastModified when it was last written to
     */
    public record PartialUpload(String key, String uploadId, long size, Instant lastModified) {
    }
}
