package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.SourceException;

/**
 * Something answered on the configured host and port, but not with the PostgreSQL protocol (an
 * HTTP server, another database): the configuration is wrong, so retrying will not help.
 */
final class PgNotPostgresException extends SourceException {
    private static final long serialVersionUID = 1L;

    PgNotPostgresException(String message) {
        super(message, false);
    }
}
