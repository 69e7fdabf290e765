package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.SourceConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test provider whose "database" is generated content: backup writes the artifacts its
 * config describes; restore hashes what it receives so tests can compare byte for byte.
 */
final class GeneratedProvider implements BackupProvider<GeneratedProvider.Config> {
    /** One artifact to generate. */
    record Artifact(String name, long size, long seed, boolean random) { }

    /**
     * @param failAfterBytes throw from the source after writing this many bytes of the last artifact; -1 never
     */
    record Config(String name, List<Artifact> artifacts, long failAfterBytes) implements SourceConfig {
        Config(String name, List<Artifact> artifacts) {
            this(name, artifacts, -1);
        }
    }

    /** SHA-256 of each artifact as received by the last restore. */
    final Map<String, String> restored = new ConcurrentHashMap<>();
    /** Bytes handed to restore sessions in total. */
    final AtomicLong restoredBytes = new AtomicLong();

    @Override
    public String engine() {
        return "generated";
    }

    @Override
    public Class<Config> configType() {
        return Config.class;
    }

    @Override
    public Config parseConfig(String name, Settings settings) {
        throw new UnsupportedOperationException("test provider");
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
                Map<String, String> digests = new java.util.TreeMap<>();
                for (int i = 0; i < config.artifacts().size(); i++) {
                    Artifact a = config.artifacts().get(i);
                    boolean last = i == config.artifacts().size() - 1;
                    MessageDigest digest = Sha256.newDigest();
                    try (OutputStream out = new java.security.DigestOutputStream(sink.openArtifact(a.name()), digest)) {
                        if (last && config.failAfterBytes() >= 0) {
                            TestData.write(a.seed(), config.failAfterBytes(), a.random(), out);
                            throw new SourceException("source failed on purpose after "
                                    + config.failAfterBytes() + " bytes", false);
                        }
                        TestData.write(a.seed(), a.size(), a.random(), out);
                    }
                    digests.put("sha256:" + a.name(), HexFormat.of().formatHex(digest.digest()));
                }
                return new BackupResult(BackupKind.FULL, "generated", new ConsistentPoint("n/a", Instant.now()),
                        null, withGenerator(digests), Map.of("artifacts", (long) config.artifacts().size()));
            }

            @Override
            public void close() {
            }
        };
    }

    private static Map<String, String> withGenerator(Map<String, String> digests) {
        digests.put("generator", "TestData");
        return digests;
    }

    @Override
    public RestoreSession openRestore(Config config, RestoreOptions options) {
        restored.clear();
        return new RestoreSession() {
            @Override
            public void restore(ArtifactSource source) throws IOException {
                for (var entry : source.manifest().artifacts()) {
                    MessageDigest digest = Sha256.newDigest();
                    try (InputStream in = source.open(entry.name())) {
                        byte[] buffer = new byte[1 << 16];
                        int n;
                        while ((n = in.read(buffer)) > 0) {
                            digest.update(buffer, 0, n);
                            restoredBytes.addAndGet(n);
                        }
                    }
                    restored.put(entry.name(), HexFormat.of().formatHex(digest.digest()));
                }
            }

            @Override
            public void close() {
            }
        };
    }
}
