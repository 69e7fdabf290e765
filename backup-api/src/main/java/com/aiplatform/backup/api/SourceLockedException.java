package com.aiplatform.backup.api;

/**
 * Another backup or prune of the same source holds its lock. Retriable: wait and run again;
 * a lock left by a killed process can be removed with the engine's {@code breakLock}.
 */
public class SourceLockedException extends StorageException {
    private static final long serialVersionUID = 1L;

    public SourceLockedException(String message) {
        super(message, true);
    }
}
