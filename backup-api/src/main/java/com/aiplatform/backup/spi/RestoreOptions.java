package com.aiplatform.backup.spi;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where and how to restore.
 *
 * @param targetDirectory directory to restore files into (directory and physical backups), if any
 * @param overwrite       allow restoring over a non-empty target
 * @param options         provider-specific options (target url, renames, point-in-time target)
 */
public record RestoreOptions(Optional<Path> targetDirectory, boolean overwrite, Map<String, String> options) {
    public RestoreOptions {
        targetDirectory = targetDirectory == null ? Optional.empty() : targetDirectory;
        options = options == null ? Map.of() : Map.copyOf(options);
    }

    /** Restore into a directory that must be absent or empty. */
    public static RestoreOptions intoDirectory(Path dir) {
        return new RestoreOptions(Optional.of(dir), false, Map.of());
    }

    /** A copy with overwrite allowed or refused. */
    public RestoreOptions withOverwrite(boolean allow) {
        return new RestoreOptions(targetDirectory, allow, options);
    }

    /** A provider-specific option. */
    public Optional<String> option(String key) {
        return Optional.ofNullable(options.get(key));
    }
}
