package com.aiplatform.backup.kafka;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Writes one partition's records in format version 2 (FORMAT.md): the same header as version 1,
 * then runs of Kafka record batches exactly as the broker stores them (magic 2: offsets,
 * timestamps and their type, keys, values, headers, producer id, compression; CRC-32C over each
 * batch), then the end trailer.
 *
 * <pre>
 * file    = header run* end
 * header  = "KBRF" 0x02 topic(string) partition(varint) start(varlong) cut(varlong)
 * run     = tag 0x02, length(varint), then length bytes: one or more whole record batches
 * end     = tag 0x00, count(varlong) records in the file, lastOffset(varlong) of the last record or -1
 * </pre>
 *
 * Only batches of records in {@code [start, cut)} are written, none of them a control batch or a
 * batch of an aborted transaction (the caller filters and, where a batch straddles start or cut,
 * writes a rebuilt batch holding only the records inside). Not thread-safe.
 */
final class PartitionBatchWriter {
    static final int VERSION = 2;
    static final int TAG_BATCHES = 2;

    private final OutputStream out;
    private final byte[] small = new byte[32];
    private boolean finished;

    PartitionBatchWriter(OutputStream out, String topic, int partition, long start, long cut) throws IOException {
        this.out = out;
        byte[] name = topic.getBytes(StandardCharsets.UTF_8);
        byte[] head = new byte[PartitionRecordWriter.MAGIC.length + 1 + 5 + name.length + 5 + 10 + 10];
        System.arraycopy(PartitionRecordWriter.MAGIC, 0, head, 0, PartitionRecordWriter.MAGIC.length);
        int pos = PartitionRecordWriter.MAGIC.length;
        head[pos++] = (byte) VERSION;
        pos = varlong(head, pos, name.length);
        System.arraycopy(name, 0, head, pos, name.length);
        pos += name.length;
        pos = varlong(head, pos, partition);
        pos = varlong(head, pos, start);
        pos = varlong(head, pos, cut);
        out.write(head, 0, pos);
    }

    /** Appends whole record batches (the buffer's remaining bytes); the buffer's position is not moved. */
    void writeBatches(ByteBuffer batches) throws IOException {
        int length = batches.remaining();
        if (length == 0) {
            return;
        }
        small[0] = (byte) TAG_BATCHES;
        int pos = varlong(small, 1, length);
        out.write(small, 0, pos);
        if (batches.hasArray()) {
            out.write(batches.array(), batches.arrayOffset() + batches.position(), length);
        } else {
            byte[] copy = new byte[Math.min(length, 64 * 1024)];
            ByteBuffer view = batches.duplicate();
            while (view.hasRemaining()) {
                int n = Math.min(copy.length, view.remaining());
                view.get(copy, 0, n);
                out.write(copy, 0, n);
            }
        }
    }

    /** Writes the end trailer; the underlying stream stays open. */
    void finish(long count, long lastOffset) throws IOException {
        if (finished) {
            return;
        }
        finished = true;
        small[0] = (byte) PartitionRecordWriter.TAG_END;
        int pos = varlong(small, 1, count);
        pos = varlong(small, pos, lastOffset);
        out.write(small, 0, pos);
    }

    /** Zig-zag base-128, as Kafka's {@code ByteUtils.writeVarlong}; also used for int fields. */
    private static int varlong(byte[] buf, int pos, long value) {
        long v = (value << 1) ^ (value >> 63);
        while ((v & 0xFFFFFFFFFFFFFF80L) != 0L) {
            buf[pos++] = (byte) ((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        buf[pos++] = (byte) v;
        return pos;
    }
}
