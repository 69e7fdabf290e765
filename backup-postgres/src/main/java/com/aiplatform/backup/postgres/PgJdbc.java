package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.api.SourceException;
import org.postgresql.PGProperty;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/** JDBC connections to the source (pgjdbc), with timeouts and errors that never carry the password. */
final class PgJdbc {
    private PgJdbc() {
    }

    /** A normal connection to {@code database}. */
    static Connection connect(PostgresConfig config, String database) throws SourceException {
        return open(config, database, false);
    }

    /** A physical-replication connection ({@code replication=database}). */
    static Connection replication(PostgresConfig config) throws SourceException {
        return open(config, config.database(), true);
    }

    private static Connection open(PostgresConfig config, String database, boolean replication)
            throws SourceException {
        try {
            return DriverManager.getConnection(config.jdbcUrl(database), properties(config, replication));
        } catch (SQLException e) {
            throw describe(config, database, e);
        }
    }

    /** Driver properties: user, password (never in the URL), connect and login timeouts, replication mode. */
    static Properties properties(PostgresConfig config, boolean replication) {
        Properties props = new Properties();
        PGProperty.USER.set(props, config.user());
        config.password().map(Secret::reveal).ifPresent(p -> PGProperty.PASSWORD.set(props, p));
        int timeoutSeconds = (int) Math.max(1, (config.connectTimeout().toMillis() + 999) / 1000);
        PGProperty.CONNECT_TIMEOUT.set(props, timeoutSeconds);
        PGProperty.LOGIN_TIMEOUT.set(props, timeoutSeconds);
        PGProperty.APPLICATION_NAME.set(props, "aiplatform-backup");
        if (replication) {
            PGProperty.REPLICATION.set(props, "database");
            PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "15");
            PGProperty.PREFER_QUERY_MODE.set(props, "simple");
        }
        return props;
    }

    /** A clear error for a failed connection: names server, database and user, never the password. */
    static SourceException describe(PostgresConfig config, String database, SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String where = config.host() + ":" + config.port() + "/" + database + " as " + config.user();
        String message = scrub(config, e.getMessage());
        if (state.startsWith("28")) {
            return new SourceException("authentication failed for " + where + ": " + message, false);
        }
        if (state.startsWith("08")) {
            return new SourceException("cannot reach PostgreSQL at " + where + ": " + message, true);
        }
        return new SourceException("PostgreSQL error at " + where + " (SQLSTATE " + state + "): " + message, false);
    }

    /** Removes any occurrence of the password from a message. */
    static String scrub(PostgresConfig config, String message) {
        if (message == null) {
            return "";
        }
        String password = config.password().map(Secret::reveal).orElse(null);
        return password == null || password.isEmpty() ? message : message.replace(password, "******");
    }
}
