package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.IntegrityException;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;

/**
 * Reads the per-partition formats (FORMAT.md), one record at a time with a bounded buffer:
 * version 1 written by {@link PartitionRecordWriter} (one encoded record after another) and
 * version 2 written by {@link PartitionBatchWriter} (Kafka record batches as the broker stored
 * them; at most one batch is held in memory, its CRC-32C checked). A wrong magic, an unknown
 * version, a truncated file, a corrupt batch, offsets out of order or outside the header's range,
 * or a trailer that disagrees with the records read fail with {@link IntegrityException} naming
 * the artifact.
 */
final class PartitionRecordReader implements AutoCloseable {
    /** A key or value larger than this is treated as corruption rather than allocated. */
    static final int MAX_FIELD = Integer.MAX_VALUE - 16;

    private final InputStream in;
    private final String artifact;
    private final byte[] buf = new byte[64 * 1024];
    private int pos;
    private int limit;
    private final String topic;
    private final int partition;
    private final long start;
    private final long cut;
    private long expectedOffset;
    private long previousTimestamp;
    private long count;
    private long lastOffset = -1;
    private boolean ended;
    private final int version;
    private long runRemaining;
    private org.apache.kafka.common.record.RecordBatch batch;
    private java.util.Iterator<org.apache.kafka.common.record.Record> batchRecords;
    private byte[] batchBytes;

    PartitionRecordReader(InputStream in, String artifact) throws IOException {
        this.in = in;
        this.artifact = artifact;
        byte[] magic = new byte[PartitionRecordWriter.MAGIC.length];
        for (int i = 0; i < magic.length; i++) {
            magic[i] = (byte) readByte();
        }
        if (!Arrays.equals(magic, PartitionRecordWriter.MAGIC)) {
            throw new IntegrityException(artifact, artifact + " is not a Kafka partition backup (bad magic)");
        }
        version = readByte();
        if (version != PartitionRecordWriter.VERSION && version != PartitionBatchWriter.VERSION) {
            throw new IntegrityException(artifact, artifact + " has format version " + version
                    + "; this library reads versions " + PartitionRecordWriter.VERSION + " and "
                    + PartitionBatchWriter.VERSION);
        }
        topic = readString();
        partition = readVarint();
        start = readVarlong();
        cut = readVarlong();
        expectedOffset = start;
    }

    String topic() {
        return topic;
    }

    int partition() {
        return partition;
    }

    long start() {
        return start;
    }

    long cut() {
        return cut;
    }

    /** Records read so far. */
    long count() {
        return count;
    }

    /** The next record, or null after the last one (the trailer has then been checked). */
    StoredRecord next() throws IOException {
        if (ended) {
            return null;
        }
        if (version == PartitionBatchWriter.VERSION) {
            return nextFromBatches();
        }
        int tag = readByte();
        if (tag == PartitionRecordWriter.TAG_END) {
            readEnd();
            return null;
        }
        if (tag != PartitionRecordWriter.TAG_RECORD) {
            throw new IntegrityException(artifact, artifact + " has an unknown record tag " + tag
                    + " after " + count + " records");
        }
        long delta = readVarlong();
        if (delta < 0) {
            throw new IntegrityException(artifact, artifact + " has a negative offset delta after " + count
                    + " records");
        }
        long offset = expectedOffset + delta;
        long timestamp = previousTimestamp + readVarlong();
        int timestampType = (byte) readByte();
        byte[] key = readBytes();
        byte[] value = readBytes();
        int headerCount = readVarint();
        if (headerCount < 0) {
            throw new IntegrityException(artifact, artifact + " has a negative header count at offset " + offset);
        }
        String[] headerKeys = new String[headerCount];
        byte[][] headerValues = new byte[headerCount][];
        for (int i = 0; i < headerCount; i++) {
            byte[] k = readBytes();
            if (k == null) {
                throw new IntegrityException(artifact, artifact + " has a null header key at offset " + offset);
            }
            headerKeys[i] = new String(k, StandardCharsets.UTF_8);
            headerValues[i] = readBytes();
        }
        expectedOffset = offset + 1;
        previousTimestamp = timestamp;
        lastOffset = offset;
        count++;
        return new StoredRecord(offset, timestamp, timestampType, key, value, headerKeys, headerValues);
    }

    /** True for version 2, whose batches {@link #nextBatch} returns whole; {@link #next} reads either version. */
    boolean batched() {
        return version == PartitionBatchWriter.VERSION;
    }

