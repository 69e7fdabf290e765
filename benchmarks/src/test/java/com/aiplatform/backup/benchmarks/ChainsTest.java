package com.aiplatform.backup.benchmarks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import com.google.crypto.tink.StreamingAead;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ChainsTest {
    private final ExecutorService sealer = Executors.newSingleThreadExecutor();

    @AfterEach
    void stopSealer() {
        sealer.shutdownNow();
    }

    @Test
    void bothArrangementsStoreWhatDecryptsAndDecompressesToTheInput() throws Exception {
        Input input = Input.generate(Input.DUMP, 5L << 20, 3);
        StreamingAead aead = Codecs.newStreamingAead();

        ByteArrayOutputStream one = new ByteArrayOutputStream();
        byte[] oneDigest = Chains.oneThread(input, 0, aead, one);
        ByteArrayOutputStream two = new ByteArrayOutputStream();
        byte[] twoDigest = Chains.twoThreads(input, 2, aead, two, sealer);

        assertArrayEquals(Chains.sha256().digest(one.toByteArray()), oneDigest);
        assertArrayEquals(Chains.sha256().digest(two.toByteArray()), twoDigest);
        assertArrayEquals(input.toByteArray(), restore(aead, one.toByteArray()));
        assertArrayEquals(input.toByteArray(), restore(aead, two.toByteArray()));
    }

    @Test
    void aFailingSinkStopsTheCompressingThreadInsteadOfBlockingIt() throws Exception {
        Input input = Input.generate(Input.RANDOM, 32L << 20, 3);
        StreamingAead aead = Codecs.newStreamingAead();
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("disk full");
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                throw new IOException("disk full");
            }
        };

        assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
                assertThrows(IOException.class, () -> Chains.twoThreads(input, 2, aead, broken, sealer)));
    }

    private static byte[] restore(StreamingAead aead, byte[] stored) throws Exception {
        try (InputStream in = new ZstdInputStreamNoFinalizer(
                aead.newDecryptingStream(new ByteArrayInputStream(stored), Codecs.AAD))) {
            return in.readAllBytes();
        }
    }
}
