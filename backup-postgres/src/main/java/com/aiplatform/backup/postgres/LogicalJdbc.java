package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.SourceException;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** JDBC connections and catalog look-ups of the logical path. Messages never hold the password. */
final class LogicalJdbc {
    private LogicalJdbc() {
    }

    /**
     * What the logical path needs to know about a server and database.
     *
     * @param version      {@code server_version} ({@code 15.19})
     * @param versionNum   {@code server_version_num} ({@code 150019})
     * @param superuser    whether the connected role is a superuser
     * @param encoding     the database's encoding
     * @param collate      the database's {@code LC_COLLATE}
     * @param ctype        the database's {@code LC_CTYPE}
     */
    record ServerInfo(String version, int versionNum, boolean superuser, String encoding, String collate,
                      String ctype) {
        int major() {
            return PgTools.majorFromVersionNum(versionNum);
        }
    }

    /** Connects to {@code database} on the configured server as the configured user. */
    static Connection connect(PostgresConfig config, String database) throws SourceException {
        try {
            return DriverManager.getConnection(config.jdbcUrl(database), PgJdbc.properties(config, false));
        } catch (SQLException e) {
            throw failure("cannot connect to PostgreSQL at " + where(config, database) + " as " + config.user(), e);
        }
    }

    /** Version, superuser flag and the connected database's encoding and locale. */
    static ServerInfo serverInfo(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT current_setting('server_version'), "
                     + "current_setting('server_version_num')::int, "
                     + "(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), "
                     + "pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype "
                     + "FROM pg_catalog.pg_database d WHERE d.datname = current_database()")) {
            rs.next();
            return new ServerInfo(rs.getString(1), rs.getInt(2), rs.getBoolean(3), rs.getString(4),
                    rs.getString(5), rs.getString(6));
        }
    }

    /** {@code host:port/database}, for messages. */
    static String where(PostgresConfig config, String database) {
        return config.host() + ":" + config.port() + "/" + database;
    }

    /**
     * A {@link SourceException} for a failed JDBC call: the driver's message (which never holds
     * the password) and the SQLSTATE; retriable for connection failures (class 08).
     */
    static SourceException failure(String what, SQLException e) {
        String state = e.getSQLState();
        boolean retriable = state != null && state.startsWith("08");
        return new SourceException(what + ": " + e.getMessage() + (state == null ? "" : " [SQLSTATE " + state + "]"),
                retriable, e);
    }

    /** A double-quoted SQL identifier. */
    static String quoteIdent(String name) {
        return "\"" + name.replace("\"", "\"\"") + "\"";
    }

    /** A single-quoted SQL literal (standard_conforming_strings on). */
    static String quoteLiteral(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    /** A libpq connection string holding only the database name, quoted ({@code dbname='x'}). */
    static String conninfoDbname(String database) {
        return "dbname='" + database.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }
}
