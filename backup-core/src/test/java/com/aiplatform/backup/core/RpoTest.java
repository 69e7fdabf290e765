package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.RpoReport;
import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.testkit.InMemoryStorageTarget;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** RPO: achieved now, worst gap over a window (a missed day stays visible), continuous archives, breach events. */
class RpoTest {
    private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");

    private static Manifest backupAt(Instant t) {
        return new Manifest(1, BackupId.generate(t), "db", "postgres", BackupKind.FULL, "x", null, t.minusSeconds(60),
                t, new ConsistentPoint("p", t), List.of(), null, null);
    }

    private static SegmentEntry segmentAt(String name, Instant coveredUntil) {
        return new SegmentEntry(name, false, "0/0", "0/1", coveredUntil, coveredUntil, 1, 1, "00", "zstd", "none",
                null, "db/wal/" + name);
    }

    @Test
    void aMissedNightShowsAsAFortyEightHourGapAfterTheNextBackupSucceeds() {
        List<Manifest> backups = new ArrayList<>();
        for (int d = 10; d >= 1; d--) {
            if (d != 4) { // the night of the 20th was missed
                backups.add(backupAt(NOW.minus(d, ChronoUnit.DAYS).truncatedTo(ChronoUnit.DAYS).plus(2, ChronoUnit.HOURS)));
            }
        }
        RpoReport report = RpoCalculator.report("db", backups, List.of(), Duration.ofHours(25), Duration.ofDays(7), NOW);
        assertThat(report.latestPoint()).isEqualTo(Instant.parse("2026-11-23T02:00:00Z"));
        assertThat(report.achieved()).isEqualTo(Duration.ofHours(34));
        assertThat(report.worstGap()).isEqualTo(Duration.ofHours(48));
        assertThat(report.worstGapEnd()).isEqualTo(Instant.parse("2026-11-21T02:00:00Z"));
        assertThat(report.breached()).isTrue();
        RpoReport noTarget = RpoCalculator.report("db", backups, List.of(), null, Duration.ofDays(7), NOW);
        assertThat(noTarget.breached()).isFalse();
    }

    @Test
    void theContinuousArchiveMovesTheRecoverablePoint() {
        List<Manifest> backups = List.of(backupAt(NOW.minus(6, ChronoUnit.HOURS)));
        List<SegmentEntry> wal = new ArrayList<>();
        for (int m = 355; m >= 1; m -= 1) {
            wal.add(segmentAt(String.format("%024d", 400 - m), NOW.minus(m, ChronoUnit.MINUTES)));
        }
        wal.add(segmentAt("old", NOW.minus(3, ChronoUnit.DAYS))); // before the oldest backup: not a recovery point
        RpoReport report = RpoCalculator.report("db", backups, wal, Duration.ofMinutes(15), Duration.ofDays(1), NOW);
        assertThat(report.achieved()).isEqualTo(Duration.ofMinutes(1));
        assertThat(report.worstGap()).as("before the first backup in the window nothing was recoverable")
                .isEqualTo(Duration.ofHours(18));
        RpoReport lastHours = RpoCalculator.report("db", backups, wal, Duration.ofMinutes(15), Duration.ofHours(5), NOW);
        assertThat(lastHours.worstGap()).isEqualTo(Duration.ofMinutes(1));
        assertThat(lastHours.breached()).isFalse();
    }

    @Test
    void noBackupAtAllIsABreachOfAnyTarget() {
        RpoReport report = RpoCalculator.report("db", List.of(), List.of(), Duration.ofHours(1), Duration.ofDays(1), NOW);
        assertThat(report.latestPoint()).isNull();
        assertThat(report.breached()).isTrue();
    }

    @Test
    void theEngineEmitsABreachEventAndUsesThePlatformDefaults() throws Exception {
        List<BackupEvent> events = new CopyOnWriteArrayList<>();
        PruneTest.DatedProvider provider = new PruneTest.DatedProvider();
        try (BackupEngine engine = BackupEngine.builder().storage(new InMemoryStorageTarget()).provider(provider)
                .discoverProviders(false).listener(events::add).build()) {
            engine.backup(new PruneTest.DatedConfig("db", Instant.now().minus(3, ChronoUnit.HOURS)));
            RpoReport report = engine.rpo("db", Optional.of(Duration.ofHours(1)), Duration.ofDays(1));
            assertThat(report.achieved()).isGreaterThanOrEqualTo(Duration.ofHours(3));
            assertThat(report.breached()).isTrue();
            assertThat(events).filteredOn(e -> e instanceof BackupEvent.RpoBreach).hasSize(1);
            RpoReport relaxed = engine.rpo("db", Optional.of(Duration.ofHours(30)), Duration.ofHours(2));
            assertThat(relaxed.breached()).isFalse();
        }
        assertThat(BackupEngine.defaultRpoTarget("postgres")).contains(Duration.ofMinutes(15));
        assertThat(BackupEngine.defaultRpoTarget("mongodb")).contains(Duration.ofHours(1));
        assertThat(BackupEngine.defaultRpoTarget("weaviate")).contains(Duration.ofHours(24));
        assertThat(BackupEngine.defaultRpoTarget("kafka")).isEmpty();
        assertThat(BackupEngine.defaultRpoTarget("redis")).isEmpty();
    }
}
