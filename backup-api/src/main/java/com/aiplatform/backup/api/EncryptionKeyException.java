package com.aiplatform.backup.api;

/**
 * The key needed to encrypt or decrypt is missing, unreadable or is not the one the data
 * was written with. The message names the key id, never key material.
 */
public class EncryptionKeyException extends BackupException {
    private static final long serialVersionUID = 1L;
    private final String keyId;

    public EncryptionKeyException(String keyId, String message) {
        super(message, false);
        this.keyId = keyId;
    }

    public EncryptionKeyException(String keyId, String message, Throwable cause) {
        super(message, false, cause);
        this.keyId = keyId;
    }

    /** The id of the key concerned, as recorded in the manifest; may be null when unknown. */
    public String keyId() {
        return keyId;
    }
}
