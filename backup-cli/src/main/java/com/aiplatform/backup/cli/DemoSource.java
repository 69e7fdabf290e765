package com.aiplatform.backup.cli;

import com.aiplatform.backup.spi.RestoreOptions;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One kind of data the {@code demo} command backs up, restores and compares: a directory
 * tree, an embedded PostgreSQL, a Kafka broker; another engine is added by implementing this
 * interface and listing it in {@link DemoCommand#demoSources()}.
 *
 * <p>Lifecycle: {@link #prepare} once, then {@link #restoreOptions} and {@link #compare} after
 * the engine has backed up and restored, then {@link #close} (always, even on failure).
 */
interface DemoSource extends AutoCloseable {
    /** The source name in the demo configuration ({@code kafka-config}). */
    String name();

    /** The source type it exercises: a {@link com.aiplatform.backup.spi.BackupProvider#engine()}. */
    String engine();

    /**
     * Why this source cannot run here (the demo then skips it, saying why, and runs the others),
     * or empty when it can.
     */
    default Optional<String> unavailable() {
        return Optional.empty();
    }

    /**
     * Creates (or starts) the data to back up, under {@code workDir}, and returns the source's
     * configuration block as it would appear in a configuration file, without {@code name} and
     * {@code type} (for a directory: {@code path}).
     *
     * @param sizeMb the rough amount of bulk data to create, in MiB
     */
    Map<String, Object> prepare(Path workDir, int sizeMb) throws Exception;

    /** Runs just before the backup (for example: start a continuous archiver). */
    default void beforeBackup(com.aiplatform.backup.core.BackupEngine engine,
                              com.aiplatform.backup.spi.SourceConfig config) throws Exception {
    }

    /** Runs right after the backup (for example: write more data and wait until it is archived). */
    default void afterBackup(com.aiplatform.backup.core.BackupEngine engine,
                             com.aiplatform.backup.spi.SourceConfig config) throws Exception {
    }

    /** One line describing what {@link #prepare} created, for the human report. */
    String describe();

    /** Where and how to restore, so that the restored copy sits beside (not over) the original. */
    RestoreOptions restoreOptions(Path workDir) throws Exception;

    /** Compares the restored copy with the original: one line per difference, empty when identical. */
    List<String> compare() throws Exception;

    /** Stops whatever {@link #prepare} started. Files under the work directory are removed by the caller. */
    @Override
    default void close() throws IOException {
    }
}
