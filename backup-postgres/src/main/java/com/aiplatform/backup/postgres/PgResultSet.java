package com.aiplatform.backup.postgres;

import java.util.ArrayList;
import java.util.List;

/**
 * One small result set received in text format: column names, rows (a value is null for SQL
 * NULL) and the command tag. Only used for the handful of rows that replication commands
 * and catalog queries return, never for bulk data.
 *
 * @param columns column names in order
 * @param rows    the rows, each as many values as columns
 * @param tag     the CommandComplete tag ({@code SELECT 1}), or empty
 */
record PgResultSet(List<String> columns, List<List<String>> rows, String tag) {
    PgResultSet {
        columns = List.copyOf(columns);
        List<List<String>> copy = new ArrayList<>(rows.size());
        for (List<String> r : rows) {
            copy.add(java.util.Collections.unmodifiableList(new ArrayList<>(r)));
        }
        rows = java.util.Collections.unmodifiableList(copy);
    }

    /** The index of a column by name. */
    int column(String name) {
        int i = columns.indexOf(name);
        if (i < 0) {
            throw new IllegalStateException("the server's result has no column '" + name + "' (columns: "
                    + columns + ")");
        }
        return i;
    }

    /** The value of {@code column} in the only row; fails unless there is exactly one row. */
    String single(String column) {
        if (rows.size() != 1) {
            throw new IllegalStateException("expected one row from the server, got " + rows.size());
        }
        return rows.get(0).get(column(column));
    }

    /** The value at row {@code row}, column {@code column}. */
    String value(int row, String column) {
        return rows.get(row).get(column(column));
    }
}
