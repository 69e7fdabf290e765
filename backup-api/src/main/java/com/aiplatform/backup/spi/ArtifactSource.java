package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.SegmentEntry;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/** Where a restore session reads a backup's artifacts: decrypted, decompressed and verified. */
public interface ArtifactSource {
    /** The manifest of the backup being restored. */
    Manifest manifest();

    /** Opens an artifact by the name it was written with. The caller closes it. */
    InputStream open(String name) throws IOException;

    /**
     * Segments of the source's continuous archive (complete ones and the newest partial flush
     * per name), oldest first; empty for sources without one.
     */
    default List<SegmentEntry> segments() throws IOException {
        return List.of();
    }

    /**
     * Opens a segment decrypted and decompressed. Its size and SHA-256 are checked when the
     * stream reaches its end, and ciphertext is authenticated as it is read.
     */
    default InputStream openSegment(SegmentEntry segment) throws IOException {
        throw new UnsupportedOperationException("this source has no continuous archive");
    }
}
