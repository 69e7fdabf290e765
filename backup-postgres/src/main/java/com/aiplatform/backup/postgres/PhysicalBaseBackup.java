package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;

import java.io.IOException;

/** Physical base backup over the streaming replication protocol. */
final class PhysicalBaseBackup {
    private PhysicalBaseBackup() {
    }

    static BackupResult run(PostgresConfig config, BackupContext context, ArtifactSink sink) throws IOException {
        throw new UnsupportedOperationException("physical base backup is not implemented yet");
    }
}
