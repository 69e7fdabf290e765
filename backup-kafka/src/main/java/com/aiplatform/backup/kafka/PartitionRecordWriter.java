package com.aiplatform.backup.kafka;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes one partition's records in the backup's per-partition format (version 1), the
 * content of the artifact {@code topics/<topic>/<partition>.records}. FORMAT.md in this module
 * says the same in more words.
 *
 * <p>Integers: a <em>varint</em>/<em>varlong</em> is a zig-zag encoded base-128 integer, least
 * significant group first, exactly as in Kafka's own record format (so {@code -1} takes one byte).
 * A <em>bytes</em> field is a varint length followed by that many bytes, with length {@code -1}
 * meaning null (so null and empty stay distinct). A <em>string</em> is a varint length and UTF-8.
 *
 * <pre>
 * file     = header record* end
 * header   = magic "KBRF" (4 bytes 0x4B 0x42 0x52 0x46)
 *            version   (1 byte, 1)
 *            topic     (string)
 *            partition (varint)
 *            start     (varlong)  first offset this file covers: the log start or the previous backup's cut
 *            cut       (varlong)  end offset (exclusive) this file covers
 * record   = tag 0x01  (1 byte)
 *            offsetDelta    (varlong) offset - (previous offset + 1); the first record counts from start
 *                                     (so consecutive offsets cost one byte; compaction gaps show here)
 *            timestampDelta (varlong) timestamp - previous record's timestamp (the first: - 0);
 *                                     a timestamp of -1 means none
 *            timestampType  (1 byte)  0 CreateTime, 1 LogAppendTime, 0xFF none
 *            key            (bytes)   -1 = null
 *            value          (bytes)   -1 = null (a tombstone)
 *            headerCount    (varint)
 *            header*        = key (string, never null) value (bytes, -1 = null); in record order,
 *                             duplicate keys kept
 * end      = tag 0x00  (1 byte)
 *            count      (varlong) number of records in the file
 *            lastOffset (varlong) offset of the last record, -1 when there is none
 * </pre>
 *
 * Records are in offset order; offsets in [start, cut) that are missing were compacted away,
 * were transaction markers, belonged to aborted transactions (read_committed) or were deleted by
 * retention before they were read. Nothing follows the end tag.
 *
 * <p>Buffers at most {@link #BUFFER} bytes (plus one record's key or value, which is written
 * straight through when larger). Not thread-safe. {@link #finish()} writes the end; {@link #close()}
 * only closes the underlying stream.
 */
final class PartitionRecordWriter implements AutoCloseable {
    static final byte[] MAGIC = {'K', 'B', 'R', 'F'};
    static final int VERSION = 1;
    static final int TAG_RECORD = 1;
    static final int TAG_END = 0;
    static final int BUFFER = 64 * 1024;

    private final OutputStream out;
    private final byte[] buf = new byte[BUFFER];
    private int pos;
    private long expectedOffset;
    private long previousTimestamp;
    private long count;
    private long lastOffset = -1;
    private long bytes;
    private boolean finished;

    PartitionRecordWriter(OutputStream out, String topic, int partition, long start, long cut) throws IOException {
        this.out = out;
        this.expectedOffset = start;
        System.arraycopy(MAGIC, 0, buf, 0, MAGIC.length);
        pos = MAGIC.length;
        buf[pos++] = (byte) VERSION;
        writeString(topic);
        writeVarint(partition);
        writeVarlong(start);
        writeVarlong(cut);
    }

    /**
     * Appends one record. Offsets must increase.
     *
     * @param timestampType 0 CreateTime, 1 LogAppendTime, -1 none
     * @param headerKeys    header keys in order (may be empty), same length as {@code headerValues}
     */
    void write(long offset, long timestamp, int timestampType, byte[] key, byte[] value,
               String[] headerKeys, byte[][] headerValues, int headerCount) throws IOException {
        if (offset < expectedOffset) {
            throw new IllegalStateException("record offset " + offset + " is below the expected " + expectedOffset);
        }
        ensure(1 + 10 + 10 + 1);
        buf[pos++] = TAG_RECORD;
        writeVarlong(offset - expectedOffset);
        writeVarlong(timestamp - previousTimestamp);
        buf[pos++] = (byte) timestampType;
        writeBytes(key);
        writeBytes(value);
        ensure(5);
        writeVarint(headerCount);
        for (int i = 0; i < headerCount; i++) {
            writeString(headerKeys[i]);
            writeBytes(headerValues[i]);
        }
        expectedOffset = offset + 1;
        previousTimestamp = timestamp;
        lastOffset = offset;
        count++;
    }

    /** Writes the end tag and trailer and flushes; the underlying stream stays open. */
    void finish() throws IOException {
        if (finished) {
            return;
        }
        finished = true;
        ensure(1 + 10 + 10);
        buf[pos++] = TAG_END;
        writeVarlong(count);
        writeVarlong(lastOffset);
        drain();
    }

    long count() {
        return count;
    }

    long lastOffset() {
        return lastOffset;
    }

    /** Bytes handed to the underlying stream so far. */
    long bytes() {
        return bytes + pos;
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    private void writeString(String s) throws IOException {
        writeBytes(s.getBytes(StandardCharsets.UTF_8));
    }

    private void writeBytes(byte[] b) throws IOException {
        ensure(5);
        if (b == null) {
            writeVarint(-1);
            return;
        }
        writeVarint(b.length);
        if (b.length <= buf.length - pos) {
            System.arraycopy(b, 0, buf, pos, b.length);
            pos += b.length;
        } else if (b.length < buf.length / 2) {
            drain();
            System.arraycopy(b, 0, buf, pos, b.length);
            pos += b.length;
        } else {
            drain();
            out.write(b);
            bytes += b.length;
        }
    }

    private void writeVarint(int value) {
        int v = (value << 1) ^ (value >> 31);
        while ((v & 0xFFFFFF80) != 0) {
            buf[pos++] = (byte) ((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        buf[pos++] = (byte) v;
    }

    private void writeVarlong(long value) {
        long v = (value << 1) ^ (value >> 63);
        while ((v & 0xFFFFFFFFFFFFFF80L) != 0L) {
            buf[pos++] = (byte) ((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        buf[pos++] = (byte) v;
    }

    private void ensure(int n) throws IOException {
        if (buf.length - pos < n) {
            drain();
        }
    }

    private void drain() throws IOException {
        if (pos > 0) {
            out.write(buf, 0, pos);
            bytes += pos;
            pos = 0;
        }
    }
}
