package com.aiplatform.backup.storage.fs;

import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.StorageTarget;
import com.aiplatform.backup.spi.StorageTargetProvider;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Set;

/**
 * Opens {@link FileSystemStorageTarget}s from configuration:
 * <pre>{@code
 * storage:
 *   - name: local
 *     type: filesystem
 *     path: /var/backups/platform   # required; must exist (backupctl init creates it)
 *     create: false                 # true: the first backup creates a missing folder (mode 0700)
 * }</pre>
 * Opening touches nothing on disk and checks only the settings: a path that exists and is
 * not a folder fails with an {@link IllegalArgumentException} naming the field
 * ({@code storage[local].path}). Whether the folder exists, is readable or is writable is
 * checked by each operation for what it needs ({@link StorageTarget#check(StorageTarget.Access)}),
 * so a read-only copy can still be read and one unavailable target does not stop the others.
 * Found with {@link java.util.ServiceLoader}.
 */
public final class FileSystemStorageTargetProvider implements StorageTargetProvider {
    /** The type name used in configuration. */
    public static final String TYPE = "filesystem";

    private static final Set<String> FIELDS = Set.of("name", "type", "path", "create");

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
        boolean create = settings.bool("create", false);
        if (Files.exists(path) && !Files.isDirectory(path)) {
            throw new IllegalArgumentException(field + " = '" + path + "' cannot hold backups: it is not a folder");
        }
        return new FileSystemStorageTarget(name, path, create);
    }
}
