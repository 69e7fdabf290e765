package com.aiplatform.backup.storage.fs;

import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.StorageTarget;
import com.aiplatform.backup.spi.StorageTargetProvider;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Opens {@link FileSystemStorageTarget}s from configuration:
 * <pre>{@code
 * storage:
 *   local:
 *     type: filesystem
 *     path: /var/backups/platform   # required; created with mode 0700 if absent
 * }</pre>
 * The folder is checked when the configuration is loaded: a path that is not a folder,
 * cannot be created or is not writable fails with an {@link IllegalArgumentException}
 * naming the field ({@code storage[local].path}). Found with {@link java.util.ServiceLoader}.
 */
public final class FileSystemStorageTargetProvider implements StorageTargetProvider {
    /** The type name used in configuration. */
    public static final String TYPE = "filesystem";

    private static final Set<String> FIELDS = Set.of("name", "type", "path");

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public StorageTarget open(String name, Settings settings) {
        settings.rejectUnknown(FIELDS);
        String field = settings.field("path");
        Path path;
        try {
            path = Path.of(settings.requireString("path"));
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException(field + " is not a valid path: " + e.getMessage(), e);
        }
        FileSystemStorageTarget target = new FileSystemStorageTarget(name, path);
        List<Problem> problems = target.check();
        if (!problems.isEmpty()) {
            target.close();
            throw new IllegalArgumentException(field + " = '" + path + "' cannot hold backups: "
                    + problems.stream().map(Problem::toString).collect(Collectors.joining("; ")));
        }
        return target;
    }
}
