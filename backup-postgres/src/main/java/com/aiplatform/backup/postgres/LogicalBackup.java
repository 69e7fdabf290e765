package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.spi.ArtifactSink;

import java.io.IOException;

/** Logical backup: pg_dump -Fc and pg_dumpall --globals-only streamed from the tools' stdout. */
final class LogicalBackup {
    private LogicalBackup() {
    }

    static BackupResult run(PostgresConfig config, ArtifactSink sink) throws IOException {
        throw new UnsupportedOperationException("logical backup is not implemented yet");
    }
}
