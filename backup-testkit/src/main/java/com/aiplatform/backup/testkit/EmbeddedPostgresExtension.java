package com.aiplatform.backup.testkit;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import javax.sql.DataSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * JUnit 5 extension that gives a test class a real PostgreSQL server (see TEST-SERVERS.md).
 * When the environment variable {@value #URL_VARIABLE} holds a JDBC URL
 * ({@code jdbc:postgresql://host:5432/postgres?user=postgres&password=...}) that server is
 * used and left running; otherwise an embedded PostgreSQL 15 is started before the first
 * test and stopped after the last.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder()
 *         .serverConfig("wal_level", "replica")
 *         .build();
 *
 * @Test
 * void backsUp() throws Exception {
 *     try (Connection c = PG.dataSource().getConnection()) { ... }
 * }
 * }</pre>
 * Register it on a <em>static</em> field (it starts in {@code beforeAll}); nested test classes
 * share the outer class's server. With an external server the requested
 * {@linkplain Builder#serverConfig server settings} are checked against the server's and a
 * mismatch fails the tests with a message naming the setting. A test that needs the data
 * directory or an embedded server for other reasons uses {@link Builder#dataDirectory(Path)}
 * or {@link Builder#alwaysEmbedded()}.
 */
public final class EmbeddedPostgresExtension implements BeforeAllCallback, AfterAllCallback {
    /** Environment variable naming an external server's JDBC URL. */
    public static final String URL_VARIABLE = "BACKUP_TEST_POSTGRES_URL";

    private final Map<String, String> serverConfig;
    private final boolean cleanDataDirectory;
    private final Path dataDirectory;
    private final boolean alwaysEmbedded;
    private final Function<String, String> environment;

    private EmbeddedPostgresServer server;
    private int users;

    /** An extension with default settings. */
    public EmbeddedPostgresExtension() {
        this(new Builder());
    }

    private EmbeddedPostgresExtension(Builder b) {
        this.serverConfig = Map.copyOf(b.serverConfig);
        this.cleanDataDirectory = b.cleanDataDirectory;
        this.dataDirectory = b.dataDirectory;
        this.alwaysEmbedded = b.alwaysEmbedded;
        this.environment = b.environment;
    }

    /** A builder of an extension with settings. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts an embedded server on an existing (for example restored) data directory without
     * initialising or cleaning it; closing the handle stops the server and keeps the
     * directory. The directory's mode is narrowed to 0700 if PostgreSQL would refuse it.
     */
    public static EmbeddedPostgresServer startOnDataDirectory(Path dataDir) throws IOException {
        return startOnDataDirectory(dataDir, Map.of());
    }

    /** Like {@link #startOnDataDirectory(Path)}, with {@code postgresql.conf} settings. */
    public static EmbeddedPostgresServer startOnDataDirectory(Path dataDir, Map<String, String> serverConfig)
            throws IOException {
        Objects.requireNonNull(dataDir, "dataDir");
        return EmbeddedPostgresServer.startEmbedded(serverConfig, dataDir, false);
    }

    @Override
    public synchronized void beforeAll(ExtensionContext context) throws Exception {
        if (users++ == 0) {
            try {
                server = start();
            } catch (Exception | Error e) {
                users = 0;
                throw e;
            }
        }
    }

    @Override
    public synchronized void afterAll(ExtensionContext context) {
        if (users > 0 && --users == 0) {
            EmbeddedPostgresServer s = server;
            server = null;
            if (s != null) {
                s.close();
            }
        }
    }

    private EmbeddedPostgresServer start() throws IOException {
        String url = environment.apply(URL_VARIABLE);
        if (url != null && !url.isBlank() && !alwaysEmbedded && dataDirectory == null) {
            EmbeddedPostgresServer external = EmbeddedPostgresServer.external(
                    PostgresJdbcUrl.parse(URL_VARIABLE, url.trim()));
            requireSettings(external);
            return external;
        }
        return EmbeddedPostgresServer.startEmbedded(serverConfig, dataDirectory, cleanDataDirectory);
    }

    private void requireSettings(EmbeddedPostgresServer external) {
        for (Map.Entry<String, String> e : serverConfig.entrySet()) {
            String actual = external.show(e.getKey());
            if (!sameSetting(e.getValue(), actual)) {
                throw new IllegalStateException("the server in " + URL_VARIABLE + " has " + e.getKey() + " = '"
                        + actual + "' but this test needs '" + e.getValue()
                        + "'; configure that server accordingly or unset " + URL_VARIABLE);
            }
        }
    }

    static boolean sameSetting(String wanted, String actual) {
        String w = normaliseBoolean(wanted.trim().replaceAll("^'|'$", ""));
        String a = normaliseBoolean(actual.trim());
        return w.equalsIgnoreCase(a);
    }

    private static String normaliseBoolean(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        if (Set.of("on", "true", "yes", "1").contains(l)) {
            return "on";
        }
        if (Set.of("off", "false", "no", "0").contains(l)) {
            return "off";
        }
        return s;
    }

    /** The running server; fails when no test class is running. */
    public synchronized EmbeddedPostgresServer server() {
        if (server == null) {
            throw new IllegalStateException("PostgreSQL is not running: register EmbeddedPostgresExtension on a "
                    + "static field with @RegisterExtension and use it inside tests");
        }
        return server;
    }

    /** JDBC URL of {@code database} on the server, with the user as a parameter. */
    public String jdbcUrl(String database) {
        return server().jdbcUrl(database);
    }

    /** Host name of the server. */
    public String host() {
        return server().host();
    }

    /** TCP port of the server. */
    public int port() {
        return server().port();
    }

    /** The user tests connect as ({@code postgres} on an embedded server). */
    public String user() {
        return server().user();
    }

    /** A data source for the {@code postgres} database. */
    public DataSource dataSource() {
        return server().dataSource();
    }

    /** A data source for {@code database}. */
    public DataSource dataSource(String database) {
        return server().dataSource(database);
    }

    /** The server's version ({@code 15.19}). */
    public String serverVersion() {
        return server().serverVersion();
    }

    /** Builder of an {@link EmbeddedPostgresExtension}. */
    public static final class Builder {
        private final Map<String, String> serverConfig = new LinkedHashMap<>();
        private boolean cleanDataDirectory = true;
        private Path dataDirectory;
        private boolean alwaysEmbedded;
        private Function<String, String> environment = System::getenv;

        private Builder() {
        }

        /** A {@code postgresql.conf} setting for the embedded server ({@code wal_level}, {@code replica}). */
        public Builder serverConfig(String key, String value) {
            serverConfig.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Whether the data directory is initialised afresh and deleted when the server stops
         * (default true). Set false to keep it, e.g. to take a physical backup's files.
         */
        public Builder cleanDataDirectory(boolean clean) {
            this.cleanDataDirectory = clean;
            return this;
        }

        /** The data directory to use instead of a temporary one; implies an embedded server. */
        public Builder dataDirectory(Path dir) {
            this.dataDirectory = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /** Ignore {@value EmbeddedPostgresExtension#URL_VARIABLE} and always start an embedded server. */
        public Builder alwaysEmbedded() {
            this.alwaysEmbedded = true;
            return this;
        }

        /** Where environment variables are read from (tests of this class). */
        Builder environment(Function<String, String> environment) {
            this.environment = Objects.requireNonNull(environment, "environment");
            return this;
        }

        /** The extension. */
        public EmbeddedPostgresExtension build() {
            return new EmbeddedPostgresExtension(this);
        }
    }
}
