package com.aiplatform.backup.kafka;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static com.aiplatform.backup.kafka.KafkaTestSupport.bytes;
import static org.assertj.core.api.Assertions.assertThat;

/** The header rewrite that turns a stored batch into one of the restore's idempotent producer, and a lane's sending order. */
class KafkaBatchProducerTest {
    /** A transactional lz4 batch at offset 500 from producer 77, epoch 3, sequence 40, as a broker stores it. */
    private static ByteBuffer storedTransactionalBatch() {
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(4096), RecordBatch.CURRENT_MAGIC_VALUE,
                Compression.lz4().build(), TimestampType.CREATE_TIME, 500L, RecordBatch.NO_TIMESTAMP, 77L, (short) 3,
                40, true, 9);
        for (int i = 0; i < 5; i++) {
            b.append(1_650_000_000_000L + i, bytes("k" + i), i == 2 ? null : bytes("v" + i));
        }
        return b.build().buffer();
    }

    @Test
    void stampingSetsTheNewProducerClearsTheTransactionAndKeepsRecordsAndCompression() {
        ByteBuffer batch = storedTransactionalBatch();
        KafkaBatchProducer.stamp(batch, 1234L, (short) 0, 17);

        MutableRecordBatch stamped = MemoryRecords.readableRecords(batch).batches().iterator().next();
        stamped.ensureValid(); // the CRC was recomputed
        assertThat(stamped.producerId()).isEqualTo(1234L);
        assertThat(stamped.producerEpoch()).isEqualTo((short) 0);
        assertThat(stamped.baseSequence()).isEqualTo(17);
        assertThat(stamped.lastSequence()).isEqualTo(21);
        assertThat(stamped.isTransactional()).isFalse();
        assertThat(stamped.isControlBatch()).isFalse();
        assertThat(stamped.baseOffset()).isZero();
        assertThat(stamped.partitionLeaderEpoch()).isEqualTo(RecordBatch.NO_PARTITION_LEADER_EPOCH);
        assertThat(stamped.compressionType().name).isEqualTo("lz4");
        List<String> records = new ArrayList<>();
        for (Record r : stamped) {
            records.add(r.offset() + ":" + r.timestamp() + ":" + (r.hasValue() ? "v" : "null"));
        }
        assertThat(records).containsExactly("0:1650000000000:v", "1:1650000000001:v", "2:1650000000002:null",
                "3:1650000000003:v", "4:1650000000004:v");
    }

    @Test
    void aPartitionsFirstBatchTravelsAloneUntilItIsAppended() {
        // a broker with no state for the producer accepts any sequence: had the second batch gone
        // with the first, it could be appended before the first one's retry (seen in
        // KafkaRestoreRetryIT: OUT_OF_ORDER_SEQUENCE_NUMBER for sequence 0 after 0..1049 were in)
        KafkaBatchProducer.PartitionLane lane = new KafkaBatchProducer.PartitionLane(
                new TopicPartition("t", 0), Uuid.ZERO_UUID, null, null);
        for (int sequence = 0; sequence < 4; sequence++) {
            lane.queue.add(new KafkaBatchProducer.Outgoing(ByteBuffer.allocate(0), sequence, 1, offset -> { }));
        }
        KafkaBatchProducer.Outgoing first = lane.next(0);
        assertThat(first.sequence).isZero();
        lane.taken(first);
        assertThat(lane.next(0)).as("while the first batch is unanswered").isNull();

        lane.appended();
        for (int sequence = 1; sequence < 4; sequence++) {
            KafkaBatchProducer.Outgoing o = lane.next(0);
            assertThat(o.sequence).as("pipelined once the broker knows the producer").isEqualTo(sequence);
            lane.taken(o);
        }
        assertThat(lane.inFlight).isEqualTo(3);
    }

    @Test
    void aStampedBatchWithABadByteFailsItsCrc() {
        ByteBuffer batch = storedTransactionalBatch();
        KafkaBatchProducer.stamp(batch, 1L, (short) 0, 0);
        batch.put(batch.limit() - 1, (byte) (batch.get(batch.limit() - 1) ^ 1));
        assertThat(MemoryRecords.readableRecords(batch).batches().iterator().next().isValid()).isFalse();
    }

}
