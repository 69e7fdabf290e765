package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.IntegrityException;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads the per-partition format written by {@link PartitionRecordWriter} (see there and
 * FORMAT.md), one record at a time with a bounded buffer. A wrong magic, an unknown version, a
 * truncated file or a trailer that disagrees with the records read fail with
 * {@link IntegrityException} naming the artifact.
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
        int version = readByte();
        if (version != PartitionRecordWriter.VERSION) {
            throw new IntegrityException(artifact, artifact + " has format version " + version
                    + "; this library reads version " + PartitionRecordWriter.VERSION);
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
        int tag = readByte();
        if (tag == PartitionRecordWriter.TAG_END) {
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
     * One record as stored.
     *
     * @param timestampType 0 CreateTime, 1 LogAppendTime, -1 none
     */
    record StoredRecord(long offset, long timestamp, int timestampType, byte[] key, byte[] value,
                        String[] headerKeys, byte[][] headerValues) {
    }
}
