package com.aiplatform.backup.api;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The record of one committed backup. Written last: a backup exists if and only if its
 * manifest exists. Stored as JSON ({@code manifest.json}) beside the artifacts.
 *
 * @param formatVersion  version of this manifest shape ({@link #CURRENT_FORMAT})
 * @param backupId       id of the backup
 * @param source         name of the configured source
 * @param engine         provider engine name ({@code directory}, {@code postgres}, ...)
 * @param kind           full or incremental
 * @param method         provider-specific method ({@code tar}, {@code physical}, {@code logical}, ...)
 * @param parent         parent backup id for incrementals, else null
 * @param startedAt      when the backup started
 * @param completedAt    when the last artifact was stored
 * @param consistentPoint the point the backup restores to
 * @param artifacts      every artifact, in the order written
 * @param metadata       engine metadata (versions, positions); never secrets
 * @param contentSummary counts recorded at backup time for restore drills (rows, files, records)
 */
public record Manifest(int formatVersion, BackupId backupId, String source, String engine,
                       BackupKind kind, String method, BackupId parent, Instant startedAt,
                       Instant completedAt, ConsistentPoint consistentPoint,
                       List<ArtifactEntry> artifacts, SortedMap<String, String> metadata,
                       SortedMap<String, Long> contentSummary) {
    /** The manifest format this version of the library writes. */
    public static final int CURRENT_FORMAT = 1;

    public Manifest {
        Objects.requireNonNull(backupId, "backupId");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(consistentPoint, "consistentPoint");
        artifacts = List.copyOf(artifacts);
        metadata = metadata == null ? new TreeMap<>() : new TreeMap<>(metadata);
        contentSummary = contentSummary == null ? new TreeMap<>() : new TreeMap<>(contentSummary);
    }

    /** The artifact entry with the given name, if present. */
    public java.util.Optional<ArtifactEntry> artifact(String name) {
        return artifacts.stream().filter(a -> a.name().equals(name)).findFirst();
    }

    /** Sum of the stored sizes of all artifacts. */
    public long storedBytes() {
        return artifacts.stream().mapToLong(ArtifactEntry::storedSize).sum();
    }

    /** Sum of the raw (pre-compression) sizes of all artifacts. */
    public long rawBytes() {
        return artifacts.stream().mapToLong(ArtifactEntry::rawSize).sum();
    }

    /** Convenience copy of the metadata as an unmodifiable map. */
    public Map<String, String> metadataView() {
        return java.util.Collections.unmodifiableMap(metadata);
    }
}
