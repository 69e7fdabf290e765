package com.aiplatform.backup.kafka;

import org.apache.kafka.common.utils.ByteUtils;

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
 * run     = tag 0x02, length(varlong), then length bytes: one or more whole record batches
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
    private final ByteBuffer small = ByteBuffer.allocate(32);
    private boolean finished;

    PartitionBatchWriter(OutputStream out, String topic, int partition, long start, long cut) throws IOException {
        this.out = out;
        byte[] name = topic.getBytes(StandardCharsets.UTF_8);
        ByteBuffer head = ByteBuffer.allocate(PartitionRecordWriter.MAGIC.length + 1 + 5 + name.length + 5 + 10 + 10);
        head.put(PartitionRecordWriter.MAGIC).put((byte) VERSION);
        ByteUtils.writeVarint(name.length, head);
        head.put(name);
        ByteUtils.writeVarint(partition, head);
        ByteUtils.writeVarlong(start, head);
        ByteUtils.writeVarlong(cut, head);
        out.write(head.array(), 0, head.position());
    }

    /** Appends whole record batches (the buffer's remaining bytes); the buffer's position is not moved. */
    void writeBatches(ByteBuffer batches) throws IOException {
        int length = batches.remaining();
        if (length == 0) {
            return;
        }
        small.clear().put((byte) TAG_BATCHES);
        ByteUtils.writeVarlong(length, small);
        out.write(small.array(), 0, small.position());
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
        small.clear().put((byte) PartitionRecordWriter.TAG_END);
        ByteUtils.writeVarlong(count, small);
        ByteUtils.writeVarlong(lastOffset, small);
        out.write(small.array(), 0, small.position());
    }
}
