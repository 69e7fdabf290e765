package com.aiplatform.backup.core;

import com.aiplatform.backup.api.LockInfo;
import com.aiplatform.backup.api.SourceLockedException;
import com.aiplatform.backup.spi.ProcessOwner;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import com.aiplatform.backup.spi.StorageTarget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The source lock is a lease: refreshed while held, taken over when expired or when its local owner is gone. */
class SourceLockTest {
    private static final Duration MINUTE = Duration.ofMinutes(1);

    @TempDir
    Path tmp;

    /** Writes a lock as another process would have: given owner, taken at {@code since}, lease {@code lease}. */
    private static void plantLock(StorageTarget storage, String host, long pid, Instant processStart, Instant since,
                                  Duration lease) throws Exception {
        String json = "{\"operation\":\"backup planted\",\"host\":\"" + host + "\",\"pid\":" + pid
                + (processStart == null ? "" : ",\"processStart\":\"" + processStart + "\"")
                + ",\"token\":\"0123456789abcdef01234567\",\"since\":\"" + since + "\",\"leaseMillis\":"
                + lease.toMillis() + "}";
        assertThat(storage.createIfAbsent(SourceLock.key("db"), json.getBytes(StandardCharsets.UTF_8))).isTrue();
    }

    @Test
    void anExpiredLeaseOfAnotherHostIsTakenOver() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        plantLock(storage, "elsewhere", 42, null, Instant.now().minusSeconds(10), Duration.ofSeconds(5));
        assertThat(SourceLock.inspect(storage, "db")).get().satisfies(info -> {
            assertThat(info.stale()).isTrue();
            assertThat(info.staleReason()).contains("lease expired");
        });
        try (SourceLock lock = SourceLock.acquire(storage, "db", "prune", Duration.ZERO, MINUTE)) {
            LockInfo mine = SourceLock.inspect(storage, "db").orElseThrow();
            assertThat(mine.operation()).isEqualTo("prune");
            assertThat(mine.pid()).isEqualTo(ProcessHandle.current().pid());
            assertThat(mine.stale()).isFalse();
            lock.requireHeld();
        }
        assertThat(storage.keys()).noneMatch(k -> k.startsWith("db/locks/"));
    }

    @Test
    void aFreshLeaseOfAnotherHostIsRefusedNamingItsHolder() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        plantLock(storage, "elsewhere", 42, null, Instant.now(), MINUTE);
        assertThatThrownBy(() -> SourceLock.acquire(storage, "db", "backup x", Duration.ZERO, MINUTE))
                .isInstanceOf(SourceLockedException.class)
                .hasMessageContaining("backup planted").hasMessageContaining("pid 42 on host elsewhere")
                .hasMessageContaining("backupctl unlock db");
        assertThatThrownBy(() -> SourceLock.unlock(storage, "db", false))
                .isInstanceOf(SourceLockedException.class).hasMessageContaining("pid 42 on host elsewhere");
        assertThat(storage.keys()).contains(SourceLock.key("db"));
        assertThat(SourceLock.unlock(storage, "db", true)).get().extracting(LockInfo::pid).isEqualTo(42L);
        assertThat(storage.keys()).noneMatch(k -> k.startsWith("db/locks/"));
    }

    @Test
    void aDeadLocalOwnerIsTakenOverAtOnceWhateverItsLease() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        ProcessHandle handle = gone.toHandle();
        Instant started = handle.info().startInstant().orElse(null);
        assertThat(gone.waitFor(30, TimeUnit.SECONDS)).isTrue();
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        plantLock(storage, ProcessOwner.current().host(), gone.pid(), started, Instant.now(), Duration.ofHours(1));
        assertThat(SourceLock.inspect(storage, "db").orElseThrow().staleReason()).contains("is gone");
        try (SourceLock lock = SourceLock.acquire(storage, "db", "backup y", Duration.ZERO, MINUTE)) {
            assertThat(SourceLock.inspect(storage, "db").orElseThrow().operation()).isEqualTo("backup y");
        }
    }

    @Test
    void aReusedPidWithAnotherStartTimeIsADeadOwner() throws Exception {
        InMemoryStorageTarget storage = new InMemoryStorageTarget();
        ProcessOwner me = ProcessOwner.current();
        org.junit.jupiter.api.Assumptions.assumeTrue(me.started() != null,
                "this platform does not tell process start times");
        plantLock(storage, me.host(), me.pid(), me.started().minus(Duration.ofHours(3)), Instant.now(),
                Duration.ofHours(1));
        assertThat(SourceLock.inspect(storage, "db").orElseThrow().stale()).isTrue();
        SourceLock.acquire(storage, "db", "prune", Duration.ZERO, MINUTE).close();
    }

    @Test
    void aLiveLocalOwnerIsRefusedUntilForced() throws Exception {
        Process alive = new ProcessBuilder("sleep", "120").start();
        try {
            Instant started = alive.toHandle().info().startInstant().orElse(null);
            InMemoryStorageTarget storage = new InMemoryStorageTarget();
            plantLock(storage, ProcessOwner.current().host(), alive.pid(), started, Instant.now(), MINUTE);
            assertThat(SourceLock.inspect(storage, "db").orElseThrow().stale()).isFalse();
            assertThatThrownBy(() -> SourceLock.acquire(storage, "db", "prune", Duration.ofMillis(500), MINUTE))
                    .isInstanceOf(SourceLockedException.class).hasMessageContaining("pid " + alive.pid());
            assertThatThrownBy(() -> SourceLock.unlock(storage, "db", false))
                    .isInstanceOf(SourceLockedException.class).hasMessageContaining("live");
            assertThat(SourceLock.unlock(storage, "db", true)).isPresent();
            SourceLock.acquire(storage, "db", "prune", Duration.ZERO, MINUTE).close();
        } finally {
            alive.destroyForcibly();
        }
    }

    @Test
    void aHeldLockIsRefreshedBeyondItsLeaseAndLostWhenRemoved() throws Exception {
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true)) {
            SourceLock lock = SourceLock.acquire(storage, "db", "backup long", Duration.ZERO, Duration.ofSeconds(1));
            try {
                Thread.sleep(3_000); // three leases: without refreshes it would have expired
                LockInfo info = SourceLock.inspect(storage, "db").orElseThrow();
                assertThat(info.stale()).as("refreshed lock %s", info).isFalse();
                assertThat(info.lastRefresh()).isAfter(info.since().plusMillis(900));
                assertThatThrownBy(() -> SourceLock.acquire(storage, "db", "prune", Duration.ZERO,
                        Duration.ofSeconds(1))).isInstanceOf(SourceLockedException.class);
                SourceLock.unlock(storage, "db", true);
                assertThatThrownBy(lock::requireHeld).isInstanceOf(SourceLockedException.class)
                        .hasMessageContaining("was lost");
                SourceLock other = SourceLock.acquire(storage, "db", "prune", Duration.ZERO, MINUTE);
                lock.close(); // must not remove the new holder's lock
                assertThat(SourceLock.inspect(storage, "db").orElseThrow().operation()).isEqualTo("prune");
                other.close();
            } finally {
                lock.close();
            }
            assertThat(storage.list("db/locks/")).isEmpty();
        }
    }

    @Test
    void ofRacersTakingOverOneExpiredLeaseExactlyOneWins() throws Exception {
        for (StorageTarget storage : List.of(new InMemoryStorageTarget(),
                new FileSystemStorageTarget("local", tmp.resolve("race"), true))) {
            for (int round = 0; round < 10; round++) {
                plantLock(storage, "elsewhere", 42, null, Instant.now().minusSeconds(60), Duration.ofSeconds(5));
                int racers = 6;
                ExecutorService pool = Executors.newFixedThreadPool(racers);
                CountDownLatch start = new CountDownLatch(1);
                List<Future<SourceLock>> results = new ArrayList<>();
                for (int i = 0; i < racers; i++) {
                    int n = i;
                    results.add(pool.submit(() -> {
                        start.await();
                        try {
                            return SourceLock.acquire(storage, "db", "racer " + n, Duration.ZERO, MINUTE);
                        } catch (SourceLockedException e) {
                            return null;
                        }
                    }));
                }
                start.countDown();
                List<SourceLock> winners = new ArrayList<>();
                for (Future<SourceLock> f : results) {
                    SourceLock l = f.get(60, TimeUnit.SECONDS);
                    if (l != null) {
                        winners.add(l);
                    }
                }
                pool.shutdown();
                assertThat(winners).as("round %d on %s", round, storage.name()).hasSize(1);
                winners.get(0).requireHeld();
                winners.get(0).close();
                assertThat(storage.list("db/locks/")).isEmpty();
            }
        }
    }
}
