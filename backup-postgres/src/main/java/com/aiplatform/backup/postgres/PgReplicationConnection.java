package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.BackupException;
import com.aiplatform.backup.api.SourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal client of the PostgreSQL frontend/backend protocol (version 3) over a plain TCP
 * socket, for what pgjdbc cannot do: {@code BASE_BACKUP}, whose result sets come before and
 * after a COPY stream. Also used as a precise probe by the pre-flight check.
 *
 * <p>How it works:
 * <ol>
 *   <li>{@link #open} connects with {@code config.connectTimeout()} and sends the startup
 *       message ({@code user}, {@code database}, {@code replication=true|database} or none,
 *       {@code application_name}).</li>
 *   <li>Authentication ({@link PgAuthenticator}): trust, cleartext password, md5 and
 *       SCRAM-SHA-256 (the ongres SCRAM library pgjdbc uses). Until ReadyForQuery every read
 *       has the connect timeout's remaining time as its limit, so a host that accepts but never
 *       answers fails fast and clearly. An ErrorResponse becomes a {@link PgServerException}
 *       naming server and user (never the password); refused connections and timeouts are
 *       retriable {@link SourceException}s.</li>
 *   <li>{@link #query} runs a Simple Query and returns its small result sets;
 *       {@link #stream} also handles CopyOutResponse / CopyData / CopyDone, handing each
 *       CopyData body to a {@link CopyHandler} as a bounded stream on the socket.</li>
 * </ol>
 * No TLS: use it on trusted networks (or a local TLS tunnel). Not thread-safe; one query at a
 * time. Safe to close twice; closing mid-COPY makes the server abandon the command.
 */
final class PgReplicationConnection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PgReplicationConnection.class);
    static final String APPLICATION_NAME = "aiplatform-backup";

    /** Which kind of backend to start. */
    enum Mode {
        /** A normal backend: SQL only. */
        PLAIN(null),
        /** A physical walsender ({@code replication=true}): replication commands and SHOW. */
        PHYSICAL("true"),
        /** A walsender bound to a database ({@code replication=database}): replication commands and SQL. */
        DATABASE("database");

        final String parameter;

        Mode(String parameter) {
            this.parameter = parameter;
        }
    }

    /** Receives what a streamed query produces; every method runs on the reading thread. */
    interface CopyHandler {
        /** A complete (small) result set. */
        void resultSet(PgResultSet resultSet) throws IOException;

        /** The server starts a COPY OUT. */
        default void copyOutStart() throws IOException {
        }

        /**
         * One CopyData message; read its body through {@code body} ({@link PgWire#readBodyByte},
         * {@link PgWire#transferBody}, ...). Whatever is left unread is skipped.
         */
        void copyData(PgWire body) throws IOException;

        /** The COPY OUT ended (CopyDone). */
        default void copyDone() throws IOException {
        }
    }

    private final PostgresConfig config;
    private final Mode mode;
    private final Socket socket;
    private final PgWire wire;
    private final Map<String, String> parameters = new HashMap<>();
    private final String where;
    private boolean closed;
    private boolean broken;

    private PgReplicationConnection(PostgresConfig config, Mode mode, Socket socket) throws IOException {
        this.config = config;
        this.mode = mode;
        this.socket = socket;
        this.wire = new PgWire(socket);
        this.where = "PostgreSQL at " + config.host() + ":" + config.port();
    }

    /**
     * Connects, authenticates and waits for ReadyForQuery, all within {@code config.connectTimeout()}.
     *
     * @throws SourceException retriable when the server is unreachable, refuses the connection or
     *                         does not answer in time; a {@link PgServerException} when it refuses the
     *                         startup (authentication, privilege, no free walsender, unknown database)
     */
    static PgReplicationConnection open(PostgresConfig config, Mode mode) throws SourceException {
        return open(config, mode, config.database());
    }

    /** Like {@link #open(PostgresConfig, Mode)} to another database. */
    static PgReplicationConnection open(PostgresConfig config, Mode mode, String database) throws SourceException {
        Duration timeout = config.connectTimeout();
        long deadline = System.nanoTime() + timeout.toNanos();
        String where = "PostgreSQL at " + config.host() + ":" + config.port();
        Socket socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            socket.setKeepAlive(true);
            socket.connect(new InetSocketAddress(config.host(), config.port()), timeoutMillis(timeout));
        } catch (UnknownHostException e) {
            closeQuietly(socket);
            throw new PgUnreachableException("cannot reach " + where + ": unknown host '" + config.host() + "'", false, e);
        } catch (ConnectException e) {
            closeQuietly(socket);
            throw new PgUnreachableException("cannot reach " + where + ": connection refused (is the server running and "
                    + "listening on that address?)", true, e);
        } catch (SocketTimeoutException e) {
            closeQuietly(socket);
            throw new PgUnreachableException("cannot reach " + where + ": no connection within " + human(timeout)
                    + " (connect-timeout)", true, e);
        } catch (NoRouteToHostException e) {
            closeQuietly(socket);
            throw new PgUnreachableException("cannot reach " + where + ": no route to host", true, e);
        } catch (IOException e) {
            closeQuietly(socket);
            throw new PgUnreachableException("cannot reach " + where + ": " + e.getMessage(), true, e);
        }
        PgReplicationConnection c = null;
        try {
            c = new PgReplicationConnection(config, mode, socket);
            c.startup(database, deadline, timeout);
            socket.setSoTimeout(0);
            return c;
        } catch (SourceException e) {
            closeQuietly(socket);
            throw e;
        } catch (SocketTimeoutException e) {
            closeQuietly(socket);
            throw new PgUnreachableException(where + " accepted the connection but did not complete the startup of user \""
                    + config.user() + "\" within " + human(timeout) + " (connect-timeout); is it a PostgreSQL server, "
                    + "and is it overloaded?", true, e);
        } catch (EOFException | SocketException e) {
            closeQuietly(socket);
            throw new PgUnreachableException(where + " closed the connection during the startup of user \""
                    + config.user() + "\"" + (e.getMessage() == null ? "" : ": " + e.getMessage()), true, e);
        } catch (IOException | RuntimeException e) {
            closeQuietly(socket);
            throw new SourceException("connecting to " + where + " as \"" + config.user() + "\" failed: "
                    + (c == null ? e.getMessage() : c.redact(String.valueOf(e.getMessage()))), false, e);
        }
    }

    private void startup(String database, long deadline, Duration timeout) throws IOException {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("user", config.user());
        params.put("database", database);
        if (mode.parameter != null) {
            params.put("replication", mode.parameter);
        }
        params.put("application_name", APPLICATION_NAME);
        params.put("client_encoding", "UTF8");
        setDeadline(deadline, timeout);
        wire.writeStartup(params);
        PgAuthenticator auth = new PgAuthenticator(config, wire, where);
        setDeadline(deadline, timeout);
        int first = wire.peek();
        // a PostgreSQL server answers a startup message with authentication, an error, a notice or
        // a protocol negotiation; anything else is another kind of server on that port
        if (first >= 0 && first != 'R' && first != 'E' && first != 'N' && first != 'v') {
            throw new PgNotPostgresException(config.host() + ":" + config.port() + " did not answer like a PostgreSQL "
                    + "server (it sent '" + wire.sampleLine(60) + "'); are host and port those of PostgreSQL?");
        }
        while (true) {
            setDeadline(deadline, timeout);
            PgWire.Header h = wire.readHeader();
            switch (h.typeChar()) {
                case 'R' -> auth.handle(wire.readBody());
                case 'S' -> parameterStatus(wire.readBody());
                case 'K', 'N', 'v' -> wire.skipBody();
                case 'E' -> {
                    PgServerException refused = startupError(PgServerError.parse(wire.readBody()));
                    LOG.debug("startup refused: {}", refused.getMessage());
                    throw refused;
                }
                case 'Z' -> {
                    wire.skipBody();
                    LOG.debug("connected to {} as {} (mode {}, server {})", where, config.user(), mode,
                            serverVersion());
                    return;
                }
                default -> throw new IOException("unexpected message '" + h.typeChar() + "' during startup");
            }
        }
    }

    private void setDeadline(long deadline, Duration timeout) throws IOException {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw new SocketTimeoutException("startup took longer than " + human(timeout));
        }
        socket.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, left / 1_000_000)));
    }

    private PgServerException startupError(PgServerError e) {
        String user = "\"" + config.user() + "\"";
        String state = e.sqlState();
        String text = redact(e.describe());
        if (e.isAuthentication()) {
            String why = PgServerError.INVALID_PASSWORD.equals(state)
                    ? "the password is wrong or the user has none"
                    : "no pg_hba.conf entry allows this user/database/address, or the user does not exist";
            return new PgServerException(where + " refused authentication of user " + user + " (" + why + "): "
                    + text, e, false);
        }
        if (PgServerError.INSUFFICIENT_PRIVILEGE.equals(state) && mode != Mode.PLAIN) {
            return new PgServerException("user " + user + " may not open a replication connection to " + where
                    + ": it needs the REPLICATION attribute (ALTER ROLE ... REPLICATION) or superuser: " + text,
                    e, false);
        }
        if (PgServerError.TOO_MANY_CONNECTIONS.equals(state)) {
            return new PgServerException(where + " has no free connection for user " + user
                    + (mode != Mode.PLAIN ? " (max_wal_senders reached?)" : "") + ": " + text, e, true);
        }
        if (PgServerError.CANNOT_CONNECT_NOW.equals(state)) {
            return new PgServerException(where + " cannot accept connections now: " + text, e, true);
        }
        return new PgServerException(where + " refused the connection of user " + user + ": " + text, e, false);
    }

    private void parameterStatus(byte[] body) throws IOException {
        int[] pos = {0};
        String name = PgWire.cString(body, pos);
        String value = PgWire.cString(body, pos);
        parameters.put(name, value);
    }

    /** The server version as reported at startup ({@code 15.19}, {@code 17.11 (Debian 17.11-1)}). */
    String serverVersion() {
        return parameters.getOrDefault("server_version", "unknown");
    }

    /** The major version (15, 16, ...), or 0 when the server did not say. */
    int serverMajor() {
        return majorOf(serverVersion());
    }

    /** Major version of a {@code server_version} text; 9 for 9.6, 0 when unparsable. */
    static int majorOf(String version) {
        int end = 0;
        while (end < version.length() && Character.isDigit(version.charAt(end))) {
            end++;
        }
        return end == 0 ? 0 : Integer.parseInt(version.substring(0, end));
    }

    /** A server parameter reported at startup ({@code server_version}, {@code is_superuser}, ...). */
    String parameter(String name) {
        return parameters.get(name);
    }

    /** "PostgreSQL at host:port", for messages. */
    String where() {
        return where;
    }

    /**
     * Limits each read while waiting for a query's answer; zero waits forever (TCP keep-alive
     * still detects a dead peer). Default zero.
     */
    void readTimeout(Duration timeout) throws SourceException {
        try {
            socket.setSoTimeout(timeout.isZero() ? 0 : timeoutMillis(timeout));
        } catch (SocketException e) {
            throw new SourceException("connection to " + where + " is unusable: " + e.getMessage(), true, e);
        }
    }

    /** Runs a Simple Query and returns its result sets; a COPY in the answer is refused. */
    List<PgResultSet> query(String sql) throws SourceException {
        List<PgResultSet> results = new ArrayList<>();
        try {
            stream(sql, new CopyHandler() {
                @Override
                public void resultSet(PgResultSet resultSet) {
                    results.add(resultSet);
                }

                @Override
                public void copyData(PgWire body) throws IOException {
                    throw new IOException("the server started a COPY, which this query does not expect");
                }
            });
        } catch (SourceException e) {
            throw e;
        } catch (IOException e) {
            throw new SourceException(redact(String.valueOf(e.getMessage())), false, e);
        }
        return results;
    }

    /** Runs a query expected to return exactly one result set, and returns it. */
    PgResultSet queryOne(String sql) throws SourceException {
        List<PgResultSet> results = query(sql);
        if (results.size() != 1) {
            throw new SourceException(where + " answered '" + firstWord(sql) + "' with " + results.size()
                    + " result sets instead of one", false);
        }
        return results.get(0);
    }

    /**
     * Runs a Simple Query whose answer may hold result sets and a COPY OUT stream, delivering
     * everything to {@code handler} in order. A server error ({@link PgServerException}) is
     * thrown once the server is ready again, so the connection stays usable. A failure of the
     * handler (its {@link BackupException}, e.g. from storage, is rethrown unchanged) or of the
     * connection closes the connection, which makes the server abandon the command.
     */
    void stream(String sql, CopyHandler handler) throws IOException {
        if (closed || broken) {
            throw new IllegalStateException("connection to " + where + " is closed");
        }
        String command = firstWord(sql);
        PgServerError error = null;
        boolean copying = false;
        List<String> columns = null;
        List<List<String>> rows = new ArrayList<>();
        try {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            PgWire.writeCString(body, sql);
            wire.writeMessage('Q', body.toByteArray());
            while (true) {
                PgWire.Header h = wire.readHeader();
                switch (h.typeChar()) {
                    case 'T' -> {
                        columns = rowDescription(wire.readBody());
                        rows = new ArrayList<>();
                    }
                    case 'D' -> {
                        if (columns == null) {
                            throw new IOException("data row without a row description");
                        }
                        rows.add(dataRow(wire.readBody(), columns.size()));
                    }
                    case 'C' -> {
                        String tag = PgWire.cString(wire.readBody(), new int[] {0});
                        if (columns != null && error == null) {
                            handler.resultSet(new PgResultSet(columns, rows, tag));
                        }
                        columns = null;
                        rows = new ArrayList<>();
                    }
                    case 'H' -> {
                        wire.skipBody();
                        copying = true;
                        if (error == null) {
                            handler.copyOutStart();
                        }
                    }
                    case 'd' -> {
                        if (!copying) {
                            throw new IOException("CopyData outside a COPY");
                        }
                        if (error == null) {
                            handler.copyData(wire);
                        }
                        wire.skipBody();
                    }
                    case 'c' -> {
                        wire.skipBody();
                        copying = false;
                        if (error == null) {
                            handler.copyDone();
                        }
                    }
                    case 'G' -> {
                        wire.skipBody();
                        ByteArrayOutputStream fail = new ByteArrayOutputStream();
                        PgWire.writeCString(fail, "COPY FROM STDIN is not supported by this client");
                        wire.writeMessage('f', fail.toByteArray());
                    }
                    case 'W' -> throw new IOException("the server started a COPY BOTH, which this client does not "
                            + "support for '" + command + "'");
                    case 'E' -> {
                        PgServerError e = PgServerError.parse(wire.readBody());
                        if (error == null) {
                            error = e;
                        }
                        copying = false;
                    }
                    case 'N' -> {
                        PgServerError notice = PgServerError.parse(wire.readBody());
                        LOG.info("{} says: {}", where, redact(notice.describe()));
                    }
                    case 'S' -> parameterStatus(wire.readBody());
                    case 'I', 'A', 'K' -> wire.skipBody();
                    case 'Z' -> {
                        wire.skipBody();
                        if (error != null) {
                            throw new PgServerException(where + " refused '" + command + "': "
                                    + redact(error.describe()), error, false);
                        }
                        return;
                    }
                    default -> throw new IOException("unexpected message '" + h.typeChar() + "' in the answer to '"
                            + command + "'");
                }
            }
        } catch (PgServerException e) {
            throw e;
        } catch (BackupException e) {
            // the handler's own failure (storage, integrity): the COPY cannot continue
            broken = true;
            close();
            throw e;
        } catch (SocketTimeoutException e) {
            broken = true;
            close();
            throw new SourceException(where + " did not answer '" + command + "' in time", true, e);
        } catch (EOFException | SocketException e) {
            broken = true;
            close();
            throw new SourceException("the connection to " + where + " broke during '" + command + "': "
                    + e.getMessage(), true, e);
        } catch (IOException e) {
            broken = true;
            close();
            throw new SourceException("'" + command + "' on " + where + " failed: " + redact(String.valueOf(
                    e.getMessage())), false, e);
        }
    }

    private static List<String> rowDescription(byte[] body) throws IOException {
        int[] pos = {0};
        int n = PgWire.int16(body, pos);
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            names.add(PgWire.cString(body, pos));
            pos[0] += 18; // table oid, column number, type oid, type length, type modifier, format code
        }
        return names;
    }

    private static List<String> dataRow(byte[] body, int expected) throws IOException {
        int[] pos = {0};
        int n = PgWire.int16(body, pos);
        if (n != expected) {
            throw new IOException("data row with " + n + " values for " + expected + " columns");
        }
        List<String> values = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int len = PgWire.int32(body, pos);
            if (len < 0) {
                values.add(null);
            } else {
                if (pos[0] + len > body.length) {
                    throw new IOException("data row value runs past the message");
                }
                values.add(new String(body, pos[0], len, StandardCharsets.UTF_8));
                pos[0] += len;
            }
        }
        return values;
    }

    /** Replaces any occurrence of the configured password (servers never echo it; belt and braces). */
    String redact(String message) {
        return redact(config, message);
    }

    static String redact(PostgresConfig config, String message) {
        if (message == null) {
            return "";
        }
        String password = config.password().map(s -> s.reveal()).orElse(null);
        return password == null || password.isEmpty() ? message : message.replace(password, "******");
    }

    private static String firstWord(String sql) {
        String s = sql.strip();
        int end = 0;
        while (end < s.length() && (Character.isLetter(s.charAt(end)) || s.charAt(end) == '_')) {
            end++;
        }
        return end == 0 ? "query" : s.substring(0, end).toUpperCase(java.util.Locale.ROOT);
    }

    private static int timeoutMillis(Duration d) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, d.toMillis()));
    }

    static String human(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? (ms / 1000) + " s" : ms + " ms";
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    /** Sends Terminate (when the connection is idle) and closes the socket. Safe to call twice. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!broken) {
            try {
                socket.setSoTimeout(1000);
                wire.writeMessage('X', new byte[0]);
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        closeQuietly(socket);
    }
}
