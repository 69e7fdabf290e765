package com.aiplatform.backup.benchmarks;

import com.google.crypto.tink.StreamingAead;
import java.io.IOException;
import java.io.OutputStream;
import java.security.DigestOutputStream;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.concurrent.TimeUnit;
import net.jpountz.lz4.LZ4FrameInputStream;
import net.jpountz.lz4.LZ4FrameOutputStream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One stage of the streaming path alone: the whole data set is written in 64 KiB pieces
 * into the stage, whose output goes to a counting null sink. One operation = the whole
 * data set, so input MB/s = size / time per operation ({@link RunBenchmarks} prints it).
 * The return values (output sizes, digests) are consumed by JMH's blackhole.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class StageBenchmark {

    /** {@code dump}: PostgreSQL-dump-like text (zstd-1 ratio 3..5); {@code random}: incompressible. */
    @Param({Input.DUMP, Input.RANDOM})
    public String dataset;

    /** Data set size in MiB, held in memory. */
    @Param({"256"})
    public int size;

    private Input input;
    private StreamingAead aead;

    @Setup(Level.Trial)
    public void setUp() throws IOException, GeneralSecurityException {
        input = Input.load(dataset, size);
        aead = Codecs.newStreamingAead();
        Codecs.primeAesGcm();
        Codecs.checkRoundTrip("zstd-1", input, out -> Codecs.zstd(out, 1, 0), Codecs.zstdDecoder());
        Codecs.checkRoundTrip("zstd-1 workers=2", input, out -> Codecs.zstd(out, 1, 2), Codecs.zstdDecoder());
        Codecs.checkRoundTrip("zstd-3", input, out -> Codecs.zstd(out, 3, 0), Codecs.zstdDecoder());
        Codecs.checkRoundTrip("lz4 frame", input, LZ4FrameOutputStream::new, LZ4FrameInputStream::new);
        Codecs.checkRoundTrip("Tink AES256_GCM_HKDF_1MB", input,
                out -> aead.newEncryptingStream(out, Codecs.AAD),
                in -> aead.newDecryptingStream(in, Codecs.AAD));
    }

    @Benchmark
    public long zstd1() throws IOException {
        return zstd(1, 0);
    }

    @Benchmark
    public long zstd1Workers2() throws IOException {
        return zstd(1, 2);
    }

    @Benchmark
    public long zstd3() throws IOException {
        return zstd(3, 0);
    }

    /** Kept to watch the known collapse of level 3 with workers on incompressible data. */
    @Benchmark
    public long zstd3Workers2() throws IOException {
        return zstd(3, 2);
    }

    /** lz4-java frame format, default 64 KiB blocks, block checksums off (the library default). */
    @Benchmark
    public long lz4Frame() throws IOException {
        CountingSink sink = new CountingSink();
        try (OutputStream out = new LZ4FrameOutputStream(sink)) {
            input.writeTo(out);
        }
        return sink.count();
    }

    @Benchmark
    public byte[] sha256() throws IOException, GeneralSecurityException {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        try (OutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), sha)) {
            input.writeTo(out);
        }
        return sha.digest();
    }

    @Benchmark
    public long tinkAes256GcmHkdf1Mb() throws IOException, GeneralSecurityException {
        CountingSink sink = new CountingSink();
        try (OutputStream out = aead.newEncryptingStream(sink, Codecs.AAD)) {
            input.writeTo(out);
        }
        return sink.count();
    }

    private long zstd(int level, int workers) throws IOException {
        CountingSink sink = new CountingSink();
        try (OutputStream out = Codecs.zstd(sink, level, workers)) {
            input.writeTo(out);
        }
        return sink.count();
    }
}
