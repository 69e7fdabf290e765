package com.aiplatform.backup.benchmarks;

import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A benchmark data set held in memory as pieces of {@value #CHUNK} bytes and written to a
 * stream one piece at a time, as a dump would arrive from a source.
 */
final class Input {
    /** Size of one write; every stage sees 64 KiB pieces, like the engine's copy loop. */
    static final int CHUNK = 64 * 1024;
    /** Fixed so that every run and every fork sees the same bytes. */
    static final long SEED = 0x5EED_2026_1124L;
    static final String DUMP = "dump";
    static final String RANDOM = "random";
    /** zstd level 1 must compress the dump-like data at least this much ... */
    static final double MIN_DUMP_RATIO = 3.0;
    /** ... and at most this much, or it does not look like a real dump. */
    static final double MAX_DUMP_RATIO = 5.0;

    private final String dataset;
    private final byte[][] chunks;
    private final long size;

    private Input(String dataset, byte[][] chunks) {
        this.dataset = dataset;
        this.chunks = chunks;
        long total = 0;
        for (byte[] c : chunks) {
            total += c.length;
        }
        this.size = total;
    }

    /**
     * Generates a data set: {@code "dump"} (PostgreSQL-dump-like text) or {@code "random"}
     * (incompressible bytes), {@code sizeMiB} MiB, deterministic from {@link #SEED}.
     */
    static Input generate(String dataset, long sizeMiB) {
        return generate(dataset, sizeMiB << 20, SEED);
    }

    static Input generate(String dataset, long bytes, long seed) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("size must be > 0 bytes, was " + bytes);
        }
        return switch (dataset) {
            case DUMP -> new Input(dataset, DumpLikeGenerator.generate(seed, bytes));
            case RANDOM -> new Input(dataset, randomChunks(seed, bytes));
            default -> throw new IllegalArgumentException(
                    "dataset must be one of [" + DUMP + ", " + RANDOM + "], was '" + dataset + "'");
        };
    }

    /**
     * Generates the data set and checks that it is realistic: zstd level 1 must compress
     * dump-like data {@value #MIN_DUMP_RATIO}..{@value #MAX_DUMP_RATIO} times and must not
     * compress random data at all. Prints one line about the data; throws if unrealistic.
     */
    static Input load(String dataset, long sizeMiB) throws IOException {
        Input input = generate(dataset, sizeMiB);
        double ratio = input.zstdRatio(1);
        System.out.printf("%n[data] %s: %d MiB in %d pieces, zstd-1 ratio %.2f%n",
                dataset, sizeMiB, input.chunks.length, ratio);
        input.checkRealistic(ratio);
        return input;
    }

    void checkRealistic(double zstd1Ratio) {
        if (DUMP.equals(dataset) && (zstd1Ratio < MIN_DUMP_RATIO || zstd1Ratio > MAX_DUMP_RATIO)) {
            throw new IllegalStateException(String.format(
                    "dump-like data compresses %.2fx with zstd-1; it must be within %.0f..%.0fx to be realistic",
                    zstd1Ratio, MIN_DUMP_RATIO, MAX_DUMP_RATIO));
        }
        if (RANDOM.equals(dataset) && zstd1Ratio > 1.01) {
            throw new IllegalStateException(String.format(
                    "random data compresses %.3fx with zstd-1; it must be incompressible", zstd1Ratio));
        }
    }

    /** Input bytes per compressed byte when written through zstd at this level, one thread. */
    double zstdRatio(int level) throws IOException {
        CountingSink sink = new CountingSink();
        try (OutputStream z = new ZstdOutputStreamNoFinalizer(sink, level)) {
            writeTo(z);
        }
        return (double) size / sink.count();
    }

    /** Writes every piece, in order, one {@code write} call per piece. */
    void writeTo(OutputStream out) throws IOException {
        for (byte[] c : chunks) {
            out.write(c, 0, c.length);
        }
    }

    /** The first pieces, up to {@code maxBytes}; for round-trip checks on a sample. */
    Input head(long maxBytes) {
        int n = (int) Math.min(chunks.length, Math.max(1, maxBytes / CHUNK));
        return new Input(dataset, Arrays.copyOf(chunks, n));
    }

    /** All bytes in one array; only for samples (checks and tests). */
    byte[] toByteArray() {
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("too large for one array: " + size);
        }
        byte[] all = new byte[(int) size];
        int pos = 0;
        for (byte[] c : chunks) {
            System.arraycopy(c, 0, all, pos, c.length);
            pos += c.length;
        }
        return all;
    }

    String dataset() {
        return dataset;
    }

    long size() {
        return size;
    }

    int pieces() {
        return chunks.length;
    }

    byte[] piece(int i) {
        return chunks[i];
    }

    private static byte[][] randomChunks(long seed, long bytes) {
        SplittableRandom random = new SplittableRandom(seed);
        int n = (int) ((bytes + CHUNK - 1) / CHUNK);
        byte[][] chunks = new byte[n][];
        for (int i = 0; i < n; i++) {
            chunks[i] = new byte[(int) Math.min(CHUNK, bytes - (long) i * CHUNK)];
            random.nextBytes(chunks[i]);
        }
        return chunks;
    }
}
