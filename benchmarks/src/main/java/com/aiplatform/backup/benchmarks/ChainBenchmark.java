package com.aiplatform.backup.benchmarks;

import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import com.google.crypto.tink.StreamingAead;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The whole streaming path: zstd-1 → Tink AES256_GCM_HKDF_1MB → SHA-256 of the ciphertext
 * → sink, over the whole data set in 64 KiB pieces. One operation = the whole data set.
 *
 * <p>Files go to a fresh directory under {@code -Dbenchmarks.dir} (default
 * {@code java.io.tmpdir}); pass it with {@code -jvmArgsAppend -Dbenchmarks.dir=/path} to
 * measure another disk. Each file is fsynced before the operation ends and deleted after it,
 * outside the timed region.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
public class ChainBenchmark {

    @Param({Input.DUMP, Input.RANDOM})
    public String dataset;

    /** Data set size in MiB, held in memory. */
    @Param({"256"})
    public int size;

    private Input input;
    private StreamingAead aead;
    private Path dir;
    private Path file;
    private ExecutorService sealer;
    private com.aiplatform.backup.core.BackupEngine engineNull;
    private com.aiplatform.backup.core.BackupEngine engineFs;
    private Path engineDir;

    @Setup(Level.Trial)
    public void setUp() throws IOException, GeneralSecurityException {
        input = Input.load(dataset, size);
        aead = Codecs.newStreamingAead();
        Codecs.primeAesGcm();
        dir = Files.createTempDirectory(
                Path.of(System.getProperty("benchmarks.dir", System.getProperty("java.io.tmpdir"))),
                "backup-benchmarks-");
        file = dir.resolve("artifact.bin");
        sealer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "seal");
            t.setDaemon(true);
            return t;
        });
        var key = com.aiplatform.backup.core.EncryptionKeys.of(
                com.aiplatform.backup.core.EncryptionKeys.newKeyset(), "benchmark keyset");
        engineNull = com.aiplatform.backup.core.BackupEngine.builder().storage(new InputSource.NullStorage())
                .provider(new InputSource()).discoverProviders(false).encryption(key).build();
        engineDir = dir.resolve("engine");
        engineFs = com.aiplatform.backup.core.BackupEngine.builder()
                .storage(new com.aiplatform.backup.storage.fs.FileSystemStorageTarget("bench", engineDir))
                .provider(new InputSource()).discoverProviders(false).encryption(key).build();
        Input sample = input.head(Codecs.CHECK_BYTES);
        checkChain("one thread", sample, out -> Chains.oneThread(sample, 0, aead, out));
        checkChain("two threads", sample, out -> Chains.twoThreads(sample, 2, aead, out, sealer));
    }

    @TearDown(Level.Invocation)
    public void deleteFile() throws IOException {
        Files.deleteIfExists(file);
        deleteTree(engineDir);
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        sealer.shutdownNow();
        engineNull.close();
        engineFs.close();
        deleteTree(engineDir);
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    /** (a) zstd-1 → AEAD → SHA-256 → null sink, all on the calling thread. */
    @Benchmark
    public byte[] oneThreadNullSink() throws IOException, GeneralSecurityException {
        return Chains.oneThread(input, 0, aead, OutputStream.nullOutputStream());
    }

    /** (b) as (a), into a file, fsynced at the end. */
    @Benchmark
    public byte[] oneThreadFile() throws IOException, GeneralSecurityException {
        return Chains.oneThread(input, 0, aead, new Chains.SyncedFileOutputStream(file));
    }

    /**
     * (c) zstd-1 with 2 workers on the calling thread; 1 MiB buffers through a queue of 4 to
     * a seal thread doing AEAD → SHA-256 → file, fsynced at the end.
     */
    @Benchmark
    public byte[] twoThreadsFile() throws IOException, GeneralSecurityException {
        return Chains.twoThreads(input, 2, aead, new Chains.SyncedFileOutputStream(file), sealer);
    }

    /**
     * (d) the engine itself: {@code BackupEngine.backup} of this data as one artifact, zstd-1
     * (2 native workers) → Tink AEAD → SHA-256 on the seal thread → a storage target that
     * discards (manifest included).
     */
    @Benchmark
    public Object engineNullStorage() throws IOException {
        return engineNull.backup(new InputSource.Config("bench", input));
    }

    /**
     * (e) as (d), into {@code FileSystemStorageTarget}: temp file, fsync, atomic no-clobber
     * link, directory fsync, then the manifest.
     */
    @Benchmark
    public Object engineFile() throws IOException {
        return engineFs.backup(new InputSource.Config("bench", input));
    }

    interface ChainRun {
        byte[] run(OutputStream sink) throws IOException, GeneralSecurityException;
    }

    /**
     * Runs a chain on a sample into memory, then checks that the returned digest is the
     * SHA-256 of what reached the sink and that decrypting and decompressing it gives the
     * sample back.
     */
    private void checkChain(String name, Input sample, ChainRun chain)
            throws IOException, GeneralSecurityException {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        byte[] digest = chain.run(sink);
        byte[] stored = sink.toByteArray();
        if (!Arrays.equals(digest, Chains.sha256().digest(stored))) {
            throw new IllegalStateException(name + ": digest is not the SHA-256 of the stored bytes");
        }
        byte[] restored;
        try (InputStream in = new ZstdInputStreamNoFinalizer(
                aead.newDecryptingStream(new ByteArrayInputStream(stored), Codecs.AAD))) {
            restored = in.readAllBytes();
        }
        if (!Arrays.equals(restored, sample.toByteArray())) {
            throw new IllegalStateException(name + ": chain does not round-trip " + dataset + " data");
        }
    }
}
