package com.aiplatform.backup.api;

/** The database or directory being backed up or restored failed or refused. */
public class SourceException extends BackupException {
    private static final long serialVersionUID = 1L;

    public SourceException(String message, boolean retriable) {
        super(message, retriable);
    }

    public SourceException(String message, boolean retriable, Throwable cause) {
        super(message, retriable, cause);
    }
}
