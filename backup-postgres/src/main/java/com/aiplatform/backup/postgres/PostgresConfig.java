package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.spi.SourceConfig;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A PostgreSQL source. Build with {@link #builder(String)}; every field is validated on
 * construction and {@link #toString()} never shows the password.
 *
 * @param name             source name
 * @param host             server host
 * @param port             server port (default 5432)
 * @param database         database to back up (logical) or to connect to (physical)
 * @param user             user; needs the REPLICATION attribute for physical backups
 * @param password         password, or empty for trust/peer authentication
 * @param mode             physical (base backup + WAL) or logical (pg_dump)
 * @param walFlushInterval how often the WAL archiver stores the partial segment (default 60 s): the RPO
 * @param slotName         replication slot of the WAL archiver (default {@code backup_<name>})
 * @param toolsDir         where pg_dump/pg_restore/pg_dumpall live; else PATH, then /usr/lib/postgresql/&lt;major&gt;/bin
 * @param schemas          logical: only these schemas ({@code pg_dump -n}); empty = all
 * @param tables           logical: only these tables ({@code pg_dump -t}); empty = all
 * @param excludeSchemas   logical: schemas to leave out ({@code -N})
 * @param excludeTables    logical: tables to leave out ({@code -T})
 * @param connectTimeout   connection and authentication time limit (default 10 s)
 */
public record PostgresConfig(String name, String host, int port, String database, String user,
                             Optional<Secret> password, Mode mode, Duration walFlushInterval, String slotName,
                             Optional<Path> toolsDir, List<String> schemas, List<String> tables,
                             List<String> excludeSchemas, List<String> excludeTables, Duration connectTimeout)
        implements SourceConfig {

    /** Physical (base backup + WAL, point-in-time restore) or logical (pg_dump). */
    public enum Mode {
        PHYSICAL, LOGICAL;

        /** Parses {@code physical} or {@code logical}. */
        public static Mode fromId(String id) {
            for (Mode m : values()) {
                if (m.name().equalsIgnoreCase(id)) {
                    return m;
                }
            }
            throw new IllegalArgumentException("mode '" + id + "' is not one of physical, logical");
        }
    }

    public PostgresConfig {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(database, "database");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(mode, "mode");
        password = password == null ? Optional.empty() : password;
        toolsDir = toolsDir == null ? Optional.empty() : toolsDir;
        schemas = List.copyOf(schemas == null ? List.of() : schemas);
        tables = List.copyOf(tables == null ? List.of() : tables);
        excludeSchemas = List.copyOf(excludeSchemas == null ? List.of() : excludeSchemas);
        excludeTables = List.copyOf(excludeTables == null ? List.of() : excludeTables);
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not between 1 and 65535");
        }
        walFlushInterval = walFlushInterval == null ? Duration.ofSeconds(60) : walFlushInterval;
        if (walFlushInterval.isNegative() || walFlushInterval.isZero()) {
            throw new IllegalArgumentException("wal-flush-interval must be positive, not " + walFlushInterval);
        }
        connectTimeout = connectTimeout == null ? Duration.ofSeconds(10) : connectTimeout;
        slotName = slotName == null ? "backup_" + name.replaceAll("[^a-z0-9_]", "_") : slotName;
        if (!slotName.matches("[a-z0-9_]{1,63}")) {
            throw new IllegalArgumentException("slot name '" + slotName + "' must be 1-63 of [a-z0-9_]");
        }
    }

    /** A builder with defaults: localhost:5432, database postgres, user postgres, physical mode. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** A JDBC URL for this server and {@code db} (no credentials in it). */
    public String jdbcUrl(String db) {
        return "jdbc:postgresql://" + host + ":" + port + "/" + db;
    }

    @Override
    public String toString() {
        return "PostgresConfig[name=" + name + ", " + host + ":" + port + "/" + database + ", user=" + user
                + ", password=" + password.map(Secret::toString).orElse("none") + ", mode=" + mode + "]";
    }

    /** Builder of {@link PostgresConfig}. */
    public static final class Builder {
        private final String name;
        private String host = "127.0.0.1";
        private int port = 5432;
        private String database = "postgres";
        private String user = "postgres";
        private Secret password;
        private Mode mode = Mode.PHYSICAL;
        private Duration walFlushInterval;
        private String slotName;
        private Path toolsDir;
        private List<String> schemas = List.of();
        private List<String> tables = List.of();
        private List<String> excludeSchemas = List.of();
        private List<String> excludeTables = List.of();
        private Duration connectTimeout;

        Builder(String name) {
            this.name = name;
        }

        /** Host, port and database from {@code postgresql://host:port/db} (no credentials allowed in it). */
        public Builder url(String url) {
            URI uri;
            try {
                uri = URI.create(url.startsWith("jdbc:") ? url.substring(5) : url);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("url '" + url + "' is not a postgresql://host:port/database URL");
            }
            if (!"postgresql".equals(uri.getScheme()) && !"postgres".equals(uri.getScheme())) {
                throw new IllegalArgumentException("url '" + url + "' must start with postgresql://");
            }
            if (uri.getUserInfo() != null) {
                throw new IllegalArgumentException("url must not hold credentials; use user and password-env");
            }
            if (uri.getHost() == null) {
                throw new IllegalArgumentException("url '" + url + "' names no host");
            }
            host = uri.getHost();
            port = uri.getPort() < 0 ? 5432 : uri.getPort();
            String path = uri.getPath();
            if (path != null && path.length() > 1) {
                database = path.substring(1);
            }
            return this;
        }

        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder database(String database) {
            this.database = database;
            return this;
        }

        public Builder user(String user) {
            this.user = user;
            return this;
        }

        public Builder password(Secret password) {
            this.password = password;
            return this;
        }

        public Builder mode(Mode mode) {
            this.mode = mode;
            return this;
        }

        public Builder walFlushInterval(Duration interval) {
            this.walFlushInterval = interval;
            return this;
        }

        public Builder slotName(String slotName) {
            this.slotName = slotName;
            return this;
        }

        public Builder toolsDir(Path dir) {
            this.toolsDir = dir;
            return this;
        }

        public Builder schemas(List<String> schemas) {
            this.schemas = schemas;
            return this;
        }

        public Builder tables(List<String> tables) {
            this.tables = tables;
            return this;
        }

        public Builder excludeSchemas(List<String> excludeSchemas) {
            this.excludeSchemas = excludeSchemas;
            return this;
        }

        public Builder excludeTables(List<String> excludeTables) {
            this.excludeTables = excludeTables;
            return this;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        public PostgresConfig build() {
            return new PostgresConfig(name, host, port, database, user, Optional.ofNullable(password), mode,
                    walFlushInterval, slotName, Optional.ofNullable(toolsDir), schemas, tables, excludeSchemas,
                    excludeTables, connectTimeout);
        }
    }
}
