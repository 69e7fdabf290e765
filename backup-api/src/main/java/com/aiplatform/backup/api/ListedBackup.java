package com.aiplatform.backup.api;

import java.time.Instant;
import java.util.Objects;

/**
 * A committed backup as the catalog sees it: its manifest when readable, its condition, and
 * its latest recorded check.
 *
 * @param source    source name
 * @param backupId  backup id
 * @param manifest  the manifest; null when {@link BackupCondition#DAMAGED}
 * @param condition whether the backup can be counted on
 * @param reason    why it cannot (the failed check, the broken link, the manifest error); null when OK
 * @param lastCheck the newest recorded verify or drill; null when it was never checked
 */
public record ListedBackup(String source, BackupId backupId, Manifest manifest, BackupCondition condition,
                           String reason, Check lastCheck) {
    public ListedBackup {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(backupId, "backupId");
        Objects.requireNonNull(condition, "condition");
        if (manifest == null && condition != BackupCondition.DAMAGED) {
            throw new IllegalArgumentException("only a damaged backup has no manifest");
        }
    }

    /** Whether it counts as a recoverable point: condition {@link BackupCondition#OK}. */
    public boolean recoverable() {
        return condition == BackupCondition.OK;
    }

    /** Whether its newest recorded check passed. */
    public boolean verified() {
        return lastCheck != null && lastCheck.passed();
    }

    /** The time it restores to: the consistent point, or the start time in the id when the manifest is damaged. */
    public Instant time() {
        return manifest != null ? manifest.consistentPoint().time() : backupId.startTime();
    }

    /**
     * A recorded verification or restore drill.
     *
     * @param kind   {@code verify} or {@code drill}
     * @param passed whether it passed
     * @param time   when it ran
     * @param reason what failed; null when it passed or was not recorded
     */
    public record Check(String kind, boolean passed, Instant time, String reason) { }
}
