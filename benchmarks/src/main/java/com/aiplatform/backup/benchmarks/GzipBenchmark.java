package com.aiplatform.backup.benchmarks;

import java.io.IOException;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
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
 * java.util.zip GZIP (Deflater) as a stage alone, for comparison with zstd and lz4. It is
 * 3 to 10 times slower, so its default data set is smaller than {@link StageBenchmark}'s;
 * MB/s does not depend on the size once it is well above the 32 KiB Deflate window.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class GzipBenchmark {

    @Param({Input.DUMP, Input.RANDOM})
    public String dataset;

    /** Data set size in MiB; smaller than the other benchmarks' because gzip is slow. */
    @Param({"32"})
    public int size;

    private Input input;

    @Setup(Level.Trial)
    public void setUp() throws IOException, GeneralSecurityException {
        input = Input.load(dataset, size);
        Codecs.checkRoundTrip("gzip-1", input, out -> Codecs.gzip(out, 1), GZIPInputStream::new);
        Codecs.checkRoundTrip("gzip-6", input, out -> Codecs.gzip(out, 6), GZIPInputStream::new);
    }

    @Benchmark
    public long gzip1() throws IOException {
        return gzip(1);
    }

    @Benchmark
    public long gzip6() throws IOException {
        return gzip(6);
    }

    private long gzip(int level) throws IOException {
        CountingSink sink = new CountingSink();
        try (OutputStream out = Codecs.gzip(sink, level)) {
            input.writeTo(out);
        }
        return sink.count();
    }
}
