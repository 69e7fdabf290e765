package com.aiplatform.backup.testkit;

import org.postgresql.Driver;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Properties;

/**
 * A parsed PostgreSQL JDBC URL of an external test server, able to point the same server and
 * credentials at another database. Never prints the password.
 */
final class PostgresJdbcUrl {
    private final String hosts;
    private final String host;
    private final int port;
    private final String query;
    private final String user;
    private final String password;

    private PostgresJdbcUrl(String hosts, String host, int port, String query, String user, String password) {
        this.hosts = hosts;
        this.host = host;
        this.port = port;
        this.query = query;
        this.user = user;
        this.password = password;
    }

    /**
     * Parses {@code jdbc:postgresql://host[:port][/database][?user=..&password=..]}.
     *
     * @param variable where the URL came from, for error messages
     */
    static PostgresJdbcUrl parse(String variable, String url) {
        Properties props = url == null ? null : Driver.parseURL(url, new Properties());
        if (props == null) {
            throw new IllegalArgumentException(variable + " is not a PostgreSQL JDBC URL such as "
                    + "jdbc:postgresql://localhost:5432/postgres?user=postgres");
        }
        String[] hostList = props.getProperty("PGHOST", "localhost").split(",");
        String[] portList = props.getProperty("PGPORT", "5432").split(",");
        StringBuilder hosts = new StringBuilder();
        for (int i = 0; i < hostList.length; i++) {
            if (i > 0) {
                hosts.append(',');
            }
            hosts.append(hostList[i]).append(':').append(portList[Math.min(i, portList.length - 1)]);
        }
        int q = url.indexOf('?');
        String query = q < 0 ? "" : url.substring(q + 1);
        String user = props.getProperty("user");
        if (user == null || user.isEmpty()) {
            user = EmbeddedPostgresServer.DEFAULT_USER;
            query = query.isEmpty() ? "user=" + user : query + "&user=" + user;
        }
        int port;
        try {
            port = Integer.parseInt(portList[0]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(variable + " has a port that is not a number: '" + portList[0] + "'");
        }
        return new PostgresJdbcUrl(hosts.toString(), hostList[0], port, query, user,
                props.getProperty("password"));
    }

    String host() {
        return host;
    }

    int port() {
        return port;
    }

    String user() {
        return user;
    }

    Optional<String> password() {
        return Optional.ofNullable(password);
    }

    /** The same server, credentials and parameters, connected to {@code database}. */
    String withDatabase(String database) {
        String db = URLEncoder.encode(database, StandardCharsets.UTF_8).replace("+", "%20");
        return "jdbc:postgresql://" + hosts + "/" + db + (query.isEmpty() ? "" : "?" + query);
    }

    @Override
    public String toString() {
        return "jdbc:postgresql://" + hosts + " (user " + user + ")";
    }
}
