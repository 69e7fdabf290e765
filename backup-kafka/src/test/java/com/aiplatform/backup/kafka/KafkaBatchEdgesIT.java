package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static com.aiplatform.backup.kafka.KafkaTestSupport.bytes;
import static com.aiplatform.backup.kafka.KafkaTestSupport.createTopic;
import static com.aiplatform.backup.kafka.KafkaTestSupport.describeAll;
import static com.aiplatform.backup.kafka.KafkaTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The backup stores record batches as the broker holds them: batches that producers compressed
 * (gzip, lz4, zstd, snappy) come back record for record, and a batch that straddles the start of
 * the backup (the log start moved inside it by DeleteRecords) is rebuilt holding only the records
 * from the start on.
 */
class KafkaBatchEdgesIT {
    @RegisterExtension
    static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

    @TempDir
    Path storage;

    /** Sends {@code count} records as one batch (one flush), with headers and a null value now and then. */
    private static void produceOneBatch(String bootstrap, String topic, String codec, int count) {
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(bootstrap, Map.of(
                ProducerConfig.COMPRESSION_TYPE_CONFIG, codec, ProducerConfig.LINGER_MS_CONFIG, "60000",
                ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(1 << 20)))) {
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

    private static RestoreOptions renameTo(String topic, String to) {
        return new RestoreOptions(Optional.empty(), false, Map.of("rename." + topic, to,
                "target-bootstrap-servers", KAFKA.target().bootstrapServers()));
    }

    @Test
    void producerCompressedBatchesComeBackRecordForRecord() throws Exception {
        String source = KAFKA.source().bootstrapServers();
        for (String codec : List.of("gzip", "lz4", "zstd", "snappy")) {
            String topic = KafkaTestSupport.unique("codec-" + codec);
            try (Admin admin = KAFKA.source().admin()) {
                createTopic(admin, topic, 1, Map.of());
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
            assertThat(describeAll(after, true)).as(codec).isEqualTo(describeAll(before, true));
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
}
