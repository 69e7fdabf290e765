package com.aiplatform.backup.postgres;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Row counts per table for a backup's content summary, so a restore drill can compare the
 * restored server with what was there at backup time.
 *
 * <p>Which tables: every ordinary table (partitions included, partitioned parents not, so no
 * row is counted twice) outside the system schemas, in every database that allows
 * connections and is not a template. Unlogged and temporary tables are left out: a physical
 * backup does not hold their rows. Keys are {@code <schema>.<table>} for the configured
 * database and {@code <database>/<schema>.<table>} for the others.
 *
 * <p>How: exact {@code SELECT count(*)} in one read-only REPEATABLE READ transaction per
 * database (so counts of one database are mutually consistent), for every table whose
 * planner estimate ({@code pg_class.reltuples}) is at most {@link #EXACT_LIMIT} rows; above
 * that the estimate itself is recorded, and the table is listed as estimated, to keep the
 * summary cheap on big tables. Tables the user may not read, databases it may not connect to
 * and lock waits over {@link #LOCK_TIMEOUT} are skipped and listed; the summary never fails
 * a backup.
 */
final class PostgresRowCounts {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresRowCounts.class);
    /** Tables estimated above this many rows are not counted exactly. */
    static final long EXACT_LIMIT = 1_000_000;
    static final String LOCK_TIMEOUT = "5s";

    private PostgresRowCounts() {
    }

    /**
     * The counts and what could not be counted exactly.
     *
     * @param counts    rows per table key
     * @param estimated keys whose count is the planner's estimate
     * @param skipped   tables or databases left out, each with the reason
     */
    record Summary(Map<String, Long> counts, List<String> estimated, List<String> skipped) {
        Summary {
            counts = java.util.Collections.unmodifiableMap(new TreeMap<>(counts));
            estimated = List.copyOf(estimated);
            skipped = List.copyOf(skipped);
        }
    }

    /** Counts rows on the server of {@code config}; never throws for a server-side failure. */
    static Summary collect(PostgresConfig config) {
        return collect(config, EXACT_LIMIT);
    }

    /** Like {@link #collect(PostgresConfig)}, counting exactly only tables estimated at most {@code exactLimit} rows. */
    static Summary collect(PostgresConfig config, long exactLimit) {
        Map<String, Long> counts = new TreeMap<>();
        List<String> estimated = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        List<String> databases = new ArrayList<>();
        try (Connection c = PgJdbc.connect(config, config.database());
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate"
                     + " ORDER BY datname")) {
            while (rs.next()) {
                databases.add(rs.getString(1));
            }
        } catch (Exception e) {
            String reason = PgReplicationConnection.redact(config, e.getMessage());
            LOG.warn("no row counts recorded for {}: {}", config.name(), reason);
            skipped.add("*: " + reason);
            return new Summary(counts, estimated, skipped);
        }
        for (String db : databases) {
            String prefix = db.equals(config.database()) ? "" : db + "/";
            try (Connection c = PgJdbc.connect(config, db)) {
                countDatabase(c, prefix, exactLimit, counts, estimated, skipped);
            } catch (Exception e) {
                String reason = PgReplicationConnection.redact(config, e.getMessage());
                LOG.warn("no row counts recorded for database {} of {}: {}", db, config.name(), reason);
                skipped.add(prefix + "*: " + reason);
            }
        }
        return new Summary(counts, estimated, skipped);
    }

    private static void countDatabase(Connection c, String prefix, long exactLimit, Map<String, Long> counts,
                                      List<String> estimated, List<String> skipped) throws SQLException {
        record Table(String schema, String name, long estimate, boolean readable) { }
        c.setAutoCommit(false);
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        c.setReadOnly(true);
        try (Statement st = c.createStatement()) {
            st.execute("SET LOCAL lock_timeout = '" + LOCK_TIMEOUT + "'");
            List<Table> tables = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT n.nspname, c.relname, c.reltuples::bigint,"
                    + " has_table_privilege(c.oid, 'SELECT')"
                    + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + " WHERE c.relkind = 'r' AND c.relpersistence = 'p'"
                    + " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                    + " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
                    + " ORDER BY 1, 2")) {
                while (rs.next()) {
                    tables.add(new Table(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getBoolean(4)));
                }
            }
            for (Table t : tables) {
                String key = prefix + t.schema() + "." + t.name();
                if (!t.readable()) {
                    skipped.add(key + ": no SELECT privilege");
                } else if (t.estimate() > exactLimit) {
                    counts.put(key, t.estimate());
                    estimated.add(key);
                } else {
                    Savepoint sp = c.setSavepoint();
                    try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + quote(t.schema()) + "."
                            + quote(t.name()))) {
                        rs.next();
                        counts.put(key, rs.getLong(1));
                        c.releaseSavepoint(sp);
                    } catch (SQLException e) {
                        c.rollback(sp);
                        skipped.add(key + ": " + e.getMessage());
                    }
                }
            }
        } finally {
            c.rollback();
        }
    }

    /** A quoted SQL identifier. */
    static String quote(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }
}
