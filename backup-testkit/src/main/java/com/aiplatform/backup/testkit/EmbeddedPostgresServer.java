package com.aiplatform.backup.testkit;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A running PostgreSQL server for tests: either an embedded one (zonky's
 * {@code EmbeddedPostgres}, PostgreSQL 15.x binaries from Maven Central, trust
 * authentication) that {@link #close()} stops, or an external one given by a JDBC URL,
 * which {@link #close()} leaves running. Obtained from {@link EmbeddedPostgresExtension}
 * or {@link EmbeddedPostgresExtension#startOnDataDirectory(Path)}. Safe to close twice.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {
    /** The superuser of an embedded server. */
    public static final String DEFAULT_USER = "postgres";

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedPostgresServer.class);
    private static final Duration STARTUP_WAIT = Duration.ofSeconds(60);

    private final EmbeddedPostgres embedded;
    private final PostgresJdbcUrl external;
    private final Path dataDirectory;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile String serverVersion;

    private EmbeddedPostgresServer(EmbeddedPostgres embedded, PostgresJdbcUrl external, Path dataDirectory) {
        this.embedded = embedded;
        this.external = external;
        this.dataDirectory = dataDirectory;
    }

    /**
     * Starts an embedded server.
     *
     * @param serverConfig        {@code postgresql.conf} settings ({@code wal_level=replica})
     * @param dataDirectory       data directory to use, or null for a fresh temporary one
     * @param cleanDataDirectory  true to initialise the directory afresh and delete it on close
     */
    static EmbeddedPostgresServer startEmbedded(Map<String, String> serverConfig, Path dataDirectory,
                                                boolean cleanDataDirectory) throws IOException {
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                .setPGStartupWait(STARTUP_WAIT)
                .setCleanDataDirectory(cleanDataDirectory);
        serverConfig.forEach(builder::setServerConfig);
        if (dataDirectory != null) {
            if (!cleanDataDirectory) {
                restrictDataDirectoryMode(dataDirectory);
            }
            builder.setDataDirectory(dataDirectory);
        }
        EmbeddedPostgres pg = builder.start();
        LOG.info("started embedded PostgreSQL on port {} (data directory {})", pg.getPort(),
                dataDirectory == null ? "temporary" : dataDirectory);
        return new EmbeddedPostgresServer(pg, null, dataDirectory);
    }

    /** A handle on an external server; nothing is started or stopped. */
    static EmbeddedPostgresServer external(PostgresJdbcUrl url) {
        LOG.info("using external PostgreSQL at {}:{}", url.host(), url.port());
        return new EmbeddedPostgresServer(null, url, null);
    }

    /** PostgreSQL refuses a data directory readable by others; restored copies often are. */
    private static void restrictDataDirectoryMode(Path dir) throws IOException {
        if (!Files.isDirectory(dir) || !dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return;
        }
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(dir);
        Set<PosixFilePermission> allowed = PosixFilePermissions.fromString("rwxr-x---");
        if (!allowed.containsAll(mode)) {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
    }

    /** True when this server was started here (and {@link #close()} stops it). */
    public boolean isEmbedded() {
        return embedded != null;
    }

    /** Host name to connect to. */
    public String host() {
        return embedded != null ? "localhost" : external.host();
    }

    /** TCP port. */
    public int port() {
        return embedded != null ? embedded.getPort() : external.port();
    }

    /** User to connect as: {@code postgres} for an embedded server, else the URL's user. */
    public String user() {
        return embedded != null ? DEFAULT_USER : external.user();
    }

    /** Password of {@link #user()}, if one is needed (never for an embedded server). */
    public Optional<String> password() {
        return embedded != null ? Optional.empty() : external.password();
    }

    /** JDBC URL of {@code database}, with the user (and password, if any) as parameters. */
    public String jdbcUrl(String database) {
        Objects.requireNonNull(database, "database");
        return embedded != null ? embedded.getJdbcUrl(DEFAULT_USER, database) : external.withDatabase(database);
    }

    /** The data directory, when it was given explicitly. */
    public Optional<Path> dataDirectory() {
        return Optional.ofNullable(dataDirectory);
    }

    /** A data source for the {@code postgres} database. */
    public DataSource dataSource() {
        return dataSource("postgres");
    }

    /** A data source for {@code database}. */
    public DataSource dataSource(String database) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(jdbcUrl(database));
        return ds;
    }

    /** The server's version as it reports it ({@code SHOW server_version}), e.g. {@code 15.19}. */
    public String serverVersion() {
        String v = serverVersion;
        if (v == null) {
            v = show("server_version");
            serverVersion = v;
        }
        return v;
    }

    /** The major version, e.g. 15. */
    public int majorVersion() {
        String v = serverVersion();
        int end = 0;
        while (end < v.length() && Character.isDigit(v.charAt(end))) {
            end++;
        }
        return Integer.parseInt(v.substring(0, end));
    }

    /** The current value of a server setting ({@code SHOW name}). */
    public String show(String setting) {
        if (!setting.matches("[A-Za-z_][A-Za-z0-9_.]*")) {
            throw new IllegalArgumentException("'" + setting + "' is not a PostgreSQL setting name");
        }
        try (Connection c = dataSource().getConnection();
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        } catch (SQLException e) {
            throw new IllegalStateException("SHOW " + setting + " failed on PostgreSQL at " + host() + ":"
                    + port() + ": " + e.getMessage(), e);
        }
    }

    /** Stops an embedded server (deleting its data directory if it was started clean). Safe to call twice. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && embedded != null) {
            try {
                embedded.close();
            } catch (IOException e) {
                throw new UncheckedIOException("stopping embedded PostgreSQL on port " + embedded.getPort()
                        + " failed", e);
            }
        }
    }

    @Override
    public String toString() {
        return (embedded != null ? "embedded" : "external") + " PostgreSQL at " + host() + ":" + port();
    }
}
