package com.aiplatform.backup.api;

/**
 * Stored data does not match what its manifest promises: a changed, truncated or missing
 * artifact, an edited manifest, or ciphertext that fails authentication. Never retriable.
 * {@link #artifact()} names the artifact concerned ({@code manifest.json} for the manifest).
 */
public class IntegrityException extends BackupException {
    private static final long serialVersionUID = 1L;
    private final String artifact;

    public IntegrityException(String artifact, String message) {
        super(message, false);
        this.artifact = artifact;
    }

    public IntegrityException(String artifact, String message, Throwable cause) {
        super(message, false, cause);
        this.artifact = artifact;
    }

    /** The artifact that failed the check. */
    public String artifact() {
        return artifact;
    }
}
