package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.DrillReport;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Restore drills on PostgreSQL (logical backups restored into a scratch database): a drill
 * records its duration and passes; a backup whose recorded summary does not match what it holds
 * (a tampered fixture) fails the drill and names the table.
 */
class PostgresDrillIT {
    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder().alwaysEmbedded().build();

    @TempDir
    Path tmp;

    @BeforeEach
    void tools() {
        LogicalTestSupport.assumeTools();
    }

    /** The real provider, but the summary it records claims one row more in app.orders. */
    static final class LyingProvider implements BackupProvider<PostgresConfig> {
        private final PostgresBackupProvider real = new PostgresBackupProvider();

        @Override
        public String engine() {
            return real.engine();
        }

        @Override
        public Class<PostgresConfig> configType() {
            return real.configType();
        }

        @Override
        public PostgresConfig parseConfig(String name, Settings settings) {
            return real.parseConfig(name, settings);
        }

        @Override
        public List<Problem> check(PostgresConfig config) {
            return real.check(config);
        }

        @Override
        public BackupSession openBackup(PostgresConfig config, BackupContext context) throws IOException {
            BackupSession session = real.openBackup(config, context);
            return new BackupSession() {
                @Override
                public BackupResult run(ArtifactSink sink) throws IOException {
                    BackupResult r = session.run(sink);
                    Map<String, Long> summary = new HashMap<>(r.contentSummary());
                    summary.merge("app.orders", 1L, Long::sum);
                    return new BackupResult(r.kind(), r.method(), r.consistentPoint(), r.parent(), r.metadata(), summary);
                }

                @Override
                public void close() throws IOException {
                    session.close();
                }
            };
        }

        @Override
        public RestoreSession openRestore(PostgresConfig config, RestoreOptions options) throws IOException {
            return real.openRestore(config, options);
        }

        @Override
        public Optional<Map<String, Long>> summarizeRestored(PostgresConfig config,
                com.aiplatform.backup.api.Manifest manifest, RestoreOptions options) throws IOException {
            return real.summarizeRestored(config, manifest, options);
        }
    }

    @Test
    void aDrillRecordsItsDurationAndPassesAndATamperedSummaryFailsNamingTheTable() throws Exception {
        LogicalTestSupport.execute(PG, "postgres", "DROP DATABASE IF EXISTS shop");
        LogicalTestSupport.execute(PG, "postgres", "CREATE DATABASE shop");
        LogicalTestSupport.execute(PG, "shop", "CREATE SCHEMA app",
                "CREATE TABLE app.orders (id int PRIMARY KEY, total numeric)",
                "INSERT INTO app.orders SELECT g, g * 1.5 FROM generate_series(1, 5000) g",
                "CREATE TABLE app.customers (id int PRIMARY KEY, name text)",
                "INSERT INTO app.customers SELECT g, 'c' || g FROM generate_series(1, 300) g");
        PostgresConfig config = LogicalTestSupport.config(PG, "shop-pg", "shop").build();
        String scratchUrl = "postgresql://127.0.0.1:" + PG.port() + "/shop_drill";

        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            engine.backup(config);
            DrillReport report = engine.drill(config, "latest", new RestoreOptions(Optional.empty(), false,
                    Map.of("target-url", scratchUrl, "create-database", "true")));
            assertThat(report.differences()).isEmpty();
            assertThat(report.passed()).isTrue();
            assertThat(report.compared()).isTrue();
            assertThat(report.duration()).isPositive();
            assertThat(report.bytesPerSecond()).isPositive();
            assertThat(engine.drills("shop-pg")).singleElement()
                    .satisfies(d -> assertThat(d.backupId()).isEqualTo(report.backupId()));
            assertThat(engine.rtoEstimate("shop-pg")).isPresent();
        }
        LogicalTestSupport.execute(PG, "postgres", "DROP DATABASE IF EXISTS shop_drill");

        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", tmp.resolve("storage2"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).provider(new LyingProvider()).build()) {
            engine.backup(config);
            DrillReport report = engine.drill(config, "latest", new RestoreOptions(Optional.empty(), false,
                    Map.of("target-url", scratchUrl, "create-database", "true")));
            assertThat(report.passed()).isFalse();
            assertThat(report.differences()).singleElement().asString()
                    .contains("app.orders").contains("5001 at backup time").contains("5000 after restore");
        } finally {
            LogicalTestSupport.execute(PG, "postgres", "DROP DATABASE IF EXISTS shop_drill", "DROP DATABASE IF EXISTS shop");
        }
    }
}
