package com.aiplatform.backup.spi;

import java.io.IOException;

/** One restore in progress: reads artifacts from the source and applies them. Safe to close twice. */
public interface RestoreSession extends AutoCloseable {
    /**
     * Applies the backup. The artifacts it reads have been verified (hash, authentication)
     * before the first byte is handed over; a failure must leave the target as it was or
     * clearly marked as incomplete, never silently half-applied.
     */
    void restore(ArtifactSource source) throws IOException;

    @Override
    void close() throws IOException;
}
