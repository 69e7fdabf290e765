package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

import static com.aiplatform.backup.kafka.KafkaTestSupport.bytes;
import static com.aiplatform.backup.kafka.KafkaTestSupport.createTopic;
import static com.aiplatform.backup.kafka.KafkaTestSupport.describeAll;
import static com.aiplatform.backup.kafka.KafkaTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The backup stores record batches as the broker holds them: batches that producers compressed
 * (gzip, lz4, zstd, snappy) come back record for record, still compressed with their codec when
 * re-batched, and a batch that straddles the start of
 * the backup (the log start moved inside it by DeleteRecords) is rebuilt holding only the records
 * from the start on. The restore appends a large stored batch as it is (compression and all,
 * re-stamped with its own idempotent producer id), and consumer groups that stopped inside such a
 * batch resume at the same record.
 */
class KafkaBatchEdgesIT {
    @RegisterExtension
    static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

    @TempDir
    Path storage;

    /** Sends {@code count} records as one batch (one flush), with headers and a null value now and then. */
    private static void produceOneBatch(String bootstrap, String topic, String codec, int count) {
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.oneBatchProducer(bootstrap,
                Map.of(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec))) {
            for (int i = 0; i < count; i++) {
                RecordHeaders h = new RecordHeaders();
                h.add(new RecordHeader("codec", bytes(codec)));
                h.add(new RecordHeader("codec", null));
                p.send(new ProducerRecord<>(topic, 0, 1_650_000_000_000L + i, i % 5 == 0 ? null : bytes("k" + i),
                        i % 7 == 0 ? null : bytes(codec + " value " + i + " " + "x".repeat(i % 50)), h));
            }
            p.flush();
        }
    }

    /** The record batches of a target partition as its broker stores them (the first fetch's worth). */
    private static List<RecordBatch> targetBatches(String topic, int partition) throws Exception {
        return batches(KAFKA.target(), topic, partition);
    }

    /** A batch's bytes after its header: its records, compressed as stored. */
    private static byte[] recordsSection(RecordBatch b) {
        org.apache.kafka.common.utils.ByteBufferOutputStream out =
                new org.apache.kafka.common.utils.ByteBufferOutputStream(b.sizeInBytes());
        ((org.apache.kafka.common.record.MutableRecordBatch) b).writeTo(out);
        ByteBuffer all = out.buffer().flip();
        return java.util.Arrays.copyOfRange(all.array(), all.arrayOffset()
                + org.apache.kafka.common.record.DefaultRecordBatch.RECORD_BATCH_OVERHEAD, all.arrayOffset() + all.limit());
    }

    private static List<RecordBatch> batches(EmbeddedKafka cluster, String topic, int partition) throws Exception {
        String target = cluster.bootstrapServers();
        List<RecordBatch> batches = new ArrayList<>();
        KafkaConfig targetConfig = KafkaConfig.builder("check").bootstrapServers(target).topic(topic).build();
        try (Admin admin = cluster.admin();
             KafkaBatchFetcher fetcher = new KafkaClients(targetConfig, target, "check")
                     .fetcher(IsolationLevel.READ_UNCOMMITTED)) {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            TopicPartition tp = new TopicPartition(topic, partition);
            Map<TopicPartition, Node> leaders = new HashMap<>();
            leaders.put(tp, d.partitions().get(partition).leader());
            for (KafkaBatchFetcher.PartitionFetch f : fetcher.fetch(Map.of(tp, 0L), leaders,
                    Map.of(topic, d.topicId()))) {
                f.records().batches().forEach(batches::add);
            }
        }
        return batches;
    }

    private static RestoreOptions renameTo(String topic, String to) {
        return new RestoreOptions(Optional.empty(), false, Map.of("rename." + topic, to,
                "target-bootstrap-servers", KAFKA.target().bootstrapServers()));
    }

    @Test
    void producerCompressedBatchesComeBackRecordForRecord() throws Exception {
        String source = KAFKA.source().bootstrapServers();
        for (String codec : List.of("gzip", "lz4", "zstd", "snappy")) {
            String topic = KafkaTestSupport.unique("codec-" + codec);
            // LogAppendTime batches cannot go as stored: their records are re-batched
            boolean appendTime = codec.equals("lz4");
            try (Admin admin = KAFKA.source().admin()) {
                createTopic(admin, topic, 1, appendTime ? Map.of("message.timestamp.type", "LogAppendTime") : Map.of());
            }
            produceOneBatch(source, topic, codec, 200);
            KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic).build();
            try (BackupEngine engine = KafkaTestSupport.engine(storage.resolve(codec), Compression.ZSTD)) {
                Manifest m = engine.backup(config);
                assertThat(m.contentSummary()).containsEntry(topic + "-0", 200L);
                engine.restore(config, m.backupId().value(), renameTo(topic, topic + "-restored"));
            }
            List<ConsumerRecord<byte[], byte[]>> before = readAll(source, topic, 0);
            List<ConsumerRecord<byte[], byte[]>> after = readAll(KAFKA.target().bootstrapServers(),
                    topic + "-restored", 0);
            assertThat(before).hasSize(200);
            // (LogAppendTime: the target broker stamps its own time)
            assertThat(describeAll(after, !appendTime)).as(codec).isEqualTo(describeAll(before, !appendTime));
            List<RecordBatch> stored = batches(KAFKA.source(), topic, 0);
            List<RecordBatch> restored = targetBatches(topic + "-restored", 0);
            assertThat(stored).as(codec).hasSize(1);
            // the codec stays: re-batched records are compressed again with it, a batch sent as stored keeps it
            assertThat(restored).as(codec).isNotEmpty().allSatisfy(b -> assertThat(b.compressionType()).as(codec)
                    .isEqualTo(CompressionType.forName(codec)));
            if (!appendTime) {
                // a small compressed batch goes as stored: same records, same compressed bytes
                assertThat(restored).as(codec).hasSize(1);
                assertThat(restored.get(0).sizeInBytes()).as(codec).isEqualTo(stored.get(0).sizeInBytes());
                assertThat(recordsSection(restored.get(0))).as(codec).isEqualTo(recordsSection(stored.get(0)));
            }
        }
    }

    @Test
    void aBatchStraddlingTheLogStartIsCutToTheRecordsFromTheStartOn() throws Exception {
        String topic = KafkaTestSupport.unique("straddle");
        String source = KAFKA.source().bootstrapServers();
        TopicPartition tp = new TopicPartition(topic, 0);
        try (Admin admin = KAFKA.source().admin()) {
            createTopic(admin, topic, 1, Map.of());
            produceOneBatch(source, topic, "none", 20);
            produceOneBatch(source, topic, "lz4", 20);
            // log start inside the first batch (offsets 0..19): records 0..6 are gone
            admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(7))).all().get();
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic).build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            Manifest m = engine.backup(config);
            assertThat(m.contentSummary()).containsEntry(topic + "-0", 33L);
            engine.restore(config, m.backupId().value(), renameTo(topic, topic + "-restored"));
        }
        List<ConsumerRecord<byte[], byte[]>> before = readAll(source, topic, 0);
        assertThat(before.get(0).offset()).isEqualTo(7);
        List<ConsumerRecord<byte[], byte[]>> after = readAll(KAFKA.target().bootstrapServers(), topic + "-restored", 0);
        assertThat(describeAll(after, true)).isEqualTo(describeAll(before, true));
    }

    @Test
    void largeStoredBatchesAreAppendedAsTheyAreAndGroupsResumeInsideThem() throws Exception {
        String topic = KafkaTestSupport.unique("whole");
        String source = KAFKA.source().bootstrapServers();
        String target = KAFKA.target().bootstrapServers();
        try (Admin admin = KAFKA.source().admin()) {
            createTopic(admin, topic, 2, Map.of());
        }
        // partition 0: one uncompressed batch of 3000 records (~400 KiB)
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.oneBatchProducer(source, Map.of())) {
            for (int i = 0; i < 3000; i++) {
                p.send(new ProducerRecord<>(topic, 0, 1_650_000_000_000L + i, bytes("p0-" + i),
                        bytes("plain value " + i + " " + "y".repeat(100))));
            }
            p.flush();
        }
        // partition 1: a committed lz4 transaction of 3000 incompressible records, an aborted one, another committed
        Random random = new Random(11);
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.oneBatchProducer(source, Map.of(
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, topic + "-tx", ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4"))) {
            p.initTransactions();
            int n = 0;
            for (int[] tx : new int[][] {{3000, 1}, {10, 0}, {500, 1}}) {
                p.beginTransaction();
                for (int i = 0; i < tx[0]; i++) {
                    byte[] value = new byte[64];
                    random.nextBytes(value);
                    RecordHeaders h = new RecordHeaders();
                    h.add(new RecordHeader("n", bytes(Integer.toString(n))));
                    p.send(new ProducerRecord<>(topic, 1, 1_650_000_000_000L + n, bytes("p1-" + n++), value, h));
                }
                if (tx[1] == 1) {
                    p.commitTransaction();
                } else {
                    p.abortTransaction();
                }
            }
        }
        String group = topic + "-readers";
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        try (Admin admin = KAFKA.source().admin()) {
            admin.alterConsumerGroupOffsets(group, Map.of(p0, new OffsetAndMetadata(1234),
                    p1, new OffsetAndMetadata(1500))).all().get();
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic).build();
        String restored = topic + "-restored";
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            Manifest m = engine.backup(config);
            assertThat(m.contentSummary()).containsEntry(topic + "-0", 3000L).containsEntry(topic + "-1", 3500L);
            engine.restore(config, m.backupId().value(), renameTo(topic, restored));
        }
        for (int partition = 0; partition < 2; partition++) {
            assertThat(describeAll(readAll(target, restored, partition), true)).as("partition " + partition)
                    .isEqualTo(describeAll(readAll(source, topic, partition), true));
        }

        // the committed lz4 batch arrived whole: still lz4, 3000 records, no longer transactional
        List<RecordBatch> batches = targetBatches(restored, 1);
        assertThat(batches).isNotEmpty();
        assertThat(batches.get(0).compressionType()).isEqualTo(CompressionType.LZ4);
        assertThat(batches.get(0).countOrNull()).isEqualTo(3000);
        assertThat(batches.get(0).isTransactional()).isFalse();
        assertThat(batches.get(0).hasProducerId()).isTrue();

        // the group resumes at the same records: 1234 on partition 0, 1500 inside the lz4 batch on partition 1
        Map<TopicPartition, OffsetAndMetadata> committed;
        try (Admin admin = KAFKA.target().admin()) {
            committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        }
        List<ConsumerRecord<byte[], byte[]>> restored0 = readAll(target, restored, 0);
        List<ConsumerRecord<byte[], byte[]>> restored1 = readAll(target, restored, 1);
        long at0 = committed.get(new TopicPartition(restored, 0)).offset();
        long at1 = committed.get(new TopicPartition(restored, 1)).offset();
        assertThat(new String(restored0.stream().filter(r -> r.offset() == at0).findFirst().orElseThrow().key(),
                java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("p0-1234");
        assertThat(new String(restored1.stream().filter(r -> r.offset() == at1).findFirst().orElseThrow().key(),
                java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("p1-1500");
    }

    @Test
    void aBatchTheTargetRefusesFailsTheRestoreNamingThePartitionAndThePartialTarget() throws Exception {
        String topic = KafkaTestSupport.unique("refused");
        String source = KAFKA.source().bootstrapServers();
        try (Admin admin = KAFKA.source().admin()) {
            createTopic(admin, topic, 1, Map.of());
        }
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.oneBatchProducer(source, Map.of())) {
            for (int i = 0; i < 2000; i++) {
                p.send(new ProducerRecord<>(topic, 0, bytes("k" + i), bytes("value " + i + " " + "z".repeat(100))));
            }
            p.flush();
        }
        // the target topic exists (empty, so the restore may use it) but takes no batch above 10 kB
        String restored = topic + "-small";
        try (Admin admin = KAFKA.target().admin()) {
            createTopic(admin, restored, 1, Map.of("max.message.bytes", "10000"));
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic).build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            Manifest m = engine.backup(config);
            assertThatThrownBy(() -> engine.restore(config, m.backupId().value(), renameTo(topic, restored)))
                    .isInstanceOf(com.aiplatform.backup.api.SourceException.class)
                    .hasMessageContaining("partition 0 of topic '" + restored + "'")
                    .hasMessageContaining("MESSAGE_TOO_LARGE")
                    .hasMessageContaining("partially restored");
        }
    }
}
