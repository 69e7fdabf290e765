package com.aiplatform.backup.api;

/** Whether a backup stands alone or needs its parent chain to restore. */
public enum BackupKind {
    /** Restorable on its own. */
    FULL,
    /** Holds only what changed since its parent; restore replays the chain. */
    INCREMENTAL
}
