package com.aiplatform.backup.benchmarks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class DumpLikeGeneratorTest {
    private static final long SAMPLE = 16L << 20;

    @Test
    void zstdLevel1CompressesDumpLikeDataThreeToFiveTimes() throws IOException {
        Input input = Input.generate(Input.DUMP, SAMPLE, Input.SEED);

        double ratio = input.zstdRatio(1);

        assertTrue(ratio >= Input.MIN_DUMP_RATIO && ratio <= Input.MAX_DUMP_RATIO,
                "zstd-1 ratio " + ratio + " is outside 3..5");
    }

    @Test
    void sameSeedGivesSameBytesAndAnotherSeedDoesNot() {
        byte[] first = Input.generate(Input.DUMP, SAMPLE, 42).toByteArray();
        byte[] again = Input.generate(Input.DUMP, SAMPLE, 42).toByteArray();
        byte[] other = Input.generate(Input.DUMP, SAMPLE, 43).toByteArray();

        assertArrayEquals(first, again);
        assertFalse(Arrays.equals(first, other));
    }

    @Test
    void holdsExactlyTheSizeIn64KiBPieces() {
        long size = (3L << 20) + 1234;
        Input input = Input.generate(Input.DUMP, size, 7);

        assertEquals(size, input.size());
        assertEquals(49, input.pieces());
        for (int i = 0; i < input.pieces() - 1; i++) {
            assertEquals(Input.CHUNK, input.piece(i).length);
        }
        assertEquals(1234, input.piece(input.pieces() - 1).length);
    }

    @Test
    void looksLikeAPostgresDump() {
        String text = new String(Input.generate(Input.DUMP, 1L << 20, 1).toByteArray(),
                StandardCharsets.US_ASCII);

        assertTrue(text.startsWith("--\n-- PostgreSQL database dump\n"));
        assertTrue(text.contains(") FROM stdin;\n"));
        assertTrue(text.contains("\n\\.\n"));
        assertTrue(text.matches("(?s).*\\t20\\d\\d-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00.*"));
    }

    @Test
    void randomDataIsDeterministicAndIncompressible() throws IOException {
        Input random = Input.generate(Input.RANDOM, SAMPLE, 42);

        assertArrayEquals(random.toByteArray(), Input.generate(Input.RANDOM, SAMPLE, 42).toByteArray());
        assertTrue(random.zstdRatio(1) <= 1.01);
    }

    @Test
    void rejectsUnknownDataSetsAndUnrealisticRatios() {
        assertThrows(IllegalArgumentException.class, () -> Input.generate("csv", 1));
        Input dump = Input.generate(Input.DUMP, 1L << 20, 1);
        assertThrows(IllegalStateException.class, () -> dump.checkRealistic(2.5));
        assertThrows(IllegalStateException.class, () -> dump.checkRealistic(6.0));
        dump.checkRealistic(3.5);
    }
}
