package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.SegmentEntry;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Choosing the WAL segments a recovery target needs, and refusing gaps. */
class WalRecoveryTest {
    private static final long SEG = 16L << 20;
    private static final Instant T0 = Instant.parse("2026-11-24T10:00:00Z");

    @Test
    void namesAndPositions() {
        assertThat(WalNames.segmentName(1, WalNames.parseLsn("0/3000060"), SEG)).isEqualTo("000000010000000000000003");
        assertThat(WalNames.segmentName(2, WalNames.parseLsn("1/FF000000"), SEG)).isEqualTo("0000000200000001000000FF");
        assertThat(WalNames.segmentStart("0000000200000001000000FF", SEG)).isEqualTo(WalNames.parseLsn("1/FF000000"));
        assertThat(WalNames.formatLsn(WalNames.parseLsn("16/B374D848"))).isEqualTo("16/B374D848");
        assertThat(WalNames.isSegmentName("000000010000000000000003")).isTrue();
        assertThat(WalNames.isSegmentName("00000001.history")).isFalse();
    }

    @Test
    void latestTakesTheContiguousRunFromTheBaseBackup() throws Exception {
        List<SegmentEntry> archive = segments(1, 2, 3, 4, 5);
        List<SegmentEntry> chosen = WalRecovery.select(archive, WalNames.parseLsn("0/3000028"), 1, SEG, latest());
        assertThat(chosen).extracting(SegmentEntry::name)
                .containsExactly(name(3), name(4), name(5));
    }

    @Test
    void aGapBeforeTheTargetIsReportedNotSkipped() {
        List<SegmentEntry> archive = segments(3, 4, 6, 7);
        assertThatThrownBy(() -> WalRecovery.select(archive, WalNames.parseLsn("0/3000028"), 1, SEG, latest()))
                .isInstanceOf(IntegrityException.class)
                .hasMessageContaining("gap").hasMessageContaining(name(5));
        assertThatThrownBy(() -> WalRecovery.select(archive, WalNames.parseLsn("0/3000028"), 1, SEG,
                new WalRecovery.Target(Optional.of(T0.plusSeconds(6 * 60)), Optional.empty())))
                .isInstanceOf(IntegrityException.class).hasMessageContaining(name(5));
    }

    @Test
    void aGapAfterTheTargetDoesNotMatter() throws Exception {
        List<SegmentEntry> archive = segments(3, 4, 6);
        List<SegmentEntry> chosen = WalRecovery.select(archive, WalNames.parseLsn("0/3000028"), 1, SEG,
                new WalRecovery.Target(Optional.of(T0.plusSeconds(3 * 60 + 30)), Optional.empty()));
        assertThat(chosen).extracting(SegmentEntry::name).containsExactly(name(3), name(4));
    }

    @Test
    void aTargetBeyondTheArchiveIsRefused() {
        List<SegmentEntry> archive = segments(3, 4);
        assertThatThrownBy(() -> WalRecovery.select(archive, WalNames.parseLsn("0/3000028"), 1, SEG,
                new WalRecovery.Target(Optional.of(T0.plusSeconds(3600)), Optional.empty())))
                .isInstanceOf(IntegrityException.class).hasMessageContaining("ends at");
    }

    @Test
    void otherTimelinesAndOlderSegmentsAreLeftOut() throws Exception {
        List<SegmentEntry> archive = new ArrayList<>(segments(1, 2, 3));
        archive.add(segment("000000020000000000000003", 3));
        List<SegmentEntry> chosen = WalRecovery.select(archive, WalNames.parseLsn("0/2000000"), 1, SEG, latest());
        assertThat(chosen).extracting(SegmentEntry::name).containsExactly(name(2), name(3));
    }

    private static WalRecovery.Target latest() {
        return new WalRecovery.Target(Optional.empty(), Optional.empty());
    }

    private static String name(int n) {
        return WalNames.segmentName(1, n * SEG, SEG);
    }

    private static List<SegmentEntry> segments(int... numbers) {
        List<SegmentEntry> list = new ArrayList<>();
        for (int n : numbers) {
            list.add(segment(name(n), n));
        }
        return list;
    }

    /** Segment n covers changes up to T0 + n minutes. */
    private static SegmentEntry segment(String name, int n) {
        return new SegmentEntry(name, false, WalNames.formatLsn(n * SEG), WalNames.formatLsn((n + 1) * SEG),
                T0.plusSeconds(n * 60L), T0.plusSeconds(n * 60L), SEG, SEG, "00", "zstd", "none", null,
                "pg/wal/" + name);
    }
}
