package com.aiplatform.backup.api;

import java.time.Duration;
import java.util.List;

/**
 * Result of a restore.
 *
 * @param source      source name
 * @param backupId    backup restored (the one asked for: the last link of its chain)
 * @param storedBytes bytes read from storage
 * @param rawBytes    bytes handed to the provider after decryption and decompression
 * @param duration    wall-clock time, verification included
 * @param chain       the backups applied, in order: the full backup, then each incremental up to
 *                    {@code backupId}; just {@code backupId} for a full backup
 */
public record RestoreReport(String source, BackupId backupId, long storedBytes, long rawBytes, Duration duration,
                            List<BackupId> chain) {
    public RestoreReport {
        chain = chain == null || chain.isEmpty() ? List.of(backupId) : List.copyOf(chain);
    }

    /** The report of a restore of one full backup. */
    public RestoreReport(String source, BackupId backupId, long storedBytes, long rawBytes, Duration duration) {
        this(source, backupId, storedBytes, rawBytes, duration, List.of(backupId));
    }
}
