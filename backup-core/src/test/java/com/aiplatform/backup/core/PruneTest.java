package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.PrunePlan;
import com.aiplatform.backup.api.SourceLockedException;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.spi.StorageTarget;
import com.aiplatform.backup.testkit.ForwardingStorageTarget;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Prune: plan, dry run, manifest-first deletion, interruption at every step, and the source lock. */
class PruneTest {
    private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");

    /** A source whose backups claim a given consistent-point time. */
    record DatedConfig(String name, Instant time) implements SourceConfig { }

    static final class DatedProvider implements BackupProvider<DatedConfig> {
        volatile CountDownLatch holdBackup;

        @Override
        public String engine() {
            return "dated";
        }

        @Override
        public Class<DatedConfig> configType() {
            return DatedConfig.class;
        }

        @Override
        public DatedConfig parseConfig(String name, Settings settings) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<Problem> check(DatedConfig config) {
            return List.of();
        }

        @Override
        public BackupSession openBackup(DatedConfig config, BackupContext context) {
            return new BackupSession() {
                @Override
                public BackupResult run(ArtifactSink sink) throws IOException {
                    for (String name : List.of("a", "b")) {
                        try (OutputStream out = sink.openArtifact(name)) {
                            TestData.write(config.time().toEpochMilli(), 10_000, false, out);
                        }
                    }
                    return new BackupResult(BackupKind.FULL, "dated", new ConsistentPoint("t", config.time()), null,
                            Map.of(), Map.of());
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public RestoreSession openRestore(DatedConfig config, RestoreOptions options) {
            return new RestoreSession() {
                @Override
                public void restore(ArtifactSource source) throws IOException {
                    for (var a : source.manifest().artifacts()) {
                        try (InputStream in = source.open(a.name())) {
                            in.transferTo(OutputStream.nullOutputStream());
                        }
                    }
                }

                @Override
                public void close() {
                }
            };
        }
    }

    /** Storage that fails the n-th delete (an interrupted prune) or holds deletes until released. */
    static final class FaultyDeletes extends ForwardingStorageTarget {
        final InMemoryStorageTarget inner;
        final AtomicInteger deletes = new AtomicInteger();
        volatile int failAt = -1;
        volatile CountDownLatch gate;

        FaultyDeletes(InMemoryStorageTarget inner) {
            super(inner);
            this.inner = inner;
        }

        @Override
        public boolean delete(String key) throws IOException {
            if (!key.contains("/locks/")) {
                if (deletes.incrementAndGet() == failAt) {
                    throw new StorageException("injected failure deleting " + key, true);
                }
                CountDownLatch g = gate;
                if (g != null) {
                    try {
                        g.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            return super.delete(key);
        }
    }

    private final DatedProvider provider = new DatedProvider();
    private final RetentionPolicy policy = RetentionPolicy.builder().daily(3).weekly(2).monthly(0).build();

    private BackupEngine engine(StorageTarget storage) throws Exception {
        return BackupEngine.builder().storage(storage).provider(provider).discoverProviders(false).build();
    }

    /** Twenty daily backups ending yesterday. */
    private void seed(BackupEngine engine) throws Exception {
        for (int d = 20; d >= 1; d--) {
            engine.backup(new DatedConfig("db", NOW.minus(d, ChronoUnit.DAYS)));
        }
    }

    private static Set<String> keptIds(PrunePlan plan) {
        return plan.backups().stream().filter(PrunePlan.Entry::keep).map(e -> e.backupId().value())
                .collect(Collectors.toSet());
    }

    @Test
    void dryRunPlansAndRealRunDeletesManifestsThenArtifacts() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        try (BackupEngine engine = engine(storage)) {
            seed(engine);
            PrunePlan plan = engine.planPrune("db", policy, Duration.ofHours(1));
            assertThat(plan.backups()).hasSize(20);
            // 3 daily (23, 22, 21 November); the 2 weekly picks (newest of W48 and W47) are the 23rd and 22nd
            assertThat(keptIds(plan)).hasSize(3);
            assertThat(engine.list("db")).hasSize(20);

            engine.prune("db", policy, Duration.ofHours(1));
            assertThat(engine.list("db")).extracting(m -> m.backupId().value())
                    .containsExactlyInAnyOrderElementsOf(keptIds(plan));
            assertThat(storage.keys()).allMatch(k -> keptIds(plan).stream().anyMatch(k::contains));
            storage.assertNoOpenStreams();
        }
    }

    @Test
    void interruptedAtEveryStepNeverListsABrokenBackupAndConverges() throws Exception {
        InMemoryStorageTarget reference = new InMemoryStorageTarget();
        int totalDeletes;
        try (BackupEngine engine = engine(reference)) {
            seed(engine);
            int before = reference.keys().size();
            engine.prune("db", policy, Duration.ofHours(1));
            totalDeletes = before - reference.keys().size();
        }
        assertThat(totalDeletes).isGreaterThan(30);
        for (int failAt = 1; failAt <= totalDeletes; failAt += 3) {
            FaultyDeletes storage = new FaultyDeletes(new InMemoryStorageTarget("s" + failAt));
            try (BackupEngine engine = engine(storage)) {
                seed(engine);
                PrunePlan plan = engine.planPrune("db", policy, Duration.ofHours(1));
                storage.failAt = failAt;
                assertThatThrownBy(() -> engine.prune("db", policy, Duration.ofHours(1)))
                        .isInstanceOf(StorageException.class).hasMessageContaining("injected");
                for (Manifest m : engine.list("db")) {
                    assertThat(engine.verify("db", m.backupId().value()).ok())
                            .as("listed backup %s is whole after failing at delete %d", m.backupId(), failAt).isTrue();
                }
                storage.failAt = -1;
                engine.prune("db", policy, Duration.ZERO);
                assertThat(engine.list("db")).extracting(m -> m.backupId().value())
                        .containsExactlyInAnyOrderElementsOf(keptIds(plan));
                assertThat(engine.debris("db")).isEmpty();
                assertThat(storage.inner.keys()).allMatch(k -> keptIds(plan).stream().anyMatch(k::contains));
            }
        }
    }

    @Test
    void twoPrunesAtOnceOneFailsClearlyAndNothingIsDeletedTwice() throws Exception {
        FaultyDeletes storage = new FaultyDeletes(new InMemoryStorageTarget());
        try (BackupEngine seeder = engine(storage)) {
            seed(seeder);
        }
        PrunePlan plan;
        try (BackupEngine e = engine(storage)) {
            plan = e.planPrune("db", policy, Duration.ofHours(1));
        }
        storage.gate = new CountDownLatch(1);
        CyclicBarrier start = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (BackupEngine one = engine(storage); BackupEngine two = engine(storage)) {
            List<Future<PrunePlan>> results = new ArrayList<>();
            for (BackupEngine e : List.of(one, two)) {
                results.add(pool.submit(() -> {
                    start.await();
                    return e.prune("db", policy, Duration.ofHours(1));
                }));
            }
            // whichever got the lock is now held at its first delete; the other must fail at once
            int failed = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (failed == 0 && System.nanoTime() < deadline) {
                for (Future<PrunePlan> f : results) {
                    if (f.isDone()) {
                        assertThatThrownBy(f::get).hasCauseInstanceOf(SourceLockedException.class)
                                .hasMessageContaining("locked by").hasMessageContaining("prune");
                        failed++;
                    }
                }
                TimeUnit.MILLISECONDS.sleep(10);
            }
            assertThat(failed).isEqualTo(1);
            storage.gate.countDown();
            storage.gate = null;
            int ok = 0;
            for (Future<PrunePlan> f : results) {
                try {
                    f.get(30, TimeUnit.SECONDS);
                    ok++;
                } catch (java.util.concurrent.ExecutionException expected) {
                    assertThat(expected).hasCauseInstanceOf(SourceLockedException.class);
                }
            }
            assertThat(ok).isEqualTo(1);
            assertThat(one.list("db")).extracting(m -> m.backupId().value())
                    .containsExactlyInAnyOrderElementsOf(keptIds(plan));
            assertThat(storage.inner.keys()).noneMatch(k -> k.contains("/locks/"));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aBackupDuringAPruneOfTheSameSourceFailsClearly() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        try (BackupEngine engine = engine(storage)) {
            seed(engine);
            assertThat(storage.createIfAbsent(SourceLock.key("db"),
                    "{\"operation\":\"prune\",\"owner\":\"42@elsewhere\"}".getBytes())).isTrue();
            assertThatThrownBy(() -> engine.backup(new DatedConfig("db", NOW)))
                    .isInstanceOf(SourceLockedException.class).hasMessageContaining("pid 42 on host elsewhere")
                    .hasMessageContaining("backupctl unlock db");
            assertThat(engine.list("db")).hasSize(20);
            assertThat(engine.breakLock("db")).isTrue();
            engine.backup(new DatedConfig("db", NOW));
            assertThat(engine.list("db")).hasSize(21);
        }
    }

    @Test
    void keepAtLeastVerifiedKeepsBackupsThatPassedVerification() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        try (BackupEngine engine = engine(storage)) {
            seed(engine);
            List<Manifest> all = new ArrayList<>(engine.list("db"));
            all.sort(java.util.Comparator.comparing(m -> m.consistentPoint().time()));
            Manifest oldest = all.get(0);
            Manifest second = all.get(1);
            assertThat(engine.verify("db", oldest.backupId().value()).ok()).isTrue();
            assertThat(engine.verify("db", second.backupId().value()).ok()).isTrue();
            RetentionPolicy withVerified = RetentionPolicy.builder().daily(2).weekly(0).monthly(0).verifiedAtLeast(2)
                    .build();
            engine.prune("db", withVerified, Duration.ofHours(1));
            assertThat(engine.list("db")).extracting(Manifest::backupId)
                    .contains(oldest.backupId(), second.backupId()).hasSize(4);
        }
    }

    @Test
    void aPolicyThatKeepsNothingIsRefused() throws Exception {
        try (BackupEngine engine = engine(new InMemoryStorageTarget())) {
            seed(engine);
            RetentionPolicy nothing = RetentionPolicy.builder().daily(0).weekly(0).monthly(0).build();
            assertThatThrownBy(() -> engine.prune("db", nothing, Duration.ZERO))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keeps nothing");
            assertThat(engine.list("db")).hasSize(20);
        }
    }

    @Test
    void oldDebrisIsRemovedAndFreshDebrisIsLeftForItsRun() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        try (BackupEngine engine = engine(storage)) {
            seed(engine);
            try (var up = storage.create("db/backups/20261101T000000Z-abcdef/a")) {
                up.write(1);
                up.commit();
            }
            assertThat(engine.debris("db")).hasSize(1);
            engine.prune("db", policy, Duration.ofDays(1));
            assertThat(engine.debris("db")).as("within the grace period").hasSize(1);
            engine.prune("db", policy, Duration.ZERO);
            assertThat(engine.debris("db")).isEmpty();
        }
        assertThat(Path.of(".")).exists();
    }
}
