package com.aiplatform.backup.kafka;

import java.util.Arrays;
import java.util.Collection;

/**
 * Old-to-new offset translation of one partition for the consumer-group offsets a restore
 * commits. Only the offsets that groups committed are tracked (a handful per partition), never a
 * map of every record. A committed offset {@code o} means "the next record to read is the first
 * one whose offset is at least {@code o}"; compaction, transaction markers and aborted records
 * leave gaps, so {@code o} maps to the new offset of the first restored record whose old offset
 * is {@code >= o}, or to the new end of the partition when no restored record is.
 *
 * <p>Use: call {@link #matches(long)} for each record in order as it is produced; when it returns
 * a non-empty range, hand the record's new offset to {@link #resolve} once the broker assigned
 * it (or, for a batch of contiguous offsets, call {@link #matches} with its last offset and
 * {@link #resolveContiguous} with its new base offset). After the last record,
 * {@link #translate} answers.
 */
final class OffsetTranslation {
    private final long[] needed;
    private final long[] mapped;
    private int next;

    OffsetTranslation(Collection<Long> committedOffsets) {
        this.needed = committedOffsets.stream().mapToLong(Long::longValue).distinct().sorted().toArray();
        this.mapped = new long[needed.length];
        Arrays.fill(mapped, -1);
    }

    /** True when no offsets need translating (the common case: no group on this partition). */
    boolean isEmpty() {
        return needed.length == 0;
    }

    /**
     * The record with old offset {@code oldOffset} comes next (offsets increase). Returns the range
     * {@code [from, to)} of tracked offsets it answers, packed as {@code from << 32 | to}; empty when
     * {@code from == to}.
     */
    long matches(long oldOffset) {
        int from = next;
        while (next < needed.length && needed[next] <= oldOffset) {
            next++;
        }
        return ((long) from << 32) | next;
    }

    static int from(long range) {
        return (int) (range >>> 32);
    }

    static int to(long range) {
        return (int) range;
    }

    /** The broker assigned {@code newOffset} to the record that answered {@code range}. */
    synchronized void resolve(long range, long newOffset) {
        for (int i = from(range); i < to(range); i++) {
            mapped[i] = newOffset;
        }
    }

    /**
     * A batch whose records have the contiguous old offsets {@code oldBase..oldBase+n-1}, in that
     * order, answered {@code range} (from {@link #matches} of its last record) and was appended
     * at {@code newBase}: each tracked offset maps to the record that answers it.
     */
    synchronized void resolveContiguous(long range, long oldBase, long newBase) {
        for (int i = from(range); i < to(range); i++) {
            mapped[i] = newBase + Math.max(0, needed[i] - oldBase);
        }
    }

    /**
     * The new offset for committed old offset {@code oldOffset}, or {@code newEnd} when no
     * restored record has an old offset at or after it.
     *
     * @throws IllegalArgumentException when {@code oldOffset} was not given at construction
     * @throws IllegalStateException    when the answering record's new offset was never resolved
     */
    synchronized long translate(long oldOffset, long newEnd) {
        int i = Arrays.binarySearch(needed, oldOffset);
        if (i < 0) {
            throw new IllegalArgumentException("offset " + oldOffset + " was not tracked");
        }
        if (i >= next) {
            return newEnd;
        }
        if (mapped[i] < 0) {
            throw new IllegalStateException("the record answering offset " + oldOffset + " was never acknowledged");
        }
        return mapped[i];
    }
}
