package com.aiplatform.backup.postgres;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The tables whose rows a {@code pg_dump} with the configured {@code -n}/{@code -t}/{@code -N}/{@code -T}
 * patterns writes, found in the catalog with the same rules pg_dump applies:
 * <ul>
 *   <li>patterns are psql patterns ({@code *}, {@code ?}, double quotes for exact case, {@code .}
 *       between schema and name; other regular-expression characters pass through) and are
 *       matched by the server's regular expressions, as pg_dump does;</li>
 *   <li>{@code -t}: only the matching tables; {@code -n}/{@code -N} then have no effect; an
 *       unqualified table pattern matches tables visible in the default {@code search_path};</li>
 *   <li>otherwise every table of the {@code -n} schemas (all non-system schemas when none),
 *       minus the {@code -N} schemas;</li>
 *   <li>{@code -T} always removes tables; tables belonging to extensions are not dumped.</li>
 * </ul>
 * Only ordinary tables ({@code relkind = 'r'}, partitions included) hold rows; partitioned
 * parents, views, sequences and foreign tables are not counted.
 */
final class LogicalSelection {
    private LogicalSelection() {
    }

    /**
     * A table included in the dump.
     *
     * @param schema its schema
     * @param name   its name
     */
    record Table(String schema, String name) {
        /** {@code schema.table} as used in the content summary. */
        String key() {
            return schema + "." + name;
        }

        /** The quoted, schema-qualified name for SQL. */
        String sql() {
            return LogicalJdbc.quoteIdent(schema) + "." + LogicalJdbc.quoteIdent(name);
        }
    }

    /**
     * A psql name pattern split into (optional) schema and name regular expressions.
     *
     * @param schemaRegex anchored regular expression for the schema, or null when unqualified
     * @param nameRegex   anchored regular expression for the name
     */
    record Pattern(String schemaRegex, String nameRegex) { }

    /** The tables a dump with this configuration's selection includes, sorted by schema and name. */
    static List<Table> tables(Connection c, PostgresConfig config) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
                + "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                + "WHERE c.relkind = 'r' AND c.relpersistence <> 't' "
                + "AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "
                + "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
                + "WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')");
        List<String> params = new ArrayList<>();
        if (!config.tables().isEmpty()) {
            sql.append(" AND (");
            appendAny(sql, params, config.tables(), true);
            sql.append(")");
        } else {
            if (!config.schemas().isEmpty()) {
                sql.append(" AND (");
                appendAnySchema(sql, params, config.schemas());
                sql.append(")");
            }
            if (!config.excludeSchemas().isEmpty()) {
                sql.append(" AND NOT (");
                appendAnySchema(sql, params, config.excludeSchemas());
                sql.append(")");
            }
        }
        if (!config.excludeTables().isEmpty()) {
            sql.append(" AND NOT (");
            appendAny(sql, params, config.excludeTables(), true);
            sql.append(")");
        }
        sql.append(" ORDER BY 1, 2");
        List<Table> tables = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            for (int i = 0; i < params.size(); i++) {
                ps.setString(i + 1, params.get(i));
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    tables.add(new Table(rs.getString(1), rs.getString(2)));
                }
            }
        }
        return tables;
    }

    private static void appendAny(StringBuilder sql, List<String> params, List<String> patterns, boolean tables) {
        for (int i = 0; i < patterns.size(); i++) {
            if (i > 0) {
                sql.append(" OR ");
            }
            Pattern p = parse(patterns.get(i), 2);
            sql.append("(c.relname OPERATOR(pg_catalog.~) ? COLLATE pg_catalog.default");
            params.add(p.nameRegex());
            if (p.schemaRegex() != null) {
                sql.append(" AND n.nspname OPERATOR(pg_catalog.~) ? COLLATE pg_catalog.default");
                params.add(p.schemaRegex());
            } else if (tables) {
                sql.append(" AND pg_catalog.pg_table_is_visible(c.oid)");
            }
            sql.append(")");
        }
    }

    private static void appendAnySchema(StringBuilder sql, List<String> params, List<String> patterns) {
        for (int i = 0; i < patterns.size(); i++) {
            if (i > 0) {
                sql.append(" OR ");
            }
            sql.append("n.nspname OPERATOR(pg_catalog.~) ? COLLATE pg_catalog.default");
            params.add(parse(patterns.get(i), 1).nameRegex());
        }
    }

    /**
     * Translates a psql pattern as psql's {@code patternToSQLRegex} does. {@code maxParts} is 2
     * for relations ({@code schema.table}) and 1 for schemas; one more leading part, a database
     * name, is accepted and ignored (pg_dump checks it against the connected database).
     *
     * @throws IllegalArgumentException when the pattern has too many dotted parts
     */
    static Pattern parse(String pattern, int maxParts) {
        List<StringBuilder> parts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        parts.add(current);
        boolean inQuotes = false;
        int i = 0;
        while (i < pattern.length()) {
            char ch = pattern.charAt(i);
            if (ch == '"') {
                if (inQuotes && i + 1 < pattern.length() && pattern.charAt(i + 1) == '"') {
                    current.append('"');
                    i++;
                } else {
                    inQuotes = !inQuotes;
                }
            } else if (!inQuotes && Character.isUpperCase(ch) && ch < 128) {
                current.append(Character.toLowerCase(ch));
            } else if (!inQuotes && ch == '*') {
                current.append(".*");
            } else if (!inQuotes && ch == '?') {
                current.append('.');
            } else if (!inQuotes && ch == '.') {
                current = new StringBuilder();
                parts.add(current);
            } else if (ch == '$') {
                current.append("\\$");
            } else {
                if (inQuotes && "|*+?()[]{}.^$\\".indexOf(ch) >= 0) {
                    current.append('\\');
                } else if (ch == '[' && i + 1 < pattern.length() && pattern.charAt(i + 1) == ']') {
                    current.append('\\');
                }
                current.append(ch);
            }
            i++;
        }
        if (parts.size() > maxParts + 1) {
            throw new IllegalArgumentException("pattern '" + pattern + "' has too many dotted names (at most "
                    + (maxParts + 1) + " parts)");
        }
        String name = anchored(parts.get(parts.size() - 1));
        String schema = maxParts == 2 && parts.size() >= 2 ? anchored(parts.get(parts.size() - 2)) : null;
        return new Pattern(schema, name);
    }

    private static String anchored(StringBuilder regex) {
        return "^(" + regex + ")$";
    }

    /** For messages: the selection as pg_dump options ({@code -n sales -T audit.*}), or "whole database". */
    static String describe(PostgresConfig config) {
        List<String> parts = new ArrayList<>();
        config.schemas().forEach(s -> parts.add("-n " + s));
        config.tables().forEach(s -> parts.add("-t " + s));
        config.excludeSchemas().forEach(s -> parts.add("-N " + s));
        config.excludeTables().forEach(s -> parts.add("-T " + s));
        return parts.isEmpty() ? "whole database" : String.join(" ", parts);
    }
}
