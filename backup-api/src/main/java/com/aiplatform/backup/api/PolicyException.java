package com.aiplatform.backup.api;

/**
 * An operation was refused by a safety rule although the data is intact: a tar entry that
 * would land outside the restore target (an absolute name, {@code ..}, a path through a
 * symbolic link) or of a type the engine never writes. Not an integrity failure (the stored
 * bytes match their manifest) and never retriable: the same input is refused again.
 */
public class PolicyException extends BackupException {
    private static final long serialVersionUID = 1L;

    public PolicyException(String message) {
        super(message, false);
    }
}
