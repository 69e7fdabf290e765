package com.aiplatform.backup.postgres;

import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.RestoreOptions;

import java.io.IOException;

/** Materialises a data directory from a physical base backup. */
final class PhysicalRestore {
    private PhysicalRestore() {
    }

    static void run(PostgresConfig config, ArtifactSource source, RestoreOptions options) throws IOException {
        throw new UnsupportedOperationException("physical restore is not implemented yet");
    }
}
