package com.aiplatform.backup.core;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.SplittableRandom;

/** Deterministic test content: dump-like text or random bytes, generated as a stream of any size. */
final class TestData {
    private static final String[] WORDS = {"tenant", "model", "embedding", "vector", "prompt", "token", "invoice",
        "customer", "status", "active", "pending", "archived", "weight", "score", "session", "document"};

    private TestData() {
    }

    /** Writes {@code size} bytes of content from {@code seed} into {@code out}. */
    static void write(long seed, long size, boolean random, OutputStream out) throws IOException {
        try (InputStream in = stream(seed, size, random)) {
            in.transferTo(out);
        }
    }

    /** SHA-256 of the content {@link #write} produces. */
    static String sha256(long seed, long size, boolean random) throws IOException {
        MessageDigest digest = Sha256.newDigest();
        try (InputStream in = stream(seed, size, random)) {
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    static InputStream stream(long seed, long size, boolean random) {
        return new InputStream() {
            private final SplittableRandom rnd = new SplittableRandom(seed);
            private final byte[] block = new byte[1 << 16];
            private int pos = block.length;
            private int limit = block.length;
            private long remaining = size;
            private long line;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (remaining == 0) {
                    return -1;
                }
                if (pos == limit) {
                    refill();
                }
                int n = (int) Math.min(Math.min(len, limit - pos), remaining);
                System.arraycopy(block, pos, b, off, n);
                pos += n;
                remaining -= n;
                return n;
            }

            private void refill() {
                pos = 0;
                if (random) {
                    for (int i = 0; i < block.length; i += 8) {
                        long v = rnd.nextLong();
                        for (int j = 0; j < 8; j++) {
                            block[i + j] = (byte) (v >>> (8 * j));
                        }
                    }
                    limit = block.length;
                    return;
                }
                int at = 0;
                while (true) {
                    String text = (line++) + "\t2026-11-" + (10 + rnd.nextInt(20)) + "T0" + rnd.nextInt(10) + ":"
                            + (10 + rnd.nextInt(50)) + ":00Z\t" + WORDS[rnd.nextInt(WORDS.length)] + " "
                            + WORDS[rnd.nextInt(WORDS.length)] + "\t{\"score\":" + rnd.nextInt(100000)
                            + ",\"ok\":" + rnd.nextBoolean() + "}\t" + Long.toHexString(rnd.nextLong()) + "\n";
                    byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
                    if (at + bytes.length > block.length) {
                        break;
                    }
                    System.arraycopy(bytes, 0, block, at, bytes.length);
                    at += bytes.length;
                }
                limit = at;
            }
        };
    }
}
