package com.aiplatform.backup.kafka;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OffsetTranslationTest {
    /** Old offsets with compaction gaps, restored to new offsets 100, 101, ... */
    private static OffsetTranslation restore(List<Long> committed, long... oldOffsets) {
        OffsetTranslation t = new OffsetTranslation(committed);
        long next = 100;
        for (long old : oldOffsets) {
            long range = t.matches(old);
            if (OffsetTranslation.from(range) != OffsetTranslation.to(range)) {
                t.resolve(range, next);
            }
            next++;
        }
        return t;
    }

    @Test
    void committedOffsetMapsToTheFirstRestoredRecordAtOrAfterIt() {
        OffsetTranslation t = restore(List.of(0L, 3L, 4L, 7L, 9L, 12L, 4L), 2, 3, 7, 8, 10);
        long end = 105;
        assertThat(t.translate(0, end)).as("before the first record").isEqualTo(100);
        assertThat(t.translate(3, end)).isEqualTo(101);
        assertThat(t.translate(4, end)).as("inside a gap: the next record").isEqualTo(102);
        assertThat(t.translate(7, end)).isEqualTo(102);
        assertThat(t.translate(9, end)).isEqualTo(104);
        assertThat(t.translate(12, end)).as("past the last record: the new end").isEqualTo(105);
    }

    @Test
    void noRecordsMeansTheEnd() {
        OffsetTranslation t = restore(List.of(5L));
        assertThat(t.translate(5, 42)).isEqualTo(42);
        assertThat(new OffsetTranslation(List.of()).isEmpty()).isTrue();
    }

    @Test
    void untrackedOrUnacknowledgedOffsetsFailLoudly() {
        OffsetTranslation t = new OffsetTranslation(List.of(1L));
        assertThatThrownBy(() -> t.translate(2, 0)).isInstanceOf(IllegalArgumentException.class);
        t.matches(1);
        assertThatThrownBy(() -> t.translate(1, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aContiguousBatchResolvesEachOffsetToTheRecordAnsweringIt() {
        // committed 3 (a gap before the batch), 10 and 12 (inside it), 20 (after everything)
        OffsetTranslation t = new OffsetTranslation(List.of(3L, 10L, 12L, 20L));
        long range = t.matches(15); // one batch holding old offsets 8..15, appended at new offset 100
        t.resolveContiguous(range, 8, 100);
        assertThat(t.translate(3, 500)).isEqualTo(100);  // record 8, the first at or after 3
        assertThat(t.translate(10, 500)).isEqualTo(102);
        assertThat(t.translate(12, 500)).isEqualTo(104);
        assertThat(t.translate(20, 500)).isEqualTo(500); // nothing restored at or after 20: the new end
    }
}
