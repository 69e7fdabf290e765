package com.aiplatform.backup.benchmarks;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageTarget;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A backup source serving an in-memory {@link Input} as one artifact, and a storage target that discards. */
final class InputSource implements BackupProvider<InputSource.Config> {
    record Config(String name, Input input) implements SourceConfig { }

    @Override
    public String engine() {
        return "benchmark-input";
    }

    @Override
    public Class<Config> configType() {
        return Config.class;
    }

    @Override
    public Config parseConfig(String name, Settings settings) {
        throw new UnsupportedOperationException("benchmark source");
    }

    @Override
    public List<Problem> check(Config config) {
        return List.of();
    }

    @Override
    public BackupSession openBackup(Config config, BackupContext context) {
        return new BackupSession() {
            @Override
            public BackupResult run(ArtifactSink sink) throws IOException {
                try (OutputStream out = sink.openArtifact("data")) {
                    config.input().writeTo(out);
                }
                return new BackupResult(BackupKind.FULL, "benchmark", new ConsistentPoint("end", Instant.now()),
                        null, Map.of(), Map.of());
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public RestoreSession openRestore(Config config, RestoreOptions options) {
        throw new UnsupportedOperationException("benchmark source");
    }

    /** Accepts and drops every object: the engine's pipeline without any storage cost. */
    static final class NullStorage implements StorageTarget {
        @Override
        public String name() {
            return "null";
        }

        @Override
        public ObjectUpload create(String key) {
            return new ObjectUpload() {
                @Override
                public void write(int b) {
                }

                @Override
                public void write(byte[] b, int off, int len) {
                }

                @Override
                public void commit() {
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public boolean createIfAbsent(String key, byte[] content) {
            return true;
        }

        @Override
        public InputStream open(String key) throws IOException {
            throw new IOException("null storage keeps nothing");
        }

        @Override
        public InputStream open(String key, long offset) throws IOException {
            throw new IOException("null storage keeps nothing");
        }

        @Override
        public Optional<StorageObject> stat(String key) {
            return Optional.empty();
        }

        @Override
        public List<StorageObject> list(String prefix) {
            return List.of();
        }

        @Override
        public boolean delete(String key) {
            return false;
        }

        @Override
        public List<Problem> check() {
            return List.of();
        }

        @Override
        public void close() {
        }
    }

}