    /**
     * Version 2 only, instead of {@link #next}: the next batch as stored, checked (CRC-32C, magic
     * 2, not a control batch, record offsets ascending from where the previous batch ended and
     * below the cut), or null after the last one (the trailer has then been checked). A batch
     * whose offsets are contiguous is checked from its header alone; one with gaps (compaction)
     * record by record.
     */
    StoredBatch nextBatch() throws IOException {
        if (version != PartitionBatchWriter.VERSION) {
            throw new IllegalStateException(artifact + " has format version " + version + ", read it with next()");
        }
        if (ended || !nextRun()) {
            return null;
        }
        readBatch();
        org.apache.kafka.common.record.RecordBatch b = batch;
        Integer records = b.countOrNull();
        java.util.List<org.apache.kafka.common.record.Record> decoded = null;
        if (records != null && b.lastOffset() - b.baseOffset() + 1 == records) {
            if (b.baseOffset() < expectedOffset || b.lastOffset() >= cut) {
                throw new IntegrityException(artifact, artifact + " holds offsets " + b.baseOffset() + " to "
                        + b.lastOffset() + " after offset " + lastOffset + " (expected at least " + expectedOffset
                        + " and below the cut " + cut + ")");
            }
            count += records;
            lastOffset = b.lastOffset();
            expectedOffset = lastOffset + 1;
        } else {
            decoded = new ArrayList<>(records == null ? 16 : records);
            batchRecords = b.iterator();
            while (batchRecords.hasNext()) {
                org.apache.kafka.common.record.Record r = nextOfBatch();
                settle(r.offset());
                decoded.add(r);
            }
        }
        batchRecords = null;
        return new StoredBatch(b, java.nio.ByteBuffer.wrap(batchBytes), decoded);
    }

    /** Positions at the next batch: false at the end (trailer checked). */
    private boolean nextRun() throws IOException {
        if (runRemaining > 0) {
            return true;
        }
        int tag = readByte();
        if (tag == PartitionRecordWriter.TAG_END) {
            readEnd();
            return false;
        }
        if (tag != PartitionBatchWriter.TAG_BATCHES) {
            throw new IntegrityException(artifact, artifact + " has an unknown tag " + tag + " after "
                    + count + " records");
        }
        runRemaining = readVarlong();
        if (runRemaining <= 0) {
            throw new IntegrityException(artifact, artifact + " has a batch run of length " + runRemaining
                    + " after " + count + " records");
        }
        return true;
    }

    private org.apache.kafka.common.record.Record nextOfBatch() throws IntegrityException {
        try {
            return batchRecords.next();
        } catch (org.apache.kafka.common.KafkaException e) {
            throw new IntegrityException(artifact, artifact + ": the record batch at offset " + batch.baseOffset()
                    + " cannot be decoded: " + e.getMessage(), e);
        }
    }

    /** Checks the offset of the record just read and counts it. */
    private void settle(long offset) throws IntegrityException {
        if (offset < expectedOffset || offset >= cut) {
            throw new IntegrityException(artifact, artifact + " holds offset " + offset + " after offset "
                    + lastOffset + " (expected at least " + expectedOffset + " and below the cut " + cut + ")");
        }
        expectedOffset = offset + 1;
        lastOffset = offset;
        count++;
    }

    /** Version 2: the next record of the current batch, reading the next batch (or the end) when it is used up. */
    private StoredRecord nextFromBatches() throws IOException {
        while (batchRecords == null || !batchRecords.hasNext()) {
            if (!nextRun()) {
                return null;
            }
            readBatch();
            batchRecords = batch.iterator();
        }
        org.apache.kafka.common.record.Record r = nextOfBatch();
        long offset = r.offset();
        settle(offset);
        org.apache.kafka.common.header.Header[] headers = r.headers();
        String[] headerKeys = new String[headers.length];
        byte[][] headerValues = new byte[headers.length][];
        for (int i = 0; i < headers.length; i++) {
            headerKeys[i] = headers[i].key();
            headerValues[i] = headers[i].value();
        }
        return new StoredRecord(offset, r.timestamp(), batch.timestampType().id,
                org.apache.kafka.common.utils.Utils.toNullableArray(r.key()),
                org.apache.kafka.common.utils.Utils.toNullableArray(r.value()), headerKeys, headerValues);
    }

    /**
     * Reads one whole record batch of the current run and checks its CRC. Its records are not
     * decoded here: a compressed batch would be decompressed whole, for nothing when it is sent as it is.
     */
    private void readBatch() throws IOException {
        int overhead = org.apache.kafka.common.record.Records.LOG_OVERHEAD;
        if (runRemaining < overhead) {
            throw new IntegrityException(artifact, artifact + " has a batch run that ends inside a batch header after "
                    + count + " records");
        }
        byte[] head = new byte[overhead];
        readFully(head, 0, overhead);
        int length = java.nio.ByteBuffer.wrap(head).getInt(org.apache.kafka.common.record.Records.SIZE_OFFSET);
        if (length < org.apache.kafka.common.record.DefaultRecordBatch.RECORD_BATCH_OVERHEAD - overhead
                || length > runRemaining - overhead) {
            throw new IntegrityException(artifact, artifact + " has a record batch of invalid length " + length
                    + " after " + count + " records");
        }
        byte[] whole = new byte[overhead + length];
        batchBytes = whole;
        System.arraycopy(head, 0, whole, 0, overhead);
        readFully(whole, overhead, length);
        runRemaining -= whole.length;
        java.util.Iterator<org.apache.kafka.common.record.MutableRecordBatch> it =
                org.apache.kafka.common.record.MemoryRecords.readableRecords(java.nio.ByteBuffer.wrap(whole))
                        .batches().iterator();
        if (!it.hasNext()) {
            throw new IntegrityException(artifact, artifact + " has an unreadable record batch after " + count
                    + " records");
        }
        batch = it.next();
        try {
            batch.ensureValid();
        } catch (org.apache.kafka.common.KafkaException e) {
            throw new IntegrityException(artifact, artifact + ": the record batch at offset " + batch.baseOffset()
                    + " is corrupt: " + e.getMessage(), e);
        }
        if (batch.magic() != org.apache.kafka.common.record.RecordBatch.MAGIC_VALUE_V2 || batch.isControlBatch()) {
            throw new IntegrityException(artifact, artifact + ": the record batch at offset " + batch.baseOffset()
                    + " is " + (batch.isControlBatch() ? "a control batch" : "of magic " + batch.magic())
                    + ", which version 2 never stores");
        }
    }

