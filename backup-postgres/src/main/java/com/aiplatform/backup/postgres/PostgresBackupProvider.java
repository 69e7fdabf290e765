package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.spi.ArchiverSession;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;

import java.io.IOException;
import java.util.List;
import java.util.Set;

/**
 * The {@code postgres} provider. Physical mode takes a base backup over the streaming
 * replication protocol (no {@code pg_basebackup} needed) and restores it into a data
 * directory; logical mode streams {@code pg_dump -Fc} and {@code pg_dumpall --globals-only}
 * and restores with {@code pg_restore}.
 *
 * <p>Restore options: {@code target-url} (logical: the server/database to restore into),
 * {@code clean} ({@code true}: {@code pg_restore --clean --if-exists}), {@code jobs} (parallel
 * {@code pg_restore -j}); the target directory (physical) comes from {@link RestoreOptions#targetDirectory()},
 * and {@code tablespace-<oid>} (physical) gives an absolute path for a tablespace (default
 * {@code <target>/../<target-name>-tablespaces/<oid>}, never the tablespace's original location).
 */
public final class PostgresBackupProvider implements BackupProvider<PostgresConfig> {
    /** The engine name: {@code type: postgres} in configuration. */
    public static final String ENGINE = "postgres";
    static final String METHOD_PHYSICAL = "physical";
    static final String METHOD_LOGICAL = "logical";

    private static final Set<String> FIELDS = Set.of("name", "type", "url", "user", "password-env", "mode",
            "wal-flush-interval", "slot", "tools-dir", "schemas", "tables", "exclude-schemas", "exclude-tables",
            "connect-timeout");

    @Override
    public String engine() {
        return ENGINE;
    }

    @Override
    public Class<PostgresConfig> configType() {
        return PostgresConfig.class;
    }

    @Override
    public PostgresConfig parseConfig(String name, Settings settings) {
        settings.rejectUnknown(FIELDS);
        PostgresConfig.Builder b = PostgresConfig.builder(name);
        try {
            b.url(settings.requireString("url"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(settings.field("url") + ": " + e.getMessage());
        }
        settings.string("user").ifPresent(b::user);
        settings.string("password-env").ifPresent(v -> b.password(Secret.fromEnvironment(v)));
        settings.string("mode").ifPresent(v -> {
            try {
                b.mode(PostgresConfig.Mode.fromId(v));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(settings.field("mode") + ": " + e.getMessage());
            }
        });
        b.walFlushInterval(settings.duration("wal-flush-interval", java.time.Duration.ofSeconds(60)));
        b.connectTimeout(settings.duration("connect-timeout", java.time.Duration.ofSeconds(10)));
        settings.string("slot").ifPresent(b::slotName);
        settings.string("tools-dir").ifPresent(v -> b.toolsDir(java.nio.file.Path.of(v)));
        b.schemas(settings.strings("schemas")).tables(settings.strings("tables"))
                .excludeSchemas(settings.strings("exclude-schemas")).excludeTables(settings.strings("exclude-tables"));
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(settings.where() + ": " + e.getMessage());
        }
    }

    @Override
    public List<Problem> check(PostgresConfig config) {
        return PostgresPreflight.check(config);
    }

    @Override
    public BackupSession openBackup(PostgresConfig config, BackupContext context) {
        return new BackupSession() {
            @Override
            public BackupResult run(ArtifactSink sink) throws IOException {
                return config.mode() == PostgresConfig.Mode.PHYSICAL
                        ? PhysicalBaseBackup.run(config, context, sink)
                        : LogicalBackup.run(config, sink);
            }

            @Override
            public void close() {
            }
        };
    }

    /**
     * Logical backups: counts the rows of every table the backup recorded, in the database the
     * drill restored into ({@code target-url}, else the source's database). Physical backups
     * cannot be looked at without a server running on the restored directory: not compared.
     */
    @Override
    public java.util.Optional<java.util.Map<String, Long>> summarizeRestored(PostgresConfig config,
            com.aiplatform.backup.api.Manifest manifest, RestoreOptions options) throws IOException {
        if (!METHOD_LOGICAL.equals(manifest.method())) {
            return java.util.Optional.empty();
        }
        PostgresConfig.Builder target = PostgresConfig.builder(config.name()).host(config.host()).port(config.port())
                .database(config.database()).user(config.user()).password(config.password().orElse(null))
                .connectTimeout(config.connectTimeout()).mode(PostgresConfig.Mode.LOGICAL);
        options.option("target-url").ifPresent(target::url);
        PostgresConfig t = target.build();
        java.util.Map<String, Long> counts = new java.util.TreeMap<>();
        try (java.sql.Connection c = PgJdbc.connect(t, t.database()); java.sql.Statement st = c.createStatement()) {
            for (String key : manifest.contentSummary().keySet()) {
                int dot = key.indexOf('.');
                if (dot < 0) {
                    continue;
                }
                String table = LogicalJdbc.quoteIdent(key.substring(0, dot)) + "."
                        + LogicalJdbc.quoteIdent(key.substring(dot + 1));
                try (java.sql.ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table)) {
                    rs.next();
                    counts.put(key, rs.getLong(1));
                } catch (java.sql.SQLException missing) {
                    // left out: the comparison reports the table as missing
                }
            }
        } catch (java.sql.SQLException e) {
            throw PgJdbc.describe(t, t.database(), e);
        }
        return java.util.Optional.of(counts);
    }

    /** Physical sources have a continuous WAL archiver. */
    @Override
    public boolean supportsArchiving() {
        return true;
    }

    @Override
    public ArchiverSession openArchiver(PostgresConfig config) {
        if (config.mode() != PostgresConfig.Mode.PHYSICAL) {
            throw new IllegalArgumentException("source '" + config.name()
                    + "' is in logical mode; WAL archiving needs mode: physical");
        }
        return new PostgresWalArchiver(config);
    }

    @Override
    public RestoreSession openRestore(PostgresConfig config, RestoreOptions options) {
        return new RestoreSession() {
            @Override
            public void restore(ArtifactSource source) throws IOException {
                String method = source.manifest().method();
                if (METHOD_PHYSICAL.equals(method)) {
                    WalRecovery.Target target = WalRecovery.Target.from(options);
                    PhysicalRestore.run(config, source, options,
                            (dir, base, src) -> WalRecovery.prepare(dir, src, target));
                } else if (METHOD_LOGICAL.equals(method)) {
                    LogicalRestore.run(config, source, options);
                } else {
                    throw new IllegalArgumentException("backup " + source.manifest().backupId()
                            + " has method '" + method + "', not physical or logical");
                }
            }

            @Override
            public void close() {
            }
        };
    }
}
