package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static com.aiplatform.backup.kafka.KafkaTestSupport.bytes;
import static com.aiplatform.backup.kafka.KafkaTestSupport.createTopic;
import static com.aiplatform.backup.kafka.KafkaTestSupport.describeAll;
import static com.aiplatform.backup.kafka.KafkaTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Acceptance 4: a full backup and two incrementals, restored as a chain, give the same topic as
 * one full backup taken at the end; an incremental over data that retention deleted says so.
 */
class KafkaIncrementalIT {
    @RegisterExtension
    static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

    @TempDir
    Path storage;

    private static void produce(String bootstrap, String topic, int partitions, String batch, int count) {
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(bootstrap, Map.of())) {
            for (int i = 0; i < count; i++) {
                RecordHeaders h = new RecordHeaders();
                h.add(new RecordHeader("batch", bytes(batch)));
                h.add(new RecordHeader("batch", null));
                p.send(new ProducerRecord<>(topic, i % partitions, 1_600_000_000_000L + i, bytes(batch + "-" + i),
                        i % 10 == 0 ? null : bytes("value " + batch + " " + i), h));
            }
        }
    }

    private static RestoreOptions options(String target, Map<String, String> extra) {
        Map<String, String> o = new HashMap<>(extra);
        o.put("target-bootstrap-servers", target);
        return new RestoreOptions(Optional.empty(), false, o);
    }

    @Test
    void fullPlusTwoIncrementalsRestoreToTheSameAsOneFullAtTheEnd() throws Exception {
        String topic = KafkaTestSupport.unique("inc");
        String group = topic + "-group";
        String lagging = topic + "-lagging";
        String source = KAFKA.source().bootstrapServers();
        String target = KAFKA.target().bootstrapServers();
        try (Admin admin = KAFKA.source().admin()) {
            createTopic(admin, topic, 3, Map.of("retention.ms", "-1"));
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic).build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD);
             Admin admin = KAFKA.source().admin()) {
            produce(source, topic, 3, "one", 90);
            Manifest full = engine.backup(config, true);

            produce(source, topic, 3, "two", 60);
            try (KafkaProducer<byte[], byte[]> t = KafkaTestSupport.producer(source,
                    Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, topic + "-tx"))) {
                t.initTransactions();
                t.beginTransaction();
                t.send(new ProducerRecord<>(topic, 0, bytes("tx"), bytes("aborted")));
                t.abortTransaction();
                t.beginTransaction();
                t.send(new ProducerRecord<>(topic, 1, bytes("tx"), bytes("committed")));
                t.commitTransaction();
            }
            Manifest incr1 = engine.backup(config, true);

            produce(source, topic, 3, "three", 30);
            // a group inside the last increment and one lagging far behind (inside the full backup)
            // partitions 0 and 1 hold 30 + 20 records, then a transaction (record + marker): the last
            // increment starts at 52 there
            admin.alterConsumerGroupOffsets(group, Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(55),
                    new TopicPartition(topic, 1), new OffsetAndMetadata(56))).all().get();
            admin.alterConsumerGroupOffsets(lagging, Map.of(new TopicPartition(topic, 2), new OffsetAndMetadata(7),
                    new TopicPartition(topic, 1), new OffsetAndMetadata(30))).all().get();
            Manifest incr2 = engine.backup(config, true);
            Manifest fullAtEnd = engine.backup(config, false);

            assertThat(full.kind()).isEqualTo(BackupKind.FULL);
            assertThat(incr1.kind()).isEqualTo(BackupKind.INCREMENTAL);
            assertThat(incr1.parent()).isEqualTo(full.backupId());
            assertThat(incr2.parent()).isEqualTo(incr1.backupId());
            assertThat(fullAtEnd.kind()).isEqualTo(BackupKind.FULL);
            long fullCount = full.contentSummary().values().stream().mapToLong(Long::longValue).sum();
            long incr1Count = incr1.contentSummary().values().stream().mapToLong(Long::longValue).sum();
            long incr2Count = incr2.contentSummary().values().stream().mapToLong(Long::longValue).sum();
            assertThat(fullCount).isEqualTo(90);
            assertThat(incr1Count).as("60 plain + 1 committed transactional record").isEqualTo(61);
            assertThat(incr2Count).isEqualTo(30);
            assertThat(fullAtEnd.contentSummary().values().stream().mapToLong(Long::longValue).sum())
                    .isEqualTo(fullCount + incr1Count + incr2Count);
            assertThat(incr1.metadata()).doesNotContainKey("data-lost");

            String chain = topic + "-chain";
            String once = topic + "-once";
            Map<String, String> toChain = Map.of("rename." + topic, chain);
            engine.restore(config, full.backupId().value(), options(target, toChain));
            assertThatThrownBy(() -> engine.restore(config, incr2.backupId().value(),
                    options(target, Map.of("rename." + topic, chain, "append-chain", "true"))))
                    .as("skipping a step of the chain is refused")
                    .isInstanceOf(SourceException.class).hasMessageContaining("restore the chain in order")
                    .hasMessageContaining("nothing was written");
            assertThatThrownBy(() -> engine.restore(config, incr1.backupId().value(), options(target, toChain)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("append-chain=true");
            engine.restore(config, incr1.backupId().value(),
                    options(target, Map.of("rename." + topic, chain, "append-chain", "true")));
            engine.restore(config, incr2.backupId().value(),
                    options(target, Map.of("rename." + topic, chain, "append-chain", "true")));
            assertThatThrownBy(() -> engine.restore(config, incr2.backupId().value(),
                    options(target, Map.of("rename." + topic, chain, "append-chain", "true"))))
                    .as("repeating a step is refused").isInstanceOf(SourceException.class)
                    .hasMessageContaining("ends at offset");
            engine.restore(config, fullAtEnd.backupId().value(), options(target, Map.of("rename." + topic, once)));

            for (int p = 0; p < 3; p++) {
                List<String> viaChain = describeAll(readAll(target, chain, p), true);
                List<String> viaFull = describeAll(readAll(target, once, p), true);
                List<String> original = describeAll(readAll(source, topic, p), true);
                KafkaRoundTripIT.assertSameRecords("chain vs full, partition " + p, viaFull, viaChain);
                KafkaRoundTripIT.assertSameRecords("full vs source, partition " + p, original, viaFull);
            }
            try (Admin t = KAFKA.target().admin()) {
                Map<TopicPartition, OffsetAndMetadata> g = t.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata().get();
                for (int p = 0; p < 2; p++) {
                    assertThat(g.get(new TopicPartition(chain, p)).offset()).as("group on partition " + p)
                            .isEqualTo(g.get(new TopicPartition(once, p)).offset());
                }
                Map<TopicPartition, OffsetAndMetadata> l = t.listConsumerGroupOffsets(lagging)
                        .partitionsToOffsetAndMetadata().get();
                assertThat(l.get(new TopicPartition(chain, 2)).offset()).as("lagging group, no offset gaps: exact")
                        .isEqualTo(l.get(new TopicPartition(once, 2)).offset());
                // lagging across a transaction marker: placed by the gap-free bound, at or before its
                // record (at-least-once), here one before
                long exact = l.get(new TopicPartition(once, 1)).offset();
                assertThat(exact).isEqualTo(30);
                assertThat(l.get(new TopicPartition(chain, 1)).offset()).as("lagging group across a gap")
                        .isBetween(exact - 1, exact);
            }
        }
    }

    @Test
    void incrementalOverDataDeletedByRetentionReportsIt() throws Exception {
        String topic = KafkaTestSupport.unique("ret");
        String source = KAFKA.source().bootstrapServers();
        try (Admin admin = KAFKA.source().admin()) {
            createTopic(admin, topic, 2, Map.of());
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic).build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD);
             Admin admin = KAFKA.source().admin()) {
            produce(source, topic, 2, "old", 20);
            Manifest full = engine.backup(config, true);
            assertThat(full.metadata()).containsEntry("cut." + topic + ".0", "10");
            produce(source, topic, 2, "new", 20);
            admin.deleteRecords(Map.of(new TopicPartition(topic, 0), RecordsToDelete.beforeOffset(15))).all().get();
            Manifest incr = engine.backup(config, true);

            assertThat(incr.kind()).isEqualTo(BackupKind.INCREMENTAL);
            assertThat(incr.metadata()).containsEntry("data-lost", topic + "-0");
            assertThat(incr.metadata().get("lost." + topic + ".0")).contains("offsets 10..15")
                    .contains("deleted by retention");
            assertThat(incr.metadata()).doesNotContainKey("lost." + topic + ".1");
            assertThat(incr.contentSummary()).containsEntry(topic + "-0", 5L).containsEntry(topic + "-1", 10L);
            var ends = KafkaTestSupport.endOffsets(admin, topic, 2, IsolationLevel.READ_COMMITTED);
            assertThat(incr.metadata()).containsEntry("cut." + topic + ".0",
                    Long.toString(ends.get(new TopicPartition(topic, 0))));
        }
    }
}
