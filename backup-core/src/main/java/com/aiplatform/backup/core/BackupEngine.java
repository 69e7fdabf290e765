package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupListener;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Debris;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.RestoreReport;
import com.aiplatform.backup.api.VerifyReport;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.spi.StorageTarget;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * The backup engine: the one class callers embed. Backs a source up through the streaming
 * pipeline (compress, encrypt, hash, store) and commits the manifest last; lists, describes,
 * verifies, restores and deletes backups. Thread-safe; close it to stop its threads.
 *
 * <pre>{@code
 * try (BackupEngine engine = BackupEngine.builder()
 *         .storage(new FileSystemStorageTarget("local", Path.of("/var/backups/platform")))
 *         .build()) {
 *     Manifest m = engine.backup(new DirectoryConfig("kafka-config", Path.of("/etc/kafka")));
 *     engine.restore(new DirectoryConfig("kafka-config", Path.of("/etc/kafka")), "latest",
 *             RestoreOptions.intoDirectory(Path.of("/tmp/kafka-restored")));
 * }
 * }</pre>
 */
public final class BackupEngine implements AutoCloseable {
    public static Builder builder() {
        return new Builder();
    }

    /** Builder of a {@link BackupEngine}; only {@link #storage} is required. */
    public static final class Builder {
        Builder() {
        }

        /** The storage target backups are written to and read from (required). */
        public Builder storage(StorageTarget storage) {
            throw new UnsupportedOperationException();
        }

        /** Codec for new backups; default {@link Compression#ZSTD} at level 1. */
        public Builder compression(Compression compression) {
            throw new UnsupportedOperationException();
        }

        /** Encrypts new backups and decrypts existing ones with this key; default none. */
        public Builder encryption(KeyProvider keys) {
            throw new UnsupportedOperationException();
        }

        /** Receives progress and completion events; default none. */
        public Builder listener(BackupListener listener) {
            throw new UnsupportedOperationException();
        }

        /** Registers a provider explicitly (those on the class path are found by ServiceLoader too). */
        public Builder provider(BackupProvider<?> provider) {
            throw new UnsupportedOperationException();
        }

        public BackupEngine build() {
            throw new UnsupportedOperationException();
        }
    }

    /** Backs up a source and returns the committed manifest. */
    public Manifest backup(SourceConfig source) throws IOException {
        throw new UnsupportedOperationException();
    }

    /** Backs up a source, incrementally on its newest backup when {@code incremental} and the provider supports it. */
    public Manifest backup(SourceConfig source, boolean incremental) throws IOException {
        throw new UnsupportedOperationException();
    }

    /** Every problem the provider and storage see before a backup, all at once. */
    public List<Problem> check(SourceConfig source) {
        throw new UnsupportedOperationException();
    }

    /** Names of the sources that have at least one object on storage. */
    public List<String> sources() throws IOException {
        throw new UnsupportedOperationException();
    }

    /** Committed backups of a source, oldest first (manifests only; uncommitted debris never appears). */
    public List<Manifest> list(String source) throws IOException {
        throw new UnsupportedOperationException();
    }

    /** The manifest of a backup given by id or {@code latest}. */
    public Manifest describe(String source, String idOrLatest) throws IOException {
        throw new UnsupportedOperationException();
    }

    /** Checks every stored artifact's size and SHA-256 (and authentication tag when encrypted). */
    public VerifyReport verify(String source, String idOrLatest) throws IOException {
        throw new UnsupportedOperationException();
    }

    /**
     * Restores a backup given by id or {@code latest}. Every artifact is verified before the
     * first byte reaches the provider; a mismatch throws {@link com.aiplatform.backup.api.IntegrityException}.
     */
    public RestoreReport restore(SourceConfig source, String idOrLatest, RestoreOptions options) throws IOException {
        throw new UnsupportedOperationException();
    }

    /** Deletes a backup: the manifest first, then its artifacts, so an interruption leaves only debris. */
    public void delete(String source, BackupId backupId) throws IOException {
        throw new UnsupportedOperationException();
    }

    /** Leftovers of backups that never committed. */
    public List<Debris> debris(String source) throws IOException {
        throw new UnsupportedOperationException();
    }

    /** Finds the provider registered for a configuration type or engine name. */
    public Optional<BackupProvider<?>> provider(String engine) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
    }
}
