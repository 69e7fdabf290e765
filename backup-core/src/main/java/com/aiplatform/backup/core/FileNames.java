package com.aiplatform.backup.core;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * File names as the raw bytes the kernel holds, whatever {@code sun.jnu.encoding} says.
 *
 * <p>On Linux the JDK keeps every {@link Path} as bytes but decodes them with
 * {@code sun.jnu.encoding} (UTF-8 under {@code LANG=C.UTF-8}) for {@code toString()}, so
 * invalid bytes become U+FFFD and two names that differ only there look alike. On JDK 17 the
 * property cannot be changed: {@code -Dsun.jnu.encoding=ISO-8859-1} is ignored (the platform
 * value wins). What does preserve the bytes, in any JVM and without a flag, is the
 * {@code file:} URI: {@link Path#toUri()} percent-encodes the path's own bytes and
 * {@link Path#of(URI)} decodes percent escapes back into bytes. This class goes through it.
 *
 * <p>The one thing the JDK cannot build is a symlink target with an empty segment or a
 * trailing slash ({@code a//b}, {@code dir/}): every way to make such a {@code Path} drops
 * the extra slashes ({@code readSymbolicLink} itself keeps them). {@link #linkTargetPath}
 * returns null for those, and {@code TarTree} creates them with {@code ln -s}.
 */
final class FileNames {
    /** A folder that does not exist, to make a relative link target absolute without a stat finding it. */
    private static final String NO_SUCH_DIR = ".backup-no-such-dir-5e2c9a";
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private FileNames() {
    }

    /** The bytes of {@code path} made absolute (not normalized), exactly as the kernel sees them. */
    static byte[] bytes(Path path) {
        byte[] raw = decode(path.toAbsolutePath().toUri().getRawPath());
        // toUri() appends '/' when the path (followed) is a directory: not part of the name
        if (raw.length > 1 && raw[raw.length - 1] == '/' && !path.toString().endsWith("/")) {
            return java.util.Arrays.copyOf(raw, raw.length - 1);
        }
        return raw;
    }

    /** The bytes of {@code child} relative to {@code rootBytes} (the {@link #bytes} of one of its ancestors). */
    static byte[] relative(byte[] rootBytes, Path child) {
        byte[] abs = bytes(child);
        int skip = rootBytes.length + (rootBytes[rootBytes.length - 1] == '/' ? 0 : 1);
        if (abs.length <= skip || !startsWith(abs, rootBytes)) {
            throw new IllegalStateException(child + " is not below its walk root");
        }
        return java.util.Arrays.copyOfRange(abs, skip, abs.length);
    }

    /** The path of the relative {@code name} (no empty, {@code .} or {@code ..} segments) below {@code dir}. */
    static Path resolve(Path dir, byte[] name) {
        byte[] base = bytes(dir);
        StringBuilder uri = new StringBuilder("file://").append(encode(base));
        if (base[base.length - 1] != '/') {
            uri.append('/');
        }
        return Path.of(URI.create(uri.append(encode(name)).toString()));
    }

    /** The exact bytes of a symlink target as {@code Files.readSymbolicLink} returned it. */
    static byte[] linkTarget(Path target) {
        if (target.isAbsolute()) {
            byte[] raw = decode(target.toUri().getRawPath());
            return stripStatSlash(raw, target);
        }
        byte[] prefix = ("/" + NO_SUCH_DIR + "/").getBytes(StandardCharsets.US_ASCII);
        byte[] raw = decode(Path.of("/" + NO_SUCH_DIR).resolve(target).toUri().getRawPath());
        if (!startsWith(raw, prefix)) {
            throw new IllegalStateException("unexpected URI form of link target " + target);
        }
        return stripStatSlash(java.util.Arrays.copyOfRange(raw, prefix.length, raw.length), target);
    }

    private static byte[] stripStatSlash(byte[] raw, Path original) {
        if (raw.length > 1 && raw[raw.length - 1] == '/' && !original.toString().endsWith("/")) {
            return java.util.Arrays.copyOf(raw, raw.length - 1);
        }
        return raw;
    }

    /**
     * A path whose bytes are exactly {@code target}, to create a symlink with; null when the
     * JDK cannot build one (an empty segment or a trailing slash).
     */
    static Path linkTargetPath(byte[] target) {
        if (target.length == 0 || (target.length > 1 && (contains(target, "//") || target[target.length - 1] == '/'))) {
            return null;
        }
        String text = utf8(target);
        if (text != null) {
            return Path.of(text);
        }
        if (target[0] == '/') {
            return Path.of(URI.create("file://" + encode(target)));
        }
        Path p = Path.of(URI.create("file:///" + NO_SUCH_DIR + "/" + encode(target)));
        return p.subpath(1, p.getNameCount());
    }

    /** The name as text: itself when valid UTF-8, else with each invalid byte as {@code \xNN}. */
    static String display(byte[] name) {
        String text = utf8(name);
        if (text != null) {
            return text;
        }
        StringBuilder sb = new StringBuilder();
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        int i = 0;
        while (i < name.length) {
            int len = sequenceLength(name, i);
            if (len > 0) {
                try {
                    sb.append(decoder.decode(ByteBuffer.wrap(name, i, len)));
                    i += len;
                    continue;
                } catch (CharacterCodingException e) {
                    // fall through: escape the byte
                }
            }
            sb.append("\\x").append(HEX[(name[i] >> 4) & 0xf]).append(HEX[name[i] & 0xf]);
            i++;
        }
        return sb.toString();
    }

    private static int sequenceLength(byte[] b, int i) {
        int c = b[i] & 0xff;
        int len = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
        return i + len <= b.length ? len : 0;
    }

    /** The text of valid UTF-8 bytes, else null. */
    static String utf8(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    /** Bytes as a string of one char per byte (ISO-8859-1): how tar names travel through commons-compress. */
    static String latin1(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    static byte[] fromLatin1(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static String encode(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length + 16);
        for (byte b : bytes) {
            int c = b & 0xff;
            if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '-'
                    || c == '.' || c == '_' || c == '~') {
                sb.append((char) c);
            } else {
                sb.append('%').append(HEX[c >> 4]).append(HEX[c & 0xf]);
            }
        }
        return sb.toString();
    }

    private static byte[] decode(String rawPath) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(rawPath.length());
        for (int i = 0; i < rawPath.length(); i++) {
            char c = rawPath.charAt(i);
            if (c == '%' && i + 2 < rawPath.length()) {
                out.write(Integer.parseInt(rawPath, i + 1, i + 3, 16));
                i += 2;
            } else if (c < 0x80) {
                out.write(c);
            } else {
                // a raw path holds only ASCII; be safe with anything else
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        return out.toByteArray();
    }

    private static boolean startsWith(byte[] bytes, byte[] prefix) {
        if (bytes.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (bytes[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static boolean contains(byte[] bytes, String ascii) {
        return latin1(bytes).contains(ascii);
    }
}
