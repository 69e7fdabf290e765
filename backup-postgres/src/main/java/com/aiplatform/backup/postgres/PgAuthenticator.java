package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.api.SourceException;
import com.ongres.scram.client.ScramClient;
import com.ongres.scram.common.StringPreparation;
import com.ongres.scram.common.exception.ScramException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * Answers the server's authentication requests during startup: trust (AuthenticationOk at
 * once), cleartext password, md5 (the protocol's own salted double MD5) and SCRAM-SHA-256
 * through the ongres SCRAM client, the library pgjdbc uses. The server's SCRAM signature is
 * verified, so a server that does not know the password cannot pass itself off as the source.
 * Kerberos, GSSAPI, SSPI and channel binding (which needs TLS) are not supported and fail with
 * a message saying so. The password is read from its {@link Secret} only when asked for.
 */
final class PgAuthenticator {
    private static final Logger LOG = LoggerFactory.getLogger(PgAuthenticator.class);
    private static final int OK = 0;
    private static final int KERBEROS_V5 = 2;
    private static final int CLEARTEXT = 3;
    private static final int MD5 = 5;
    private static final int GSS = 7;
    private static final int GSS_CONTINUE = 8;
    private static final int SSPI = 9;
    private static final int SASL = 10;
    private static final int SASL_CONTINUE = 11;
    private static final int SASL_FINAL = 12;
    private static final String SCRAM_SHA_256 = "SCRAM-SHA-256";

    private final PostgresConfig config;
    private final PgWire wire;
    private final String where;
    private ScramClient scram;

    PgAuthenticator(PostgresConfig config, PgWire wire, String where) {
        this.config = config;
        this.wire = wire;
        this.where = where;
    }

    /** Handles one AuthenticationXXX message body (after the type byte and length). */
    void handle(byte[] body) throws IOException {
        int[] pos = {0};
        int code = PgWire.int32(body, pos);
        LOG.debug("{}: authentication of user \"{}\": {}", where, config.user(), describe(code));
        switch (code) {
            case OK -> scramDone();
            case CLEARTEXT -> sendPassword(password("cleartext password"));
            case MD5 -> {
                if (body.length < 8) {
                    throw new IOException("md5 request without a salt");
                }
                byte[] salt = Arrays.copyOfRange(body, 4, 8);
                sendPassword(md5(config.user(), password("md5"), salt));
            }
            case SASL -> saslStart(body, pos);
            case SASL_CONTINUE -> saslContinue(Arrays.copyOfRange(body, 4, body.length));
            case SASL_FINAL -> saslFinal(Arrays.copyOfRange(body, 4, body.length));
            case KERBEROS_V5, GSS, GSS_CONTINUE, SSPI -> throw unsupported(code == SSPI ? "SSPI" : "Kerberos/GSSAPI");
            default -> throw unsupported("method " + code);
        }
    }

    private static String describe(int code) {
        return switch (code) {
            case OK -> "accepted";
            case CLEARTEXT -> "server asks for a cleartext password";
            case MD5 -> "server asks for an md5 password";
            case SASL -> "server offers SASL";
            case SASL_CONTINUE -> "server sent its SCRAM challenge";
            case SASL_FINAL -> "server sent its SCRAM proof";
            default -> "server asks for authentication method " + code;
        };
    }

    private SourceException unsupported(String method) {
        return new SourceException(where + " asks user \"" + config.user() + "\" to authenticate with " + method
                + ", which this client does not support; use scram-sha-256, md5, password or trust in pg_hba.conf",
                false);
    }

    private String password(String method) throws SourceException {
        Secret secret = config.password().orElseThrow(() -> new SourceException(where + " asks for a password ("
                + method + ") for user \"" + config.user() + "\" but none is configured; set password-env", false));
        String value = secret.reveal();
        if (value == null) {
            throw new SourceException(where + " asks for a password (" + method + ") for user \"" + config.user()
                    + "\" but " + secret.origin() + " is not set", false);
        }
        return value;
    }

    private void sendPassword(String text) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        PgWire.writeCString(body, text);
        wire.writeMessage('p', body.toByteArray());
    }

    /** {@code "md5" + hex(md5(hex(md5(password + user)) + salt))}, as the protocol defines it. */
    static String md5(String user, String password, byte[] salt) {
        try {
            MessageDigest md = MessageDigest.getInstance("MD5");
            md.update(password.getBytes(StandardCharsets.UTF_8));
            md.update(user.getBytes(StandardCharsets.UTF_8));
            String inner = HexFormat.of().formatHex(md.digest());
            md.update(inner.getBytes(StandardCharsets.US_ASCII));
            md.update(salt);
            return "md5" + HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no MD5, which the PostgreSQL md5 method needs", e);
        }
    }

    private void saslStart(byte[] body, int[] pos) throws IOException {
        List<String> mechanisms = new ArrayList<>();
        while (pos[0] < body.length && body[pos[0]] != 0) {
            mechanisms.add(PgWire.cString(body, pos));
        }
        if (!mechanisms.contains(SCRAM_SHA_256)) {
            throw unsupported("SASL mechanisms " + mechanisms + " (without TLS only " + SCRAM_SHA_256
                    + " is possible)");
        }
        String pw = password("SCRAM-SHA-256");
        try {
            scram = ScramClient.builder()
                    .advertisedMechanisms(List.of(SCRAM_SHA_256))
                    .username("*") // PostgreSQL takes the user from the startup message
                    .password(pw.toCharArray())
                    .stringPreparation(StringPreparation.POSTGRESQL_PREPARATION)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new SourceException("cannot start SCRAM-SHA-256 with " + where + ": " + e.getMessage(), false, e);
        }
        byte[] first = scram.clientFirstMessage().toString().getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PgWire.writeCString(out, SCRAM_SHA_256);
        PgWire.writeInt(out, first.length);
        out.writeBytes(first);
        wire.writeMessage('p', out.toByteArray());
    }

    private void saslContinue(byte[] data) throws IOException {
        requireScram();
        try {
            scram.serverFirstMessage(new String(data, StandardCharsets.UTF_8));
        } catch (ScramException e) {
            throw new SourceException(where + " sent an invalid SCRAM message to user \"" + config.user() + "\": "
                    + e.getMessage(), false, e);
        }
        wire.writeMessage('p', scram.clientFinalMessage().toString().getBytes(StandardCharsets.UTF_8));
    }

    private void saslFinal(byte[] data) throws IOException {
        requireScram();
        try {
            scram.serverFinalMessage(new String(data, StandardCharsets.UTF_8));
        } catch (ScramException e) {
            throw new SourceException(where + " failed SCRAM server verification for user \"" + config.user()
                    + "\" (it does not know the password: wrong server, or someone in between?): "
                    + e.getClass().getSimpleName(), false, e);
        }
        scram = null;
    }

    private void requireScram() throws IOException {
        if (scram == null) {
            throw new IOException("SCRAM message from the server without a SCRAM exchange");
        }
    }

    private void scramDone() throws IOException {
        if (scram != null) {
            // AuthenticationOk before SASLFinal would skip the server's proof
            throw new SourceException(where + " ended SCRAM authentication of user \"" + config.user()
                    + "\" without proving it knows the password", false);
        }
    }
}
