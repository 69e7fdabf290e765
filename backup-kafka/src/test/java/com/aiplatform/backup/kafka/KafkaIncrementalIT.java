package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.DrillReport;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.RestoreReport;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerRecord;
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

import java.nio.file.Files;
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
 * A full backup and two incrementals: {@code restore latest} applies the whole chain into an empty
 * cluster and gives the source's records, configs and group positions (issue 12, acceptance 5),
 * the same as one full backup taken at the end; applied step by step with {@code append-chain=true}
 * it gives the same records; a damaged or missing middle link refuses the whole restore before
 * anything is written; an incremental over data that retention deleted says so.
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

            // acceptance 5: "restore latest" of the incremental applies full + incr1 + incr2 into the empty cluster
            RestoreReport report = engine.restore(config, "latest", options(target, Map.of()));
            assertThat(report.backupId()).isEqualTo(incr2.backupId());
            assertThat(report.chain()).containsExactly(full.backupId(), incr1.backupId(), incr2.backupId());
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

            // the manual way still works: one step at a time with append-chain=true, checked at each step
            String manual = topic + "-manual";
            String once = topic + "-once";
            Map<String, String> toManual = Map.of("rename." + topic, manual);
            assertThat(engine.restore(config, full.backupId().value(), options(target, toManual)).chain())
                    .containsExactly(full.backupId());
            assertThatThrownBy(() -> engine.restore(config, incr2.backupId().value(),
                    options(target, Map.of("rename." + topic, manual, "append-chain", "true"))))
                    .as("skipping a step of the chain is refused")
                    .isInstanceOf(SourceException.class).hasMessageContaining("restore the chain in order")
                    .hasMessageContaining("nothing was written");
            assertThatThrownBy(() -> engine.restore(config, incr1.backupId().value(), options(target, toManual)))
                    .as("the whole chain of incr1 onto the restored full backup: the target is not empty")
                    .isInstanceOf(SourceException.class).hasMessageContaining("is not empty");
            assertThat(engine.restore(config, incr1.backupId().value(),
                    options(target, Map.of("rename." + topic, manual, "append-chain", "true"))).chain())
                    .containsExactly(incr1.backupId());
            engine.restore(config, incr2.backupId().value(),
                    options(target, Map.of("rename." + topic, manual, "append-chain", "true")));
            assertThatThrownBy(() -> engine.restore(config, incr2.backupId().value(),
                    options(target, Map.of("rename." + topic, manual, "append-chain", "true"))))
                    .as("repeating a step is refused").isInstanceOf(SourceException.class)
                    .hasMessageContaining("ends at offset");
            engine.restore(config, fullAtEnd.backupId().value(), options(target, Map.of("rename." + topic, once)));

            for (int p = 0; p < 3; p++) {
                List<String> viaChain = describeAll(readAll(target, topic, p), true);
                List<String> viaManual = describeAll(readAll(target, manual, p), true);
                List<String> viaFull = describeAll(readAll(target, once, p), true);
                List<String> original = describeAll(readAll(source, topic, p), true);
                KafkaRoundTripIT.assertSameRecords("latest chain vs source, partition " + p, original, viaChain);
                KafkaRoundTripIT.assertSameRecords("manual chain vs full, partition " + p, viaFull, viaManual);
                KafkaRoundTripIT.assertSameRecords("full vs source, partition " + p, original, viaFull);
            }
            try (Admin t = KAFKA.target().admin()) {
                assertThat(KafkaRoundTripIT.configs(t, topic)).as("topic configs")
                        .isEqualTo(KafkaRoundTripIT.configs(admin, topic)).containsEntry("retention.ms", "-1");
                Map<TopicPartition, OffsetAndMetadata> g = t.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata().get();
                Map<TopicPartition, OffsetAndMetadata> l = t.listConsumerGroupOffsets(lagging)
                        .partitionsToOffsetAndMetadata().get();
                for (int p = 0; p < 2; p++) {
                    assertThat(g.get(new TopicPartition(manual, p)).offset()).as("group on partition " + p)
                            .isEqualTo(g.get(new TopicPartition(once, p)).offset());
                }
                // the latest chain: every group resumes at the record it would have read in the source
                Map<TopicPartition, Long> expected = Map.of(new TopicPartition(topic, 0), 55L,
                        new TopicPartition(topic, 1), 56L);
                Map<TopicPartition, Long> expectedLagging = Map.of(new TopicPartition(topic, 2), 7L,
                        new TopicPartition(topic, 1), 30L);
                for (var e : expected.entrySet()) {
                    assertResumesAtTheSameRecord(source, target, e.getKey(), e.getValue(), g.get(e.getKey()).offset());
                    assertThat(g.get(e.getKey()).offset()).as("chain vs full at the end")
                            .isEqualTo(g.get(new TopicPartition(once, e.getKey().partition())).offset());
                }
                for (var e : expectedLagging.entrySet()) {
                    assertResumesAtTheSameRecord(source, target, e.getKey(), e.getValue(), l.get(e.getKey()).offset());
                    assertThat(l.get(e.getKey()).offset()).as("lagging group, chain vs full at the end: exact")
                            .isEqualTo(l.get(new TopicPartition(once, e.getKey().partition())).offset());
                }
                assertThat(l.get(new TopicPartition(manual, 2)).offset()).as("lagging group, no offset gaps: exact")
                        .isEqualTo(l.get(new TopicPartition(once, 2)).offset());
                // applied step by step, a group lagging across a transaction marker is placed by the
                // gap-free bound, at or before its record (at-least-once), here one before
                long exact = l.get(new TopicPartition(once, 1)).offset();
                assertThat(exact).isEqualTo(30);
                assertThat(l.get(new TopicPartition(manual, 1)).offset()).as("lagging group across a gap")
                        .isBetween(exact - 1, exact);
            }
        }
    }

    /**
     * The first record at or after {@code committed} in the source partition is the first record
     * at or after {@code restored} in the restored one (or neither has one).
     */
    private static void assertResumesAtTheSameRecord(String source, String target, TopicPartition tp, long committed,
                                                     long restored) {
        List<ConsumerRecord<byte[], byte[]>> before = readAll(source, tp.topic(), tp.partition());
        List<ConsumerRecord<byte[], byte[]>> after = readAll(target, tp.topic(), tp.partition());
        Optional<String> expected = before.stream().filter(r -> r.offset() >= committed).findFirst()
                .map(r -> KafkaTestSupport.describe(r, true));
        Optional<String> actual = after.stream().filter(r -> r.offset() >= restored).findFirst()
                .map(r -> KafkaTestSupport.describe(r, true));
        assertThat(expected).as("the source has a record at or after " + committed + " in " + tp).isPresent();
        assertThat(actual).as("group offset " + restored + " in restored " + tp + " (was " + committed + ")")
                .isEqualTo(expected);
    }

    @Test
    void damagedMiddleLinkRefusesTheWholeChainBeforeAnythingIsWritten() throws Exception {
        String topic = KafkaTestSupport.unique("dmg");
        String source = KAFKA.source().bootstrapServers();
        String target = KAFKA.target().bootstrapServers();
        try (Admin admin = KAFKA.source().admin()) {
            createTopic(admin, topic, 2, Map.of());
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic).build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            produce(source, topic, 2, "one", 20);
            Manifest full = engine.backup(config, true);
            produce(source, topic, 2, "two", 20);
            Manifest incr1 = engine.backup(config, true);
            produce(source, topic, 2, "three", 20);
            Manifest incr2 = engine.backup(config, true);
            assertThat(incr2.parent()).isEqualTo(incr1.backupId());
            assertThat(incr1.parent()).isEqualTo(full.backupId());

            Path records = storage.resolve(topic).resolve("backups").resolve(incr1.backupId().value())
                    .resolve(KafkaMetadata.recordsArtifact(topic, 1));
            byte[] bytes = Files.readAllBytes(records);
            bytes[bytes.length / 2] ^= 0x10;
            Files.write(records, bytes);

            assertThatThrownBy(() -> engine.restore(config, "latest", options(target, Map.of())))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("backup " + incr1.backupId())
                    .hasMessageContaining(KafkaMetadata.recordsArtifact(topic, 1))
                    .hasMessageContaining("nothing was restored");
            // the failed verify made incr1 known-bad, so "latest" would now pick the full backup: drill incr2 by id
            DrillReport drill = engine.drill(config, incr2.backupId().value(), options(target, Map.of()));
            assertThat(drill.passed()).isFalse();
            assertThat(String.join(" ", drill.differences())).contains(incr1.backupId().value());
            try (Admin t = KAFKA.target().admin()) {
                assertThat(t.listTopics().names().get()).as("nothing was written to the target cluster")
                        .noneMatch(n -> n.startsWith(topic));
            }

            Files.delete(storage.resolve(topic).resolve("backups").resolve(incr1.backupId().value())
                    .resolve("manifest.json"));
            assertThatThrownBy(() -> engine.restore(config, incr2.backupId().value(), options(target, Map.of())))
                    .isInstanceOf(IntegrityException.class)
                    .hasMessageContaining("incremental on backup " + incr1.backupId())
                    .hasMessageContaining("missing");
            try (Admin t = KAFKA.target().admin()) {
                assertThat(t.listTopics().names().get()).noneMatch(n -> n.startsWith(topic));
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
