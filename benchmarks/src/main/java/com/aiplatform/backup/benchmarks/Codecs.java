package com.aiplatform.backup.benchmarks;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import com.google.crypto.tink.KeyTemplates;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.StreamingAead;
import com.google.crypto.tink.streamingaead.StreamingAeadConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

/** The stages under test, opened the same way by every benchmark, plus round-trip checks. */
final class Codecs {
    /** Associated data bound to every ciphertext, as the engine binds the artifact name. */
    static final byte[] AAD = "benchmarks/artifact-0001".getBytes(StandardCharsets.UTF_8);
    /** Size of the sample that {@link #checkRoundTrip} pushes through a stage and back. */
    static final long CHECK_BYTES = 4L << 20;

    private Codecs() {
    }

    /** zstd through zstd-jni's streaming context; {@code workers} 0 means on the caller's thread. */
    static OutputStream zstd(OutputStream out, int level, int workers) throws IOException {
        ZstdOutputStreamNoFinalizer z = new ZstdOutputStreamNoFinalizer(out, level);
        if (workers > 0) {
            z.setWorkers(workers);
        }
        return z;
    }

    /** GZIP at a Deflater level (1 = fastest, 6 = the JDK's and gzip's default). */
    static OutputStream gzip(OutputStream out, int level) throws IOException {
        return new LeveledGzipOutputStream(out, level);
    }

    /** A Tink streaming AEAD with a fresh AES256_GCM_HKDF_1MB key (1 MiB segments). */
    static StreamingAead newStreamingAead() throws GeneralSecurityException {
        StreamingAeadConfig.register();
        KeysetHandle handle = KeysetHandle.generateNew(KeyTemplates.get("AES256_GCM_HKDF_1MB"));
        return handle.getPrimitive(RegistryConfiguration.get(), StreamingAead.class);
    }

    /**
     * Brings the JIT to its steady state for AES-GCM before the first timed operation. The
     * JDK compiles its AES-GCM intrinsics only after many calls; with 1 MiB segments a fresh
     * JVM runs the first ~0.5-1 GB at under 100 MB/s (the interpreted fallback), longer
     * than a short warm-up. The same Tink code with 4 KiB segments makes 256 times as many
     * calls per byte, so 64 MiB of it (16 Ki segments, about a second) is enough. The JMH
     * warm-up then settles the profile on the measured code itself.
     */
    static void primeAesGcm() throws IOException, GeneralSecurityException {
        StreamingAeadConfig.register();
        StreamingAead small = KeysetHandle.generateNew(KeyTemplates.get("AES256_GCM_HKDF_4KB"))
                .getPrimitive(RegistryConfiguration.get(), StreamingAead.class);
        byte[] piece = new byte[Input.CHUNK];
        for (int round = 0; round < 64; round++) {
            try (OutputStream out = small.newEncryptingStream(OutputStream.nullOutputStream(), AAD)) {
                for (int i = 0; i < 16; i++) {
                    out.write(piece, 0, piece.length);
                }
            }
        }
    }

    interface Encoder {
        OutputStream open(OutputStream out) throws IOException, GeneralSecurityException;
    }

    interface Decoder {
        InputStream open(InputStream in) throws IOException, GeneralSecurityException;
    }

    static Decoder zstdDecoder() {
        return ZstdInputStreamNoFinalizer::new;
    }

    /**
     * Pushes the first {@link #CHECK_BYTES} of the input through the encoder and back through
     * the decoder; throws unless the bytes come back unchanged. Benchmarks call this in
     * {@code @Setup} so that a misconfigured stage fails instead of measuring nonsense.
     */
    static void checkRoundTrip(String stage, Input input, Encoder encoder, Decoder decoder)
            throws IOException, GeneralSecurityException {
        Input sample = input.head(CHECK_BYTES);
        ByteArrayOutputStream encoded = new ByteArrayOutputStream();
        try (OutputStream out = encoder.open(encoded)) {
            sample.writeTo(out);
        }
        byte[] decoded;
        try (InputStream in = decoder.open(new ByteArrayInputStream(encoded.toByteArray()))) {
            decoded = in.readAllBytes();
        }
        if (!Arrays.equals(decoded, sample.toByteArray())) {
            throw new IllegalStateException(stage + " does not round-trip " + sample.size()
                    + " bytes of " + input.dataset() + " data");
        }
    }

    /** java.util.zip's GZIP stream with its Deflater set to a chosen level. */
    private static final class LeveledGzipOutputStream extends GZIPOutputStream {
        LeveledGzipOutputStream(OutputStream out, int level) throws IOException {
            super(out, Input.CHUNK);
            def.setLevel(level);
        }
    }
}
