package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.RpoReport;
import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.core.EncryptionKeys;
import com.aiplatform.backup.postgres.PhysicalTestSupport.Server;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.EmbeddedPostgresExtension;
import com.aiplatform.backup.testkit.EmbeddedPostgresServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Continuous WAL archiving and point-in-time restore on a real PostgreSQL 15: restore to a time
 * between two commits, to latest after the archiver was cut off mid-stream and restarted, a
 * deleted segment reported as a gap, and the achieved RPO bounded by the flush interval.
 */
class PostgresPitrIT {
    private static final Duration FLUSH = Duration.ofSeconds(1);

    @RegisterExtension
    static final EmbeddedPostgresExtension PG = EmbeddedPostgresExtension.builder().alwaysEmbedded().build();

    @TempDir
    Path tmp;

    private Server server;
    private PostgresConfig config;
    private FileSystemStorageTarget storage;
    private BackupEngine engine;
    private String slot;

    @BeforeEach
    void setUp() throws Exception {
        server = new Server("127.0.0.1", PG.port());
        slot = "pitr_" + Long.toHexString(System.nanoTime());
        config = server.config("main-pg").walFlushInterval(FLUSH).slotName(slot).build();
        storage = new FileSystemStorageTarget("local", tmp.resolve("storage"), true);
        engine = BackupEngine.builder().storage(storage)
                .encryption(EncryptionKeys.of(EncryptionKeys.newKeyset(), "test keyset")).build();
        server.execute("postgres", "DROP TABLE IF EXISTS pitr", "CREATE TABLE pitr (id int PRIMARY KEY, note text)");
    }

    @AfterEach
    void tearDown() throws Exception {
        engine.close();
        storage.close();
        server.execute("postgres", "DROP TABLE IF EXISTS pitr",
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot
                        + "' AND NOT active");
    }

    @Test
    void restoreToATimeBetweenTwoCommitsGivesExactlyTheFirstState() throws Exception {
        BackupEngine.Archiver archiver = engine.startArchiver(config);
        await(() -> archiver.status().position() != null, "archiver streaming");
        Manifest base = engine.backup(config);

        server.execute("postgres", "INSERT INTO pitr SELECT g, 't1' FROM generate_series(1, 100) g");
        Instant t1 = serverNow();
        waitUntilArchivedPast(t1);
        Instant between = t1.plusMillis(500);
        waitUntilAfter(between.plusMillis(200));
        server.execute("postgres", "INSERT INTO pitr SELECT g, 't2' FROM generate_series(101, 150) g",
                "UPDATE pitr SET note = 't2-updated' WHERE id <= 10");
        Instant t2 = serverNow();
        waitUntilArchivedPast(t2);
        archiver.stop();
        assertThat(archiver.status().failure()).isNull();

        Path atT1 = tmp.resolve("restore-t1");
        engine.restore(config, base.backupId().value(), new RestoreOptions(Optional.of(atT1), false,
                Map.of("to-time", between.toString())));
        try (EmbeddedPostgresServer s = EmbeddedPostgresExtension.startOnDataDirectory(atT1)) {
            Server restored = new Server("127.0.0.1", s.port());
            awaitRecovered(restored);
            assertThat(restored.queryString("postgres", "SELECT count(*) FROM pitr")).isEqualTo("100");
            assertThat(restored.queryString("postgres", "SELECT count(*) FROM pitr WHERE note = 't1'")).isEqualTo("100");
        }

        Path latest = tmp.resolve("restore-latest");
        engine.restore(config, "latest", RestoreOptions.intoDirectory(latest));
        try (EmbeddedPostgresServer s = EmbeddedPostgresExtension.startOnDataDirectory(latest)) {
            Server restored = new Server("127.0.0.1", s.port());
            awaitRecovered(restored);
            assertThat(restored.queryString("postgres", "SELECT count(*) FROM pitr")).isEqualTo("150");
            assertThat(restored.queryString("postgres", "SELECT count(*) FROM pitr WHERE note = 't2-updated'"))
                    .isEqualTo("10");
        }
    }

