package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.Manifest;

import java.io.IOException;
import java.io.InputStream;

/** Where a restore session reads a backup's artifacts: decrypted, decompressed and verified. */
public interface ArtifactSource {
    /** The manifest of the backup being restored. */
    Manifest manifest();

    /** Opens an artifact by the name it was written with. The caller closes it. */
    InputStream open(String name) throws IOException;
}
