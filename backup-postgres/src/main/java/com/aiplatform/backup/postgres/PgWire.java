package com.aiplatform.backup.postgres;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Framing of the PostgreSQL frontend/backend protocol, version 3, over one socket: writes
 * typed messages and the untyped startup message, reads message headers and lets the caller
 * consume each body either whole (small messages) or as a bounded stream (CopyData), so a
 * base backup flows through without ever being held in memory.
 *
 * <p>Every message after startup is {@code Byte1(type) Int32(length including itself) body}.
 */
final class PgWire {
    /** Protocol 3.0 as sent in the startup message. */
    static final int PROTOCOL_3_0 = 196608;
    /** Largest body read whole; a larger non-CopyData message means a broken or hostile peer. */
    static final int MAX_WHOLE_BODY = 64 * 1024 * 1024;
    private static final int BUFFER = 64 * 1024;

    private final DataInputStream in;
    private final OutputStream out;
    private int remaining;

    PgWire(Socket socket) throws IOException {
        this(socket.getInputStream(), socket.getOutputStream());
    }

    PgWire(InputStream in, OutputStream out) {
        this.in = new DataInputStream(new BufferedInputStream(in, BUFFER));
        this.out = new BufferedOutputStream(out, 8192);
    }

    /** The header of a message from the server. */
    record Header(byte type, int bodyLength) {
        char typeChar() {
            return (char) (type & 0xff);
        }
    }

    /** Sends the startup message: protocol version then name/value pairs, terminated by an empty name. */
    void writeStartup(Map<String, String> parameters) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        writeInt(body, PROTOCOL_3_0);
        for (Map.Entry<String, String> e : parameters.entrySet()) {
            writeCString(body, e.getKey());
            writeCString(body, e.getValue());
        }
        body.write(0);
        byte[] bytes = body.toByteArray();
        writeInt(out, bytes.length + 4);
        out.write(bytes);
        out.flush();
    }

    /** Sends one typed message and flushes. */
    void writeMessage(char type, byte[] body) throws IOException {
        out.write(type);
        writeInt(out, body.length + 4);
        out.write(body);
        out.flush();
    }

    /** The next byte from the server without consuming it; -1 when the server closed the connection. */
    int peek() throws IOException {
        in.mark(1);
        int b = in.read();
        in.reset();
        return b;
    }

    /**
     * The first line of what the server sent already (up to {@code max} characters, consumed;
     * bytes outside printable ASCII shown as {@code ?}), to name a peer that does not speak this
     * protocol. Reads only what has arrived, past the first byte, so it never waits.
     */
    String sampleLine(int max) throws IOException {
        StringBuilder line = new StringBuilder();
        int b = in.read();
        while (b >= 0 && b != '\r' && b != '\n' && line.length() < max) {
            line.append(b >= 0x20 && b < 0x7f ? (char) b : '?');
            if (in.available() <= 0) {
                break;
            }
            b = in.read();
        }
        return line.toString();
    }

    /** Reads the next message header; the previous body must have been consumed or skipped. */
    Header readHeader() throws IOException {
        if (remaining > 0) {
            skipBody();
        }
        int type = in.read();
        if (type < 0) {
            throw new EOFException("the server closed the connection");
        }
        int length = in.readInt();
        if (length < 4) {
            throw new IOException("malformed message from the server: type '" + (char) type + "' with length "
                    + length);
        }
        remaining = length - 4;
        return new Header((byte) type, remaining);
    }

    /** Reads the rest of the current body into memory (small messages only). */
    byte[] readBody() throws IOException {
        if (remaining > MAX_WHOLE_BODY) {
            throw new IOException("message of " + remaining + " bytes from the server is larger than expected");
        }
        byte[] body = new byte[remaining];
        in.readFully(body);
        remaining = 0;
        return body;
    }

    /** Skips the rest of the current body. */
    void skipBody() throws IOException {
        while (remaining > 0) {
            int skipped = in.skipBytes(remaining);
            if (skipped <= 0) {
                if (in.read() < 0) {
                    throw new EOFException("the server closed the connection mid-message");
                }
                skipped = 1;
            }
            remaining -= skipped;
        }
    }

    /** Bytes of the current body not read yet. */
    int remaining() {
        return remaining;
    }

    /** Reads one byte of the current body. */
    int readBodyByte() throws IOException {
        requireRemaining(1);
        remaining--;
        return in.readUnsignedByte();
    }

    /** Reads a big-endian 64-bit integer of the current body. */
    long readBodyLong() throws IOException {
        requireRemaining(8);
        remaining -= 8;
        return in.readLong();
    }

    /** Reads a NUL-terminated UTF-8 string of the current body. */
    String readBodyCString() throws IOException {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        while (true) {
            int b = readBodyByte();
            if (b == 0) {
                return s.toString(StandardCharsets.UTF_8);
            }
            if (s.size() >= 65536) {
                throw new IOException("string in a server message is longer than 64 KiB");
            }
            s.write(b);
        }
    }

    /** Streams the rest of the current body into {@code target}. */
    void transferBody(OutputStream target, byte[] buffer) throws IOException {
        while (remaining > 0) {
            int n = in.read(buffer, 0, Math.min(buffer.length, remaining));
            if (n < 0) {
                throw new EOFException("the server closed the connection mid-message");
            }
            remaining -= n;
            target.write(buffer, 0, n);
        }
    }

    private void requireRemaining(int n) throws IOException {
        if (remaining < n) {
            throw new IOException("server message is shorter than its fields");
        }
    }

    static void writeInt(OutputStream o, int v) throws IOException {
        o.write(v >>> 24);
        o.write(v >>> 16);
        o.write(v >>> 8);
        o.write(v);
    }

    static void writeCString(ByteArrayOutputStream o, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (byte x : b) {
            if (x == 0) {
                throw new IllegalArgumentException("a protocol string must not contain NUL");
            }
        }
        o.writeBytes(b);
        o.write(0);
    }

    /** Reads a NUL-terminated string from {@code body} at {@code pos[0]}, advancing it. */
    static String cString(byte[] body, int[] pos) throws IOException {
        int start = pos[0];
        int end = start;
        while (end < body.length && body[end] != 0) {
            end++;
        }
        if (end >= body.length) {
            throw new IOException("unterminated string in a server message");
        }
        pos[0] = end + 1;
        return new String(body, start, end - start, StandardCharsets.UTF_8);
    }

    /** Reads a big-endian 32-bit integer from {@code body} at {@code pos[0]}, advancing it. */
    static int int32(byte[] body, int[] pos) throws IOException {
        int p = pos[0];
        if (p + 4 > body.length) {
            throw new IOException("server message is shorter than its fields");
        }
        pos[0] = p + 4;
        return ((body[p] & 0xff) << 24) | ((body[p + 1] & 0xff) << 16) | ((body[p + 2] & 0xff) << 8)
                | (body[p + 3] & 0xff);
    }

    /** Reads a big-endian 16-bit unsigned integer from {@code body} at {@code pos[0]}, advancing it. */
    static int int16(byte[] body, int[] pos) throws IOException {
        int p = pos[0];
        if (p + 2 > body.length) {
            throw new IOException("server message is shorter than its fields");
        }
        pos[0] = p + 2;
        return ((body[p] & 0xff) << 8) | (body[p + 1] & 0xff);
    }
}
