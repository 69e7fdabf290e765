package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.Problem;

import java.io.IOException;
import java.util.List;

/**
 * A stateless plug-in for one kind of source ({@code directory}, {@code postgres}, ...).
 * Found with {@link java.util.ServiceLoader} through {@code META-INF/services}, or constructed
 * directly. It parses its configuration, checks the source before any byte is written, and
 * opens sessions that do the work.
 *
 * @param <C> its configuration record
 */
public interface BackupProvider<C extends SourceConfig> {
    /** The engine name used in configuration ({@code type: directory}) and manifests. */
    String engine();

    /** The configuration type this provider takes. */
    Class<C> configType();

    /**
     * Builds a validated configuration from the settings of one configured source.
     *
     * @throws IllegalArgumentException naming the field and allowed values when invalid
     */
    C parseConfig(String name, Settings settings);

    /** Every problem that would stop a backup of this source, all at once; empty when ready. */
    List<Problem> check(C config);

    /** Opens a session that writes one backup's artifacts. */
    BackupSession openBackup(C config, BackupContext context) throws IOException;

    /** Opens a session that applies a backup's artifacts to a target. */
    RestoreSession openRestore(C config, RestoreOptions options) throws IOException;

    /**
     * Summarises a restored copy the way {@link com.aiplatform.backup.api.BackupResult#contentSummary()}
     * summarised the source at backup time (same keys), so restore drills can compare them.
     * Empty when this provider cannot look at the restored target. For an incremental,
     * {@code manifest} is the backup drilled and the target holds its whole chain: a provider with
     * incrementals records in each backup's summary what its chain holds up to it.
     */
    default java.util.Optional<java.util.Map<String, Long>> summarizeRestored(C config,
            com.aiplatform.backup.api.Manifest manifest, RestoreOptions options) throws IOException {
        return java.util.Optional.empty();
    }

    /** Whether this provider has a continuous archiver (WAL, oplog). */
    default boolean supportsArchiving() {
        return false;
    }

    /**
     * Opens a continuous archiver for the source.
     *
     * @throws UnsupportedOperationException when {@link #supportsArchiving()} is false
     */
    default ArchiverSession openArchiver(C config) throws IOException {
        throw new UnsupportedOperationException("engine '" + engine() + "' has no continuous archiver");
    }
}
