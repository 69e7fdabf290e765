package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.IntegrityException;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.ControlRecordType;
import org.apache.kafka.common.record.EndTransactionMarker;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Format version 2: Kafka record batches as stored, read back record by record (FORMAT.md). */
class PartitionBatchFormatTest {
    private static final byte[] BINARY = {0, (byte) 0xFF, (byte) 0x80, 0x7F, 10, 13};

    private static ByteBuffer batch(Compression compression, TimestampType type, long logAppendTime,
                                    long... offsets) {
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(4096), RecordBatch.MAGIC_VALUE_V2,
                compression, type, offsets[0], logAppendTime, RecordBatch.NO_PRODUCER_ID,
                RecordBatch.NO_PRODUCER_EPOCH, RecordBatch.NO_SEQUENCE, false, RecordBatch.NO_PARTITION_LEADER_EPOCH);
        for (long o : offsets) {
            Header[] headers = {new RecordHeader("dup", "a".getBytes(StandardCharsets.UTF_8)),
                    new RecordHeader("dup", null), new RecordHeader("dup", new byte[0])};
            byte[] key = o % 3 == 0 ? null : ("k" + o).getBytes(StandardCharsets.UTF_8);
            byte[] value = o % 4 == 0 ? null : o % 4 == 1 ? new byte[0] : BINARY;
            b.appendWithOffset(o, 1_700_000_000_000L + o, key, value, headers);
        }
        return b.build().buffer();
    }

    private static byte[] write(long start, long cut, long count, long last, ByteBuffer... runs) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PartitionBatchWriter w = new PartitionBatchWriter(out, "t", 0, start, cut);
        for (ByteBuffer run : runs) {
            w.writeBatches(run);
        }
        w.finish(count, last);
        return out.toByteArray();
    }

    private static List<String> read(byte[] data) throws IOException {
        List<String> out = new ArrayList<>();
        try (PartitionRecordReader r = new PartitionRecordReader(new ByteArrayInputStream(data), "t/0.records")) {
            assertThat(r.topic()).isEqualTo("t");
            PartitionRecordReader.StoredRecord s;
            while ((s = r.next()) != null) {
                StringBuilder b = new StringBuilder(s.offset() + "@" + s.timestamp() + "/" + s.timestampType()
                        + " k=" + hex(s.key()) + " v=" + hex(s.value()) + " h=");
                for (int i = 0; i < s.headerKeys().length; i++) {
                    b.append(s.headerKeys()[i]).append(':').append(hex(s.headerValues()[i])).append(',');
                }
                out.add(b.toString());
            }
        }
        return out;
    }

    private static String hex(byte[] b) {
        return b == null ? "null" : "[" + HexFormat.of().formatHex(b) + "]";
    }

    private static ByteBuffer concat(ByteBuffer... parts) {
        int n = Arrays.stream(parts).mapToInt(ByteBuffer::remaining).sum();
        ByteBuffer all = ByteBuffer.allocate(n);
        for (ByteBuffer p : parts) {
            all.put(p.duplicate());
        }
        return all.flip();
    }

    @Test
    void recordsOfRawBatchesComeBackWithNullsEmptiesDuplicateHeadersGapsAndTimestampTypes() throws IOException {
        // two batches in one run (one gzip-compressed with a compaction-like gap), one LogAppendTime batch alone
        ByteBuffer plain = batch(Compression.NONE, TimestampType.CREATE_TIME, RecordBatch.NO_TIMESTAMP, 3, 4, 5);
        ByteBuffer gzip = batch(Compression.gzip().build(), TimestampType.CREATE_TIME, RecordBatch.NO_TIMESTAMP, 6, 9);
        ByteBuffer append = batch(Compression.NONE, TimestampType.LOG_APPEND_TIME, 1_800_000_000_000L, 10);
        byte[] data = write(3, 11, 6, 10, concat(plain, gzip), append);

        List<String> got = read(data);

        String headers = " h=dup:[61],dup:null,dup:[],";
        assertThat(got).containsExactly(
                "3@1700000000003/0 k=null v=[00ff807f0a0d]" + headers,
                "4@1700000000004/0 k=[6b34] v=null" + headers,
                "5@1700000000005/0 k=[6b35] v=[]" + headers,
                "6@1700000000006/0 k=null v=[00ff807f0a0d]" + headers,
                "9@1700000000009/0 k=null v=[]" + headers,
                "10@1800000000000/1 k=[6b3130] v=[00ff807f0a0d]" + headers);
    }

    @Test
    void aTrailerThatDisagreesATruncatedFileOrACorruptBatchIsAnIntegrityError() throws IOException {
        ByteBuffer b = batch(Compression.NONE, TimestampType.CREATE_TIME, RecordBatch.NO_TIMESTAMP, 0, 1, 2);
        assertThatThrownBy(() -> read(write(0, 3, 2, 2, b.duplicate()))).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("trailer says 2 records");
        byte[] good = write(0, 3, 3, 2, b.duplicate());
        assertThat(read(good)).hasSize(3);
        for (int cut = 6; cut < good.length; cut += 11) {
            byte[] truncated = Arrays.copyOf(good, cut);
            assertThatThrownBy(() -> read(truncated)).as("truncated at " + cut)
                    .isInstanceOf(IntegrityException.class).hasMessageContaining("t/0.records");
        }
        byte[] flipped = good.clone();
        flipped[good.length - 12] ^= 0x01; // inside the last record of the batch
        assertThatThrownBy(() -> read(flipped)).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("is corrupt");
    }

    @Test
    void offsetsOutsideTheHeadersRangeAndControlBatchesAreRefused() throws IOException {
        ByteBuffer b = batch(Compression.NONE, TimestampType.CREATE_TIME, RecordBatch.NO_TIMESTAMP, 5, 6);
        assertThatThrownBy(() -> read(write(0, 6, 2, 6, b.duplicate()))).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("holds offset 6").hasMessageContaining("below the cut 6");
        assertThatThrownBy(() -> read(write(6, 10, 2, 6, b.duplicate()))).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("holds offset 5");

        ByteBuffer marker = MemoryRecords.withEndTransactionMarker(7, 1L, 0, 42L, (short) 0,
                new EndTransactionMarker(ControlRecordType.COMMIT, 0)).buffer();
        assertThatThrownBy(() -> read(write(7, 8, 1, 7, marker))).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("control batch");
    }
}
