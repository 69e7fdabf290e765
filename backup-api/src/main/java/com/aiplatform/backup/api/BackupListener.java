package com.aiplatform.backup.api;

/** Receives {@link BackupEvent}s: progress, completion, failures. Must not block. */
@FunctionalInterface
public interface BackupListener {
    /** A listener that ignores everything. */
    BackupListener NONE = event -> { };

    void onEvent(BackupEvent event);
}
