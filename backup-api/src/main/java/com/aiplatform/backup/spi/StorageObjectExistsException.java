package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.StorageException;

/** An object with the requested key exists already; stored objects are immutable. */
public class StorageObjectExistsException extends StorageException {
    private static final long serialVersionUID = 1L;

    public StorageObjectExistsException(String key) {
        super("object '" + key + "' exists already; stored objects are never overwritten", false);
    }
}
