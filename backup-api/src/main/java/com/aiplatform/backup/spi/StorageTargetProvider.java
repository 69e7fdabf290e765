package com.aiplatform.backup.spi;

/**
 * A stateless plug-in that opens one kind of storage target ({@code filesystem}, {@code s3}).
 * Found with {@link java.util.ServiceLoader}.
 */
public interface StorageTargetProvider {
    /** The type name used in configuration ({@code type: filesystem}). */
    String type();

    /**
     * Opens a target from its configured settings. Opening checks the settings only and
     * creates nothing: whether the target exists and can be read or written is reported by
     * {@link StorageTarget#check(StorageTarget.Access)} when an operation needs it, so one
     * unavailable target does not stop work on the others.
     *
     * @throws IllegalArgumentException naming the field when the settings are invalid
     */
    StorageTarget open(String name, Settings settings);
}
