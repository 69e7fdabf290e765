package com.aiplatform.backup.api;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Result of a restore drill: a backup restored into a scratch target, timed, and its content
 * compared with the summary recorded at backup time (rows, files, records).
 *
 * @param source       source name
 * @param backupId     backup drilled
 * @param startedAt    when the drill started
 * @param duration     restore time, verification included (the measured RTO of this backup)
 * @param rawBytes     bytes restored (before compression)
 * @param bytesPerSecond restore throughput, the basis of RTO estimates
 * @param compared     whether the provider could summarise the restored copy
 * @param passed       restore succeeded and, when compared, every count matched
 * @param differences  one line per mismatch or failure; empty when passed
 */
public record DrillReport(String source, BackupId backupId, Instant startedAt, Duration duration, long rawBytes,
                          long bytesPerSecond, boolean compared, boolean passed, List<String> differences) {
    public DrillReport {
        differences = List.copyOf(differences);
    }
}
