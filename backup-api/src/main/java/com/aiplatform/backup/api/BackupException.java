package com.aiplatform.backup.api;

import java.io.IOException;

/**
 * Root of every environment failure the library reports: I/O, a server that refused,
 * data that failed an integrity check. Misuse and bad configuration are reported with
 * {@link IllegalArgumentException} or {@link IllegalStateException} instead.
 *
 * <p>Messages never contain secrets (passwords, keys, tokens).
 */
public class BackupException extends IOException {
    private static final long serialVersionUID = 1L;
    private final boolean retriable;

    public BackupException(String message, boolean retriable) {
        super(message);
        this.retriable = retriable;
    }

    public BackupException(String message, boolean retriable, Throwable cause) {
        super(message, cause);
        this.retriable = retriable;
    }

    /** True when the same operation may succeed if simply run again (a timeout, a refused connection). */
    public boolean isRetriable() {
        return retriable;
    }
}
