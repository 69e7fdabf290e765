package com.aiplatform.backup.postgres;

import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.RestoreOptions;

import java.io.IOException;

/** Logical restore with pg_restore. */
final class LogicalRestore {
    private LogicalRestore() {
    }

    static void run(PostgresConfig config, ArtifactSource source, RestoreOptions options) throws IOException {
        throw new UnsupportedOperationException("logical restore is not implemented yet");
    }
}
