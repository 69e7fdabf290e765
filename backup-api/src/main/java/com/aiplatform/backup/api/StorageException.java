package com.aiplatform.backup.api;

/** A storage target could not store, read, list or delete an object. */
public class StorageException extends BackupException {
    private static final long serialVersionUID = 1L;

    public StorageException(String message, boolean retriable) {
        super(message, retriable);
    }

    public StorageException(String message, boolean retriable, Throwable cause) {
        super(message, retriable, cause);
    }
}
