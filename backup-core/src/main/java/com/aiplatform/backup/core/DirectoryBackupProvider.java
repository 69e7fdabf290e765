package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The built-in {@code directory} provider: backs a directory tree up as one tar artifact
 * ({@code tree.tar}: folders, files, permissions, modification times, symlinks) and restores
 * it into a target directory, refusing any entry that would land outside it.
 *
 * <p>Restore extracts into a hidden staging folder beside the target and moves it into place
 * only when every entry was extracted, so a failed restore never leaves a half-filled target.
 */
public final class DirectoryBackupProvider implements BackupProvider<DirectoryConfig> {
    /** The engine name: {@code type: directory} in configuration. */
    public static final String ENGINE = "directory";
    static final String ARTIFACT = "tree.tar";

    @Override
    public String engine() {
        return ENGINE;
    }

    @Override
    public Class<DirectoryConfig> configType() {
        return DirectoryConfig.class;
    }

    @Override
    public DirectoryConfig parseConfig(String name, Settings settings) {
        settings.rejectUnknown(Set.of("name", "type", "path"));
        return new DirectoryConfig(name, settings.requirePath("path"));
    }

    @Override
    public List<Problem> check(DirectoryConfig config) {
        List<Problem> problems = new ArrayList<>();
        Path dir = config.path();
        if (!Files.exists(dir)) {
            problems.add(new Problem("missing", "directory " + dir + " does not exist"));
        } else if (!Files.isDirectory(dir)) {
            problems.add(new Problem("not-a-directory", dir + " is not a directory"));
        } else if (!Files.isReadable(dir)) {
            problems.add(new Problem("not-readable", "directory " + dir + " is not readable"));
        }
        return problems;
    }

    @Override
    public BackupSession openBackup(DirectoryConfig config, BackupContext context) {
        return new BackupSession() {
            @Override
            public BackupResult run(ArtifactSink sink) throws IOException {
                Instant start = Instant.now();
                TarTree.Summary summary;
                try (OutputStream out = sink.openArtifact(ARTIFACT)) {
                    summary = TarTree.write(config.path(), out);
                }
                return new BackupResult(BackupKind.FULL, "tar",
                        new ConsistentPoint("files=" + summary.files() + ",bytes=" + summary.bytes(), start),
                        null, Map.of("path", config.path().toString()),
                        Map.of("files", summary.files(), "directories", summary.directories(),
                                "symlinks", summary.symlinks(), "bytes", summary.bytes()));
            }

            @Override
            public void close() {
            }
        };
    }

    /** Counts files, directories, symlinks and bytes of the restored tree, as the backup did. */
    @Override
    public java.util.Optional<Map<String, Long>> summarizeRestored(DirectoryConfig config,
            com.aiplatform.backup.api.Manifest manifest, RestoreOptions options) throws IOException {
        java.nio.file.Path target = options.targetDirectory().orElseThrow(() -> new IllegalArgumentException(
                "a drill of directory source '" + config.name() + "' needs a target directory"));
        TarTree.Summary s = TarTree.summarize(target);
        return java.util.Optional.of(Map.of("files", s.files(), "directories", s.directories(),
                "symlinks", s.symlinks(), "bytes", s.bytes()));
    }

    @Override
    public RestoreSession openRestore(DirectoryConfig config, RestoreOptions options) {
        Path target = options.targetDirectory().orElseThrow(() -> new IllegalArgumentException(
                "restoring directory source '" + config.name() + "' needs a target directory (--target-dir)"));
        return new RestoreSession() {
            @Override
            public void restore(ArtifactSource source) throws IOException {
                try (InputStream in = source.open(ARTIFACT)) {
                    TarTree.extract(in, target, options.overwrite());
                }
            }

            @Override
            public void close() {
            }
        };
    }
}
