package com.aiplatform.backup.postgres;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * The fields of an ErrorResponse or NoticeResponse message: each field is a one-byte code
 * followed by a NUL-terminated string, the list ending with a zero byte.
 *
 * @param severity non-localised severity ({@code ERROR}, {@code FATAL}, {@code NOTICE}, ...)
 * @param sqlState the SQLSTATE code ({@code 28P01}), or empty when absent
 * @param message  the primary message
 * @param detail   the detail, or empty
 * @param hint     the hint, or empty
 */
record PgServerError(String severity, String sqlState, String message, String detail, String hint) {
    /** invalid_password */
    static final String INVALID_PASSWORD = "28P01";
    /** invalid_authorization_specification (no pg_hba.conf entry, unknown role) */
    static final String INVALID_AUTHORIZATION = "28000";
    /** insufficient_privilege (no REPLICATION attribute for a walsender) */
    static final String INSUFFICIENT_PRIVILEGE = "42501";
    /** too_many_connections (also: no free walsender) */
    static final String TOO_MANY_CONNECTIONS = "53300";
    /** cannot_connect_now (starting up, shutting down, in recovery) */
    static final String CANNOT_CONNECT_NOW = "57P03";
    /** invalid_catalog_name (the database does not exist) */
    static final String INVALID_CATALOG_NAME = "3D000";

    /** Parses the body of an ErrorResponse or NoticeResponse. */
    static PgServerError parse(byte[] body) throws IOException {
        Map<Character, String> fields = new HashMap<>();
        int[] pos = {0};
        while (pos[0] < body.length && body[pos[0]] != 0) {
            char code = (char) body[pos[0]++];
            fields.put(code, PgWire.cString(body, pos));
        }
        String severity = fields.getOrDefault('V', fields.getOrDefault('S', "ERROR"));
        return new PgServerError(severity, fields.getOrDefault('C', ""), fields.getOrDefault('M', "(no message)"),
                fields.getOrDefault('D', ""), fields.getOrDefault('H', ""));
    }

    /** True for a failed authentication (SQLSTATE class 28). */
    boolean isAuthentication() {
        return sqlState.startsWith("28");
    }

    /** {@code message (SQLSTATE xxxxx)} plus the detail and hint when present. */
    String describe() {
        StringBuilder s = new StringBuilder(message);
        if (!sqlState.isEmpty()) {
            s.append(" (SQLSTATE ").append(sqlState).append(')');
        }
        if (!detail.isEmpty()) {
            s.append("; ").append(detail);
        }
        if (!hint.isEmpty()) {
            s.append("; hint: ").append(hint);
        }
        return s.toString();
    }
}
