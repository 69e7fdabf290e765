package com.aiplatform.backup.cli;

import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.SourceConfig;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The demo's PostgreSQL: an embedded PostgreSQL 15 with a few tables, backed up physically
 * (pure-Java base backup) with the WAL archiver running; rows written after the base backup
 * must come back from the archive when the backup is restored to "latest" and a server is
 * started on the restored data directory.
 */
final class PostgresDemoSource implements DemoSource {
    private EmbeddedPostgres source;
    private EmbeddedPostgres restored;
    private Path restoreDir;
    private BackupEngine.Archiver archiver;
    private Map<String, String> before;
    private long rows;
    private long rowsAfterBackup;
    private String version;

    @Override
    public String name() {
        return "main-pg";
    }

    @Override
    public String engine() {
        return "postgres";
    }

    @Override
    public Map<String, Object> prepare(Path workDir, int sizeMb) throws Exception {
        Path dataDir = Files.createDirectories(workDir.resolve("sources/pg-data"));
        source = EmbeddedPostgres.builder().setDataDirectory(dataDir).setCleanDataDirectory(true)
                .setServerConfig("max_wal_senders", "4").start();
        long embeddings = Math.max(1_000, sizeMb * 4_000L);
        execute(source.getPort(),
                "CREATE SCHEMA app",
                "CREATE TABLE app.customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE)",
                "INSERT INTO app.customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com'"
                        + " FROM generate_series(1, 2000) g",
                "CREATE TABLE app.embeddings (id bigint PRIMARY KEY, customer int REFERENCES app.customers, "
                        + "vec float8[], label text)",
                "INSERT INTO app.embeddings SELECT g, 1 + g % 2000, ARRAY[sin(g), cos(g), g * 0.001], md5(g::text)"
                        + " FROM generate_series(1, " + embeddings + ") g",
                "CREATE INDEX embeddings_label ON app.embeddings (label)",
                "CHECKPOINT");
        rows = 2_000 + embeddings;
        version = query(source.getPort(), "SHOW server_version");
        Map<String, Object> block = new LinkedHashMap<>();
        block.put("url", "postgresql://127.0.0.1:" + source.getPort() + "/postgres");
        block.put("user", "postgres");
        block.put("mode", "physical");
        block.put("wal-flush-interval", "1s");
        return block;
    }

    @Override
    public void beforeBackup(BackupEngine engine, SourceConfig config) throws Exception {
        archiver = engine.startArchiver(config);
    }

    @Override
    public void afterBackup(BackupEngine engine, SourceConfig config) throws Exception {
        rowsAfterBackup = 500;
        execute(source.getPort(),
                "INSERT INTO app.customers (name, email) SELECT 'late customer ' || g, 'late' || g || '@example.com'"
                        + " FROM generate_series(1, " + rowsAfterBackup + ") g",
                "UPDATE app.customers SET name = name || ' (updated)' WHERE id <= 100");
        Instant written = Instant.parse(query(source.getPort(),
                "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (engine.segments(name()).stream().noneMatch(s -> s.coveredUntil().isAfter(written))) {
            if (System.nanoTime() > deadline || !archiver.status().running()) {
                throw new IllegalStateException("the WAL archiver did not store the rows written after the base "
                        + "backup within 120 s" + (archiver.status().failure() == null ? ""
                        : ": " + archiver.status().failure()));
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        archiver.stop();
        before = fingerprint(source.getPort());
    }

    @Override
    public String describe() {
        return "PostgreSQL " + version + ", " + rows + " rows in 2 tables, base backup + WAL archive; "
                + rowsAfterBackup + " rows written after the base backup are recovered from the archive";
    }

    @Override
    public RestoreOptions restoreOptions(Path workDir) {
        restoreDir = workDir.resolve("restored/pg-data");
        return RestoreOptions.intoDirectory(restoreDir);
    }

    @Override
    public List<String> compare() throws Exception {
        restored = EmbeddedPostgres.builder().setDataDirectory(restoreDir).setCleanDataDirectory(false).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!"f".equals(query(restored.getPort(), "SELECT pg_is_in_recovery()"))) {
            if (System.nanoTime() > deadline) {
                return List.of("the restored server did not finish recovery within 120 s");
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        Map<String, String> after = fingerprint(restored.getPort());
        List<String> differences = new ArrayList<>();
        for (String table : before.keySet()) {
            if (!before.get(table).equals(after.get(table))) {
                differences.add("table " + table + ": " + before.get(table) + " before, "
                        + after.getOrDefault(table, "missing") + " restored");
            }
        }
        for (String table : after.keySet()) {
            if (!before.containsKey(table)) {
                differences.add("table " + table + " appeared in the restored copy");
            }
        }
        return differences;
    }

    @Override
    public void close() throws java.io.IOException {
        try {
            if (archiver != null && archiver.status().running()) {
                archiver.stop();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            try {
                if (restored != null) {
                    restored.close();
                }
            } finally {
                if (source != null) {
                    source.close();
                }
            }
        }
    }

    /** {@code schema.table -> "rows:md5 of all rows in key order"} for the user tables. */
    private static Map<String, String> fingerprint(int port) throws SQLException {
        Map<String, String> result = new TreeMap<>();
        try (Connection c = connect(port); Statement st = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT schemaname || '.' || tablename FROM pg_tables "
                    + "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            for (String table : tables) {
                try (ResultSet rs = st.executeQuery("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' "
                        + "ORDER BY t::text)), '') FROM " + table + " t")) {
                    rs.next();
                    result.put(table, rs.getString(1));
                }
            }
        }
        return result;
    }

    private static void execute(int port, String... statements) throws SQLException {
        try (Connection c = connect(port); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        }
    }

    private static String query(int port, String sql) throws SQLException {
        try (Connection c = connect(port); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static Connection connect(int port) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres");
    }
}
