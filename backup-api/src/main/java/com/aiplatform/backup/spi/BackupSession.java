package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.BackupResult;

import java.io.IOException;

/**
 * One backup in progress. It streams its artifacts into the sink and returns what it
 * achieved; it never sees compression, encryption or storage. Safe to close twice.
 */
public interface BackupSession extends AutoCloseable {
    /**
     * Writes every artifact into {@code sink}. An exception means the backup failed and
     * the engine writes no manifest.
     */
    BackupResult run(ArtifactSink sink) throws IOException;

    @Override
    void close() throws IOException;
}