    @Test
    void dataWrittenAfterTheBaseBackupComesBackOnPostgres17() throws Exception {
        try (io.zonky.test.db.postgres.embedded.EmbeddedPostgres pg17 = PhysicalTestSupport.postgres17().start()) {
            Server source = new Server("127.0.0.1", pg17.getPort());
            PostgresConfig config17 = source.config("pg17").walFlushInterval(FLUSH).slotName(slot).build();
            source.execute("postgres", "CREATE TABLE pitr (id int PRIMARY KEY, note text)",
                    "INSERT INTO pitr SELECT g, 'before' FROM generate_series(1, 1000) g");
            BackupEngine.Archiver archiver = engine.startArchiver(config17);
            await(() -> archiver.status().position() != null, "archiver streaming");
            engine.backup(config17);
            source.execute("postgres", "INSERT INTO pitr SELECT g, 'after' FROM generate_series(1001, 1500) g",
                    "DELETE FROM pitr WHERE id <= 10");
            Instant written = Instant.parse(source.queryString("postgres",
                    "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
            await(() -> {
                try {
                    return engine.segments("pg17").stream().anyMatch(s -> s.coveredUntil().isAfter(written));
                } catch (java.io.IOException e) {
                    return false;
                }
            }, "archive covering the writes");
            archiver.stop();
            assertThat(source.queryString("postgres", "SHOW server_version")).startsWith("17.");

            Path latest = tmp.resolve("latest-17");
            engine.restore(config17, "latest", RestoreOptions.intoDirectory(latest));
            try (io.zonky.test.db.postgres.embedded.EmbeddedPostgres restoredServer = PhysicalTestSupport.postgres17()
                    .setDataDirectory(latest).setCleanDataDirectory(false).start()) {
                Server restored = new Server("127.0.0.1", restoredServer.getPort());
                awaitRecovered(restored);
                assertThat(restored.queryString("postgres", "SELECT count(*) FROM pitr")).isEqualTo("1490");
                assertThat(restored.queryString("postgres", "SELECT count(*) FROM pitr WHERE note = 'after'"))
                        .isEqualTo("500");
            }
        }
    }

    @Test
    void anArchiverCutOffMidStreamResumesWithoutAGapAndADeletedSegmentIsAGap() throws Exception {
        BackupEngine.Archiver first = engine.startArchiver(config);
        await(() -> first.status().position() != null, "archiver streaming");
        engine.backup(config);
        // enough WAL for several complete segments
        server.execute("postgres", "INSERT INTO pitr SELECT g, repeat('x', 500) FROM generate_series(1, 100000) g");
        await(() -> completeSegments() >= 2, "complete segments");
        // cut the replication connection under the archiver, as a crash would
        server.execute("postgres", "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '"
                + slot + "'");
        assertThat(first.awaitTermination(Duration.ofSeconds(30))).isTrue();
        assertThat(first.status().failure()).isNotNull();

        server.execute("postgres", "INSERT INTO pitr SELECT g, 'after-crash' FROM generate_series(100001, 100500) g");
        Instant afterCrash = serverNow();
        BackupEngine.Archiver second = engine.startArchiver(config);
        waitUntilArchivedPast(afterCrash);
        second.stop();
        assertThat(second.status().warnings()).noneMatch(w -> w.contains("gap"));

        Path latest = tmp.resolve("latest");
        engine.restore(config, "latest", RestoreOptions.intoDirectory(latest));
        try (EmbeddedPostgresServer s = EmbeddedPostgresExtension.startOnDataDirectory(latest)) {
            Server restored = new Server("127.0.0.1", s.port());
            awaitRecovered(restored);
            assertThat(restored.queryString("postgres", "SELECT count(*) FROM pitr")).isEqualTo("100500");
        }

        // remove a complete segment in the middle: restore reports the gap instead of skipping it
        List<SegmentEntry> complete = engine.segments("main-pg").stream().filter(s -> !s.partial()).toList();
        assertThat(complete.size()).isGreaterThanOrEqualTo(2);
        SegmentEntry victim = complete.get(complete.size() / 2);
        storage.delete(victim.storageKey() + ".json");
        storage.delete(victim.storageKey());
        Path gapped = tmp.resolve("gapped");
        assertThatThrownBy(() -> engine.restore(config, "latest", RestoreOptions.intoDirectory(gapped)))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("gap").hasMessageContaining(victim.name());
        assertThat(gapped).doesNotExist();

        BackupEngine.Archiver third = engine.startArchiver(config);
        await(() -> third.status().warnings().stream().anyMatch(w -> w.contains("gap")), "gap warning");
        third.stop();
    }

    @Test
    void achievedRpoStaysWithinTheFlushIntervalPlusUploadTime() throws Exception {
        BackupEngine.Archiver archiver = engine.startArchiver(config);
        await(() -> archiver.status().position() != null, "archiver streaming");
        engine.backup(config);
        Duration worst = Duration.ZERO;
        Duration slowestUpload = Duration.ZERO;
        for (int i = 0; i < 20; i++) {
            server.execute("postgres", "INSERT INTO pitr VALUES (" + i + ", 'rpo')");
            TimeUnit.MILLISECONDS.sleep(250);
            RpoReport report = engine.rpo("main-pg", Optional.of(Duration.ofMinutes(15)), Duration.ofMinutes(5));
            if (i >= 4 && report.achieved() != null && report.achieved().compareTo(worst) > 0) {
                worst = report.achieved();
            }
            for (SegmentEntry s : engine.segments("main-pg")) {
                Duration upload = Duration.between(s.coveredUntil(), s.storedAt());
                if (upload.compareTo(slowestUpload) > 0) {
                    slowestUpload = upload;
                }
            }
        }
        archiver.stop();
        // sampling of the server's WAL end adds at most a quarter interval; polling here adds 250 ms
        Duration bound = FLUSH.plus(slowestUpload).plus(FLUSH.dividedBy(4)).plusMillis(250);
        assertThat(worst).as("worst achieved RPO while archiving (bound %s)", bound).isLessThanOrEqualTo(bound);
    }

    private long completeSegments() {
        try {
            return engine.segments("main-pg").stream().filter(s -> !s.partial()).count();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private Instant serverNow() throws Exception {
        return Instant.parse(server.queryString("postgres",
                "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
    }

    private void waitUntilArchivedPast(Instant t) throws Exception {
        await(() -> {
            try {
                return engine.segments("main-pg").stream().anyMatch(s -> s.coveredUntil().isAfter(t));
            } catch (Exception e) {
                return false;
            }
        }, "archive covering " + t);
    }

    private static void waitUntilAfter(Instant t) throws InterruptedException {
        while (Instant.now().isBefore(t)) {
            TimeUnit.MILLISECONDS.sleep(20);
        }
    }

    private static void awaitRecovered(Server s) throws Exception {
        await(() -> {
            try {
                return "f".equals(s.queryString("postgres", "SELECT pg_is_in_recovery()"));
            } catch (Exception e) {
                return false;
            }
        }, "recovery finished and promoted");
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
    }

}
