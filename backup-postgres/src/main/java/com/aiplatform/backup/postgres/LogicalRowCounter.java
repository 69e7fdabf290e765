package com.aiplatform.backup.postgres;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Counts the rows of every dumped table exactly ({@code count(*)}) on the connection that holds the
 * exported snapshot, on its own thread while pg_dump runs, so the counts describe exactly the
 * snapshot pg_dump writes. {@link #cancel()} stops the running count.
 */
final class LogicalRowCounter {
    private final Connection connection;
    private final List<LogicalSelection.Table> tables;
    private volatile Statement running;
    private volatile boolean cancelled;
    private volatile long elapsedNanos;

    LogicalRowCounter(Connection connection, List<LogicalSelection.Table> tables) {
        this.connection = connection;
        this.tables = List.copyOf(tables);
    }

    /** Starts counting on a new daemon thread; the future holds {@code schema.table -> rows}. */
    CompletableFuture<Map<String, Long>> start() {
        CompletableFuture<Map<String, Long>> result = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            long start = System.nanoTime();
            try {
                Map<String, Long> counts = count();
                elapsedNanos = System.nanoTime() - start;
                result.complete(counts);
            } catch (Throwable e) {
                elapsedNanos = System.nanoTime() - start;
                result.completeExceptionally(e);
            }
        }, "pg-row-count");
        t.setDaemon(true);
        t.start();
        return result;
    }

    private Map<String, Long> count() throws SQLException {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (LogicalSelection.Table table : tables) {
            if (cancelled) {
                throw new SQLException("row counting was cancelled", "57014");
            }
            try (Statement st = connection.createStatement()) {
                running = st;
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table.sql())) {
                    rs.next();
                    counts.put(table.key(), rs.getLong(1));
                }
            } finally {
                running = null;
            }
        }
        return counts;
    }

    /** How long counting took, once the future is complete. */
    long elapsedMillis() {
        return elapsedNanos / 1_000_000;
    }

    /** Stops counting: no further table is started and the running query is cancelled. */
    void cancel() {
        cancelled = true;
        Statement st = running;
        if (st != null) {
            try {
                st.cancel();
            } catch (SQLException ignored) {
                // the statement finished meanwhile
            }
        }
    }
}
