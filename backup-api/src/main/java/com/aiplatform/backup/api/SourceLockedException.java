package com.aiplatform.backup.api;

/**
 * Another backup or prune of the same source holds its lock. Retriable: wait and run again;
 * a lock whose process is gone is taken over at once on its host and by anyone once its lease
 * expires; {@code BackupEngine.unlock} (or {@code backupctl unlock}) removes a stale one.
 */
public class SourceLockedException extends StorageException {
    private static final long serialVersionUID = 1L;

    public SourceLockedException(String message) {
        super(message, true);
    }
}