    private void readFully(byte[] b, int off, int len) throws IOException {
        int done = 0;
        while (done < len) {
            if (pos == limit && !fill()) {
                throw truncated();
            }
            int n = Math.min(len - done, limit - pos);
            System.arraycopy(buf, pos, b, off + done, n);
            pos += n;
            done += n;
        }
    }

    private void readEnd() throws IOException {
        long trailerCount = readVarlong();
        long trailerLast = readVarlong();
        ended = true;
        if (trailerCount != count || trailerLast != lastOffset) {
            throw new IntegrityException(artifact, artifact + " trailer says " + trailerCount
                    + " records ending at offset " + trailerLast + " but " + count + " records ending at "
                    + lastOffset + " were read");
        }
        if (readByteOrEof() >= 0) {
            throw new IntegrityException(artifact, artifact + " has data after its end");
        }
    }

    @Override
    public void close() throws IOException {
        in.close();
    }

    private String readString() throws IOException {
        byte[] b = readBytes();
        if (b == null) {
            throw new IntegrityException(artifact, artifact + " has a null string in its header");
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    private byte[] readBytes() throws IOException {
        int len = readVarint();
        if (len == -1) {
            return null;
        }
        if (len < -1 || len > MAX_FIELD) {
            throw new IntegrityException(artifact, artifact + " has an invalid field length " + len
                    + " after " + count + " records");
        }
        byte[] b = new byte[len];
        int done = 0;
        while (done < len) {
            if (pos == limit && !fill()) {
                throw truncated();
            }
            int n = Math.min(len - done, limit - pos);
            System.arraycopy(buf, pos, b, done, n);
            pos += n;
            done += n;
        }
        return b;
    }

    private int readVarint() throws IOException {
        int value = 0;
        int shift = 0;
        int b;
        do {
            if (shift > 28) {
                throw new IntegrityException(artifact, artifact + " has a malformed varint after " + count
                        + " records");
            }
            b = readByte();
            value |= (b & 0x7F) << shift;
            shift += 7;
        } while ((b & 0x80) != 0);
        return (value >>> 1) ^ -(value & 1);
    }

    private long readVarlong() throws IOException {
        long value = 0;
        int shift = 0;
        int b;
        do {
            if (shift > 63) {
                throw new IntegrityException(artifact, artifact + " has a malformed varlong after " + count
                        + " records");
            }
            b = readByte();
            value |= (long) (b & 0x7F) << shift;
            shift += 7;
        } while ((b & 0x80) != 0);
        return (value >>> 1) ^ -(value & 1);
    }

    private int readByte() throws IOException {
        int b = readByteOrEof();
        if (b < 0) {
            throw truncated();
        }
        return b;
    }

    private int readByteOrEof() throws IOException {
        if (pos == limit && !fill()) {
            return -1;
        }
        return buf[pos++] & 0xFF;
    }

    private boolean fill() throws IOException {
        int n = in.read(buf, 0, buf.length);
        while (n == 0) {
            n = in.read(buf, 0, buf.length);
        }
        if (n < 0) {
            return false;
        }
        pos = 0;
        limit = n;
        return true;
    }

    private IntegrityException truncated() {
        return new IntegrityException(artifact, artifact + " is truncated after " + count + " records",
                new EOFException());
    }

    /**
     * One record batch as stored: {@code bytes} holds exactly the batch, in a buffer of its own
     * that the caller may keep and modify; {@code decoded} its records when checking them meant
     * decoding them (a batch with offset gaps), else null.
     */
    record StoredBatch(org.apache.kafka.common.record.RecordBatch batch, java.nio.ByteBuffer bytes,
                       java.util.List<org.apache.kafka.common.record.Record> decoded) {
        /** The batch's records, decoded once. */
        Iterable<org.apache.kafka.common.record.Record> records() {
            return decoded != null ? decoded : batch;
        }
    }

    /**
     * One record as stored.
     *
     * @param timestampType 0 CreateTime, 1 LogAppendTime, -1 none
     */
    record StoredRecord(long offset, long timestamp, int timestampType, byte[] key, byte[] value,
                        String[] headerKeys, byte[][] headerValues) {
    }
}
