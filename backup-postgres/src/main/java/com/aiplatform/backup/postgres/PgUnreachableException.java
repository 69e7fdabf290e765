package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.SourceException;

/**
 * The server could not be reached or did not complete the connection startup: unknown host,
 * connection refused, no route, no answer within the connect timeout, connection closed during
 * startup. Retriable except for an unknown host.
 */
final class PgUnreachableException extends SourceException {
    private static final long serialVersionUID = 1L;

    PgUnreachableException(String message, boolean retriable, Throwable cause) {
        super(message, retriable, cause);
    }
}
