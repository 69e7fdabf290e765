package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.VerifyReport;
import com.aiplatform.backup.spi.StorageTarget;
import com.aiplatform.backup.testkit.ForwardingStorageTarget;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Verification reads several artifacts at once and still reports them in manifest order. */
class ParallelVerifyTest {
    private final GeneratedProvider.Config config = new GeneratedProvider.Config("gen", List.of(
            new GeneratedProvider.Artifact("a.dat", 400_000, 1, true),
            new GeneratedProvider.Artifact("b.dat", 300_000, 2, false),
            new GeneratedProvider.Artifact("c.dat", 200_000, 3, true),
            new GeneratedProvider.Artifact("d.dat", 100_000, 4, false)));

    @Test
    void artifactsAreReadAtOnce() throws Exception {
        InMemoryStorageTarget memory = new InMemoryStorageTarget("mem");
        CountingStorage storage = new CountingStorage(memory);
        try (BackupEngine engine = BackupEngine.builder().storage(storage).provider(new GeneratedProvider()).build()) {
            engine.backup(config);
            storage.counting = true;
            VerifyReport report = engine.verify("gen", "latest");
            assertThat(report.ok()).isTrue();
            assertThat(report.artifacts()).extracting(VerifyReport.ArtifactCheck::name)
                    .containsExactly("a.dat", "b.dat", "c.dat", "d.dat");
            assertThat(storage.mostOpen.get()).as("artifact streams open at once")
                    .isGreaterThanOrEqualTo(2).isLessThanOrEqualTo(BackupEngine.VERIFY_THREADS);
        }
        memory.assertNoOpenStreams();
    }

    @Test
    void everyDamagedArtifactIsNamedInManifestOrder() throws Exception {
        InMemoryStorageTarget memory = new InMemoryStorageTarget("mem");
        try (BackupEngine engine = BackupEngine.builder().storage(memory).provider(new GeneratedProvider()).build()) {
            Manifest m = engine.backup(config);
            for (String damaged : List.of("d.dat", "b.dat")) {
                String key = "gen/backups/" + m.backupId() + "/" + damaged;
                byte[] bytes = memory.contentOf(key).orElseThrow();
                bytes[bytes.length / 2] ^= 1;
                memory.overwriteForTest(key, bytes);
            }
            VerifyReport report = engine.verify("gen", "latest");
            assertThat(report.artifacts()).extracting(VerifyReport.ArtifactCheck::ok)
                    .containsExactly(true, false, true, false);
            assertThat(report.failures()).extracting(VerifyReport.ArtifactCheck::name).containsExactly("b.dat", "d.dat");
        }
    }

    @Test
    void aStorageErrorEndsTheVerificationWithThatError() throws Exception {
        InMemoryStorageTarget memory = new InMemoryStorageTarget("mem");
        try (BackupEngine engine = BackupEngine.builder().storage(memory).provider(new GeneratedProvider()).build()) {
            engine.backup(config);
            memory.failReadsAfter(150_000L);
            assertThatThrownBy(() -> engine.verify("gen", "latest")).isInstanceOf(IOException.class);
            memory.resetFaults();
            assertThat(engine.verify("gen", "latest").ok()).isTrue();
        }
        memory.assertNoOpenStreams();
    }

    /**
     * Counts artifact streams open at the same time; while counting, each stream's first read waits
     * (up to 10 s) for a second stream to open, so a one-at-a-time verification shows as 1.
     */
    private static final class CountingStorage extends ForwardingStorageTarget {
        private final AtomicInteger open = new AtomicInteger();
        private final AtomicInteger mostOpen = new AtomicInteger();
        private final CountDownLatch twoOpened = new CountDownLatch(2);
        volatile boolean counting;

        CountingStorage(StorageTarget delegate) {
            super(delegate);
        }

        @Override
        public InputStream open(String key) throws IOException {
            InputStream in = super.open(key);
            if (!counting || !key.endsWith(".dat")) {
                return in;
            }
            mostOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
            twoOpened.countDown();
            return new FilterInputStream(in) {
                private boolean waited;
                private boolean closed;

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (!waited) {
                        waited = true;
                        try {
                            twoOpened.await(10, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IOException("interrupted", e);
                        }
                    }
                    return super.read(b, off, len);
                }

                @Override
                public void close() throws IOException {
                    if (!closed) {
                        closed = true;
                        open.decrementAndGet();
                    }
                    super.close();
                }
            };
        }
    }
}
