package com.aiplatform.backup.postgres;

import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import org.assertj.core.api.Assertions;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.Assumptions;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/** Shared helpers of the logical-backup integration tests. */
final class LogicalTestSupport {
    static final List<String> TOOLS = List.of("pg_dump", "pg_dumpall", "pg_restore", "psql");
    /** Debian's PostgreSQL 15 client tools on the build machine. */
    static final Path DEBIAN_15_BIN = Path.of("/usr/lib/postgresql/15/bin");

    private LogicalTestSupport() {
    }

    /**
     * Skips the calling test class unless every client tool is found, independently of the code
     * under test: in /usr/lib/postgresql/15/bin or on PATH. The message names what is missing and where we looked.
     */
    static void assumeTools() {
        Optional<String> missing = missingTools();
        Assumptions.assumeTrue(missing.isEmpty(), () -> missing.orElse(""));
    }

    static Optional<String> missingTools() {
        List<String> missing = new ArrayList<>();
        for (String tool : TOOLS) {
            if (toolPath(tool).isEmpty()) {
                missing.add(tool);
            }
        }
        if (missing.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of("skipped: PostgreSQL 15 client tool(s) " + missing + " not found in " + DEBIAN_15_BIN
                + " nor on PATH (" + System.getenv("PATH") + "); install postgresql-client-15 to run this test");
    }

    /** The executable of a tool: Debian's PostgreSQL 15 directory first, then PATH. */
    static Optional<Path> toolPath(String tool) {
        Path debian = DEBIAN_15_BIN.resolve(tool);
        if (Files.isExecutable(debian)) {
            return Optional.of(debian);
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                if (!dir.isBlank() && Files.isExecutable(Path.of(dir, tool))) {
                    return Optional.of(Path.of(dir, tool));
                }
            }
        }
        return Optional.empty();
    }

    /** A logical-mode config for {@code database} on the test server (no tools-dir: exercises the lookup). */
    static PostgresConfig.Builder config(EmbeddedPostgresExtension pg, String name, String database) {
        return PostgresConfig.builder(name).host(pg.host()).port(pg.port()).user(pg.user()).database(database)
                .mode(PostgresConfig.Mode.LOGICAL);
    }

