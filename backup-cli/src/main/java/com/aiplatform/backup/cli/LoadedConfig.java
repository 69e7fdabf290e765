package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.core.KeyProvider;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.spi.StorageTarget;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A configuration file after validation: storage targets opened, sources parsed by their
 * providers, the encryption key loaded. Closing it closes the storage targets.
 *
 * @param storage       storage targets by name, in the order configured (the first is the default)
 * @param compression   codec for new backups
 * @param sourceCompression codec of the sources that set their own ({@code compression} in the source block)
 * @param encryption    the key provider, or empty when backups are not encrypted
 * @param sources       validated source configurations by name, in the order configured
 * @param sourceEngines the engine ({@code type}) of each source, by name
 * @param retention     the retention settings of each source (its own block, or the top-level one)
 * @param rpoTargets    RPO targets configured per source ({@code rpo-target}); absent: the engine's default
 * @param tiers         storage targets other than the primary that hold backups by rule ({@code holds}),
 *                      with their rules (empty: every kept backup)
 * @param lockLease     lease of the source locks ({@code lock-lease}); null: the engine's default
 */
record LoadedConfig(Map<String, StorageTarget> storage, Compression compression,
                    Map<String, Compression> sourceCompression, Optional<KeyProvider> encryption,
                    Map<String, SourceConfig> sources, Map<String, String> sourceEngines, Map<String, RetentionSettings> retention,
                    Map<String, java.time.Duration> rpoTargets, Map<String, java.util.Set<String>> tiers,
                    java.time.Duration lockLease)
        implements AutoCloseable {
    LoadedConfig {
        Objects.requireNonNull(compression, "compression");
        sourceCompression = Collections.unmodifiableMap(new LinkedHashMap<>(
                sourceCompression == null ? Map.of() : sourceCompression));
        storage = Collections.unmodifiableMap(new LinkedHashMap<>(storage));
        encryption = encryption == null ? Optional.empty() : encryption;
        sources = Collections.unmodifiableMap(new LinkedHashMap<>(sources));
        sourceEngines = Collections.unmodifiableMap(new LinkedHashMap<>(sourceEngines));
        retention = Collections.unmodifiableMap(new LinkedHashMap<>(retention == null ? Map.of() : retention));
        rpoTargets = Collections.unmodifiableMap(new LinkedHashMap<>(rpoTargets == null ? Map.of() : rpoTargets));
        tiers = Collections.unmodifiableMap(new LinkedHashMap<>(tiers == null ? Map.of() : tiers));
        if (storage.isEmpty()) {
            throw new IllegalArgumentException("storage must list at least one target");
        }
    }

    /** The target named {@code name}, or the first configured one when {@code name} is null. */
    StorageTarget storageTarget(String name) {
        if (name == null) {
            return storage.values().iterator().next();
        }
        StorageTarget target = storage.get(name);
        if (target == null) {
            throw new IllegalArgumentException("--storage '" + name + "' is not a configured storage target; configured: "
                    + String.join(", ", storage.keySet()));
        }
        return target;
    }

    /** The configured source named {@code name}. */
    /** The retention settings of a configured source. */
    RetentionSettings retentionOf(String name) {
        source(name);
        return retention.getOrDefault(name, RetentionSettings.defaults());
    }

    SourceConfig source(String name) {
        SourceConfig config = sources.get(name);
        if (config == null) {
            throw new IllegalArgumentException("source '" + name + "' is not configured; configured sources: "
                    + (sources.isEmpty() ? "(none)" : String.join(", ", sources.keySet())));
        }
        return config;
    }

    @Override
    public void close() throws IOException {
        List<IOException> failures = new ArrayList<>();
        for (StorageTarget target : storage.values()) {
            try {
                target.close();
            } catch (IOException e) {
                failures.add(e);
            }
        }
        if (!failures.isEmpty()) {
            IOException first = failures.get(0);
            failures.subList(1, failures.size()).forEach(first::addSuppressed);
            throw first;
        }
    }
}
