package com.aiplatform.backup.spi;

/**
 * A stateless plug-in that opens one kind of storage target ({@code filesystem}, {@code s3}).
 * Found with {@link java.util.ServiceLoader}.
 */
public interface StorageTargetProvider {
    /** The type name used in configuration ({@code type: filesystem}). */
    String type();

    /**
     * Opens a target from its configured settings.
     *
     * @throws IllegalArgumentException naming the field when the settings are invalid or unusable
     */
    StorageTarget open(String name, Settings settings);
}
