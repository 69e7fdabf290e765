package com.aiplatform.backup.spi;

/**
 * A provider's validated configuration of one source. Implementations are immutable records
 * validated on construction, and their {@code toString()} never shows a secret.
 */
public interface SourceConfig {
    /** The source's configured name, used as its folder on every storage target. */
    String name();
}
