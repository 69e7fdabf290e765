package com.aiplatform.backup.spi;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Where a backup session writes its artifacts. Each artifact is a stream; closing the
 * stream normally finishes that artifact (it is then compressed, encrypted, hashed and
 * stored). Several artifacts may be open at once from different threads.
 */
public interface ArtifactSink {
    /**
     * Opens a new artifact.
     *
     * @param name relative name using {@code /} separators, no {@code ..}, unique in the backup
     */
    OutputStream openArtifact(String name) throws IOException;
}
