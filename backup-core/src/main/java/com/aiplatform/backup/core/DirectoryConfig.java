package com.aiplatform.backup.core;

import com.aiplatform.backup.spi.SourceConfig;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A directory tree backed up as a tar archive (configuration folders such as {@code /etc/kafka}).
 *
 * @param name source name
 * @param path the directory to back up
 */
public record DirectoryConfig(String name, Path path) implements SourceConfig {
    public DirectoryConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(path, "path");
    }
}
