package com.aiplatform.backup.api;

import java.time.Duration;

/**
 * What the engine reports while it works. Listeners receive these on the engine's threads
 * and must return quickly.
 */
public sealed interface BackupEvent {
    /** The source concerned. */
    String source();

    /** A backup or restore started. */
    record Started(String source, BackupId backupId, String operation) implements BackupEvent { }

    /** Bytes moved so far in the running operation (raw bytes, before compression). */
    record Progress(String source, BackupId backupId, String artifact, long bytes, Duration elapsed)
            implements BackupEvent { }

    /** One artifact was stored (backup) or consumed (restore/verify). */
    record ArtifactDone(String source, BackupId backupId, ArtifactEntry artifact) implements BackupEvent { }

    /** The operation finished successfully. */
    record Completed(String source, BackupId backupId, String operation, Duration elapsed, long bytes)
            implements BackupEvent { }

    /** A continuous archiver stored a segment (complete or a partial flush). */
    record SegmentStored(String source, SegmentEntry segment) implements BackupEvent { }

    /** A continuous archiver noticed a problem (a gap, a timeline switch) and goes on. */
    record ArchiverWarning(String source, String message) implements BackupEvent { }

    /** A source's achieved or worst-case RPO exceeds its target. */
    record RpoBreach(String source, RpoReport report) implements BackupEvent { }

    /**
     * {@code latest} passed over a newer backup that cannot be counted on (known-bad, damaged,
     * broken chain) and chose an older one for {@code operation} ({@code restore}, {@code drill}).
     */
    record Skipped(String source, BackupId backupId, String operation, BackupCondition condition, String reason)
            implements BackupEvent { }

    /** The operation failed; no manifest was written for a failed backup. */
    record Failed(String source, BackupId backupId, String operation, String reason) implements BackupEvent { }
}