    /** Runs a client tool against the test server and returns its standard output; fails on a non-zero exit. */
    static String runTool(String tool, List<String> args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(toolPath(tool).orElseThrow().toString());
        command.addAll(args);
        Path out = Files.createTempFile("logical-it-", ".out");
        Path err = Files.createTempFile("logical-it-", ".err");
        try {
            Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            p.getOutputStream().close();
            int exit = p.waitFor();
            if (exit != 0) {
                throw new IOException(command + " exited with " + exit + ": " + Files.readString(err));
            }
            return Files.readString(out, StandardCharsets.UTF_8);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** {@code pg_dump --schema-only} of a database, normalised: database name replaced, \restrict lines dropped. */
    static String schemaDump(EmbeddedPostgresExtension pg, String database) throws Exception {
        String dump = runTool("pg_dump", List.of("--schema-only", "--host=" + pg.host(), "--port=" + pg.port(),
                "--username=" + pg.user(), "--no-password", "--dbname=" + database));
        StringBuilder normalised = new StringBuilder();
        for (String line : dump.split("\n", -1)) {
            if (line.startsWith("\\restrict ") || line.startsWith("\\unrestrict ")) {
                continue; // a random key per run (pg_dump 15.14 and later)
            }
            normalised.append(line.replace(database, "<database>")).append('\n');
        }
        return normalised.toString();
    }

    static Connection connect(EmbeddedPostgresExtension pg, String database) throws SQLException {
        return DriverManager.getConnection(pg.jdbcUrl(database));
    }

    static void execute(EmbeddedPostgresExtension pg, String database, String... statements) throws SQLException {
        try (Connection c = connect(pg, database); Statement st = c.createStatement()) {
            for (String sql : statements) {
                st.execute(sql);
            }
        }
    }

    static List<List<String>> query(EmbeddedPostgresExtension pg, String database, String sql) throws SQLException {
        try (Connection c = connect(pg, database); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            List<List<String>> rows = new ArrayList<>();
            int columns = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> row = new ArrayList<>();
                for (int i = 1; i <= columns; i++) {
                    row.add(rs.getString(i));
                }
                rows.add(row);
            }
            return rows;
        }
    }

    static boolean databaseExists(EmbeddedPostgresExtension pg, String database) throws SQLException {
        try (Connection c = connect(pg, "postgres");
             java.sql.PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    static void dropDatabase(EmbeddedPostgresExtension pg, String database) throws SQLException {
        execute(pg, "postgres", "DROP DATABASE IF EXISTS " + LogicalJdbc.quoteIdent(database) + " WITH (FORCE)");
    }

    /**
     * Fingerprint of a database's content: for every table and materialized view outside the system
     * schemas, md5 of all rows in text form; for every sequence, its last value and is_called.
     */
    static Map<String, String> contentFingerprint(EmbeddedPostgresExtension pg, String database) throws SQLException {
        Map<String, String> fingerprint = new TreeMap<>();
        List<List<String>> relations = query(pg, database, "SELECT n.nspname, c.relname, c.relkind FROM pg_class c "
                + "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm', 'S') "
                + "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
                + "ORDER BY 1, 2");
        for (List<String> r : relations) {
            String name = LogicalJdbc.quoteIdent(r.get(0)) + "." + LogicalJdbc.quoteIdent(r.get(1));
            String sql = r.get(2).equals("S")
                    ? "SELECT last_value || '/' || is_called FROM " + name
                    : "SELECT count(*) || '/' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-') FROM "
                    + name + " t";
            fingerprint.put(r.get(0) + "." + r.get(1) + " (" + r.get(2) + ")", query(pg, database, sql).get(0).get(0));
        }
        return fingerprint;
    }

    /** Exact row counts of the ordinary tables of some schemas: {@code schema.table -> rows}. */
    static Map<String, Long> rowCounts(EmbeddedPostgresExtension pg, String database, Set<String> schemas)
            throws SQLException {
        Map<String, Long> counts = new TreeMap<>();
        for (List<String> r : query(pg, database, "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
                + "ON n.oid = c.relnamespace WHERE c.relkind = 'r' ORDER BY 1, 2")) {
            if (schemas.contains(r.get(0))) {
                String name = LogicalJdbc.quoteIdent(r.get(0)) + "." + LogicalJdbc.quoteIdent(r.get(1));
                counts.put(r.get(0) + "." + r.get(1), Long.parseLong(query(pg, database,
                        "SELECT count(*) FROM " + name).get(0).get(0)));
            }
        }
        return counts;
    }

    /** What {@code call} throws, which must be a {@code type}; a clear assertion failure otherwise. */
    static <T extends Throwable> T thrown(Class<T> type, ThrowableAssert.ThrowingCallable call) {
        Throwable t = Assertions.catchThrowable(call);
        Assertions.assertThat(t).as("expected a %s", type.getSimpleName()).isInstanceOf(type);
        return type.cast(t);
    }

    /** An artifact sink in memory for small test backups; records which artifacts were closed (committed). */
    static final class MemorySink implements ArtifactSink {
        final Map<String, ByteArrayOutputStream> artifacts = new LinkedHashMap<>();
        final Set<String> closed = ConcurrentHashMap.newKeySet();

        @Override
        public synchronized OutputStream openArtifact(String name) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            artifacts.put(name, bytes);
            return new OutputStream() {
                @Override
                public void write(int b) {
                    bytes.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    bytes.write(b, off, len);
                }

                @Override
                public void close() {
                    closed.add(name);
                }
            };
        }

        String text(String name) {
            return artifacts.get(name).toString(StandardCharsets.UTF_8);
        }
    }
}
