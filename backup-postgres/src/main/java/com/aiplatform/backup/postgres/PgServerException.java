package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.SourceException;

/**
 * The server refused a request with an ErrorResponse; {@link #error()} keeps its SQLSTATE so
 * callers (the pre-flight check) can tell authentication, privilege and capacity problems apart.
 * The message names server and user, never the password.
 */
final class PgServerException extends SourceException {
    private static final long serialVersionUID = 1L;
    private final transient PgServerError error;

    PgServerException(String message, PgServerError error, boolean retriable) {
        super(message, retriable);
        this.error = error;
    }

    /** The server's error fields. */
    PgServerError error() {
        return error;
    }

    /** The SQLSTATE, or empty. */
    String sqlState() {
        return error == null ? "" : error.sqlState();
    }
}
