package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.PrunePlan;
import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.core.RetentionPolicy;
import com.aiplatform.backup.postgres.PhysicalTestSupport.Server;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import com.aiplatform.backup.testkit.EmbeddedPostgresServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Retention on a real PostgreSQL backup + WAL series: pruning deletes the old base backup and
 * the WAL only it needed, and every kept backup still restores — to its own end, to a point in
 * time inside the point-in-time window, and to latest.
 */
class PostgresRetentionIT {
    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder().alwaysEmbedded().build();

    @TempDir
    Path tmp;

    @Test
    void prunedSeriesStillRestoresEveryKeptBackupAndPointInTime() throws Exception {
        Server server = new Server("127.0.0.1", PG.port());
        String slot = "ret_" + Long.toHexString(System.nanoTime());
        PostgresConfig config = server.config("ret-pg").walFlushInterval(Duration.ofSeconds(1)).slotName(slot).build();
        server.execute("postgres", "DROP TABLE IF EXISTS series", "CREATE TABLE series (id int PRIMARY KEY, phase text, pad text)");
        try (FileSystemStorageTarget storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true);
             BackupEngine engine = BackupEngine.builder().storage(storage).build()) {
            BackupEngine.Archiver archiver = engine.startArchiver(config);
            await(() -> archiver.status().position() != null, "archiver streaming");

            Manifest b1 = engine.backup(config);
            write(server, 1, "after-b1");
            Manifest b2 = engine.backup(config);
            write(server, 2, "after-b2");
            Instant betweenB2AndB3 = serverNow(server);
            waitUntilAfter(betweenB2AndB3.plusMillis(300));
            Manifest b3 = engine.backup(config);
            write(server, 3, "after-b3");
            Instant end = serverNow(server);
            await(() -> covered(engine, end), "archive covering the last writes");
            archiver.stop();

            List<SegmentEntry> before = engine.segments("ret-pg");
            RetentionPolicy policy = RetentionPolicy.builder().daily(0).weekly(0).monthly(0).last(2)
                    .pointInTimeWindow(Duration.ofDays(7)).build();
            PrunePlan plan = engine.prune("ret-pg", policy, Duration.ofHours(1));
            assertThat(plan.deletions()).extracting(PrunePlan.Entry::backupId).containsExactly(b1.backupId());
            assertThat(plan.segments()).as("WAL only the deleted base backup needed").isNotEmpty();
            Set<String> deleted = plan.segments().stream().map(SegmentEntry::name).collect(Collectors.toSet());
            assertThat(engine.segments("ret-pg")).hasSize(before.size() - deleted.size());
            assertThat(engine.list("ret-pg")).extracting(Manifest::backupId).containsExactly(b2.backupId(), b3.backupId());

            // the oldest kept backup restores to a point inside the window, up to the next kept backup
            Path pit = tmp.resolve("pit");
            engine.restore(config, b2.backupId().value(), new RestoreOptions(Optional.of(pit), false,
                    Map.of("to-time", betweenB2AndB3.plusMillis(100).toString())));
            assertThat(count(pit, "after-b2")).isEqualTo(1000);
            assertThat(count(pit, "after-b3")).isZero();

            Path latest = tmp.resolve("latest");
            engine.restore(config, b3.backupId().value(), RestoreOptions.intoDirectory(latest));
            assertThat(count(latest, "after-b3")).isEqualTo(1000);
            assertThat(count(latest, "after-b1")).isEqualTo(1000);
        } finally {
            server.execute("postgres", "DROP TABLE IF EXISTS series",
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot
                            + "' AND NOT active");
        }
    }

    /** 1000 rows of a phase, about 20 MB of WAL so each phase fills more than one segment. */
    private static void write(Server server, int phase, String name) throws Exception {
        int from = phase * 1_000_000;
        server.execute("postgres", "INSERT INTO series SELECT g, '" + name + "', repeat(md5(g::text), 600) "
                + "FROM generate_series(" + from + ", " + (from + 999) + ") g");
    }

    private static long count(Path dataDir, String phase) throws Exception {
        try (EmbeddedPostgresServer s = EmbeddedPostgresExtension.startOnDataDirectory(dataDir)) {
            Server restored = new Server("127.0.0.1", s.port());
            await(() -> {
                try {
                    return "f".equals(restored.queryString("postgres", "SELECT pg_is_in_recovery()"));
                } catch (Exception e) {
                    return false;
                }
            }, "recovery finished");
            return Long.parseLong(restored.queryString("postgres",
                    "SELECT count(*) FROM series WHERE phase = '" + phase + "'"));
        }
    }

    private static boolean covered(BackupEngine engine, Instant t) {
        try {
            return engine.segments("ret-pg").stream().anyMatch(s -> s.coveredUntil().isAfter(t));
        } catch (Exception e) {
            return false;
        }
    }

    private static Instant serverNow(Server server) throws Exception {
        return Instant.parse(server.queryString("postgres",
                "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
    }

    private static void waitUntilAfter(Instant t) throws InterruptedException {
        while (Instant.now().isBefore(t)) {
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
    }
}
