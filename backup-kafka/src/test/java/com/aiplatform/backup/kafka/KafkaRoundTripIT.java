package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static com.aiplatform.backup.kafka.KafkaTestSupport.await;
import static com.aiplatform.backup.kafka.KafkaTestSupport.bytes;
import static com.aiplatform.backup.kafka.KafkaTestSupport.createTopic;
import static com.aiplatform.backup.kafka.KafkaTestSupport.describe;
import static com.aiplatform.backup.kafka.KafkaTestSupport.describeAll;
import static com.aiplatform.backup.kafka.KafkaTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Acceptance 1-3: a full backup of topics holding every awkward kind of record, restored into a
 * second cluster, comes back record for record (keys, values, null versus empty, headers in order
 * with duplicates and nulls, timestamps and their type), with topic configs, partition counts and
 * consumer-group positions, and without the aborted transaction.
 */
class KafkaRoundTripIT {
    @RegisterExtension
    static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

    @TempDir
    static Path storage;

    static String prefix;
    static String binary;
    static String appendTime;
    static String compacted;
    static String txn;
    static String many;
    static Manifest manifest;
    static Instant restoreStarted;
    /** group -> partition -> the record (described) the group must read next, or null for "at the end". */
    static final Map<String, Map<TopicPartition, String>> expectedNext = new LinkedHashMap<>();
    static final Map<String, Long> sourceCounts = new LinkedHashMap<>();

    @BeforeAll
    static void backUpAndRestore() throws Exception {
        prefix = KafkaTestSupport.unique("rt");
        binary = prefix + "-binary";
        appendTime = prefix + "-appendtime";
        compacted = prefix + "-compacted";
        txn = prefix + "-txn";
        many = prefix + "-many";
        String source = KAFKA.source().bootstrapServers();
        try (Admin admin = KAFKA.source().admin()) {
            createTopic(admin, binary, 3, Map.of("retention.ms", "4000000000000", "max.message.bytes", "2097152",
                    "cleanup.policy", "delete"));
            createTopic(admin, appendTime, 1, Map.of("message.timestamp.type", "LogAppendTime"));
            createTopic(admin, compacted, 1, Map.of("cleanup.policy", "compact", "segment.ms", "100",
                    "min.cleanable.dirty.ratio", "0.01", "delete.retention.ms", "86400000"));
            createTopic(admin, txn, 2, Map.of());
            createTopic(admin, many, 24, Map.of());

            produceBinary(source);
            produceAppendTime(source);
            produceCompactedUntilGaps(admin, source);
            long abortedOffset = produceTransactions(source);
            try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(source, Map.of())) {
                for (int i = 0; i < 24 * 25; i++) {
                    p.send(new ProducerRecord<>(many, i % 24, null, bytes("k" + i), bytes("v" + i)));
                }
            }
            commitGroups(admin, source, abortedOffset);
        }
        for (String t : List.of(binary, appendTime, compacted, txn, many)) {
            readTopic(source, t).forEach((p, records) -> sourceCounts.put(t + "-" + p, (long) records.size()));
        }

        KafkaConfig config = KafkaConfig.builder(prefix).bootstrapServers(source).topic(prefix + "-.*").build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            manifest = engine.backup(config);
            restoreStarted = Instant.now();
            engine.restore(config, "latest", new RestoreOptions(Optional.empty(), false,
                    Map.of("target-bootstrap-servers", KAFKA.target().bootstrapServers())));
        }
    }

    private static void produceBinary(String bootstrap) throws Exception {
        Random random = new Random(42);
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(bootstrap,
                Map.of(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 << 20))) {
            byte[] allBytes = new byte[256];
            for (int i = 0; i < 256; i++) {
                allBytes[i] = (byte) i;
            }
            byte[] big = new byte[1_500_000];
            random.nextBytes(big);
            RecordHeaders dup = new RecordHeaders();
            dup.add(new RecordHeader("h", bytes("a")));
            dup.add(new RecordHeader("h", bytes("b")));
            dup.add(new RecordHeader("n", null));
            dup.add(new RecordHeader("h", new byte[0]));
            dup.add(new RecordHeader("", bytes("empty key")));
            dup.add(new RecordHeader("ünïcødé", allBytes));
            List<ProducerRecord<byte[], byte[]>> special = List.of(
                    new ProducerRecord<>(binary, 0, 1_000_000_000_000L, allBytes, allBytes, dup),
                    new ProducerRecord<>(binary, 0, 1_000_000_000_001L, null, bytes("null key")),
                    new ProducerRecord<>(binary, 0, 999_999_999_000L, bytes("null value"), (byte[]) null),
                    new ProducerRecord<>(binary, 0, 0L, new byte[0], new byte[0]),
                    new ProducerRecord<>(binary, 0, (Long) null, (byte[]) null, (byte[]) null),
                    new ProducerRecord<>(binary, 0, (Long) null, bytes("null"), bytes("null")),
                    new ProducerRecord<>(binary, 1, 1_700_000_000_000L, bytes("big"), big));
            for (ProducerRecord<byte[], byte[]> r : special) {
                p.send(r).get();
            }
            for (int i = 0; i < 300; i++) {
                byte[] key = random.nextInt(5) == 0 ? null : random.nextInt(5) == 0 ? new byte[0]
                        : randomBytes(random, 1 + random.nextInt(40));
                byte[] value = random.nextInt(7) == 0 ? null : random.nextInt(7) == 0 ? new byte[0]
                        : randomBytes(random, random.nextInt(2000));
                RecordHeaders headers = new RecordHeaders();
                for (int h = random.nextInt(4); h > 0; h--) {
                    headers.add(new RecordHeader("h" + random.nextInt(2),
                            random.nextBoolean() ? null : randomBytes(random, random.nextInt(10))));
                }
                p.send(new ProducerRecord<>(binary, i % 3, 1_600_000_000_000L + random.nextInt(1_000_000), key, value,
                        headers));
            }
        }
    }

    private static byte[] randomBytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static void produceAppendTime(String bootstrap) {
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(bootstrap, Map.of())) {
            for (int i = 0; i < 20; i++) {
                p.send(new ProducerRecord<>(appendTime, 0, 1_000L + i, bytes("k" + i), bytes("v" + i)));
            }
        }
    }

    /** Produces rounds over ten keys until the cleaner has left offset gaps, then stops compaction. */
    private static void produceCompactedUntilGaps(Admin admin, String bootstrap) throws Exception {
        AtomicInteger round = new AtomicInteger();
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(bootstrap, Map.of())) {
            await(Duration.ofSeconds(90), Duration.ofMillis(300), "compaction of " + compacted, () -> {
                // a hot key written twice per round around unique keys: the cleaner removes the first
                // write from the middle of the log, which leaves an offset gap (whole rounds would not)
                int r = round.incrementAndGet();
                p.send(new ProducerRecord<>(compacted, 0, bytes("hot"), bytes("round-" + r + "-first")));
                for (int k = 0; k < 4; k++) {
                    p.send(new ProducerRecord<>(compacted, 0, bytes("unique-" + r + "-" + k), bytes("v" + k)));
                }
                if (r > 1) {
                    p.send(new ProducerRecord<>(compacted, 0, bytes("unique-" + (r - 1) + "-0"), null));
                }
                p.send(new ProducerRecord<>(compacted, 0, bytes("hot"), bytes("round-" + r + "-last")));
                p.flush();
                return hasGaps(offsets(readAll(bootstrap, compacted, 0)));
            });
        }
        // freeze: nothing is compacted any more, so the source stays as backed up and the restored
        // topic (which gets these configs) is not compacted under the comparison either
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, compacted);
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("min.compaction.lag.ms", "86400000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("segment.ms", "86400000"), AlterConfigOp.OpType.SET)))).all().get();
        AtomicReference<List<Long>> last = new AtomicReference<>(List.of());
        await(Duration.ofSeconds(30), Duration.ofSeconds(1), "the compacted topic to stay unchanged", () -> {
            List<Long> now = offsets(readAll(bootstrap, compacted, 0));
            return now.equals(last.getAndSet(now));
        });
    }

    static Map<Integer, List<ConsumerRecord<byte[], byte[]>>> readTopic(String bootstrap, String topic) {
        int partitions = topic.equals(many) ? 24 : topic.equals(binary) ? 3 : topic.equals(txn) ? 2 : 1;
        List<Integer> all = new ArrayList<>();
        for (int p = 0; p < partitions; p++) {
            all.add(p);
        }
        return KafkaTestSupport.readPartitions(bootstrap, topic, all);
    }

    static List<Long> offsets(List<ConsumerRecord<byte[], byte[]>> records) {
        return records.stream().map(ConsumerRecord::offset).toList();
    }

    static boolean hasGaps(List<Long> offsets) {
        for (int i = 1; i < offsets.size(); i++) {
            if (offsets.get(i) != offsets.get(i - 1) + 1) {
                return true;
            }
        }
        return false;
    }

    /** A committed transaction, an aborted one, a plain record, another committed one; returns an aborted offset. */
    private static long produceTransactions(String bootstrap) throws Exception {
        long aborted;
        try (KafkaProducer<byte[], byte[]> t = KafkaTestSupport.producer(bootstrap,
                Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, prefix + "-tx"));
             KafkaProducer<byte[], byte[]> plain = KafkaTestSupport.producer(bootstrap, Map.of())) {
            t.initTransactions();
            t.beginTransaction();
            t.send(new ProducerRecord<>(txn, 0, bytes("c1"), bytes("committed-1-a")));
            t.send(new ProducerRecord<>(txn, 1, bytes("c1"), bytes("committed-1-b")));
            t.commitTransaction();
            t.beginTransaction();
            aborted = t.send(new ProducerRecord<>(txn, 0, bytes("ab"), bytes("aborted-a"))).get().offset();
            t.send(new ProducerRecord<>(txn, 1, bytes("ab"), bytes("aborted-b")));
            t.flush();
            t.abortTransaction();
            plain.send(new ProducerRecord<>(txn, 0, bytes("p"), bytes("plain"))).get();
            t.beginTransaction();
            t.send(new ProducerRecord<>(txn, 0, bytes("c2"), bytes("committed-2-a")));
            t.commitTransaction();
        }
        return aborted;
    }

    private static void commitGroups(Admin admin, String bootstrap, long abortedOffset) throws Exception {
        String g1 = prefix + "-g1";
        String g2 = prefix + "-g2";
        Map<TopicPartition, OffsetAndMetadata> offsets1 = new LinkedHashMap<>();
        Map<TopicPartition, String> next1 = new LinkedHashMap<>();

        TopicPartition b0 = new TopicPartition(binary, 0);
        List<ConsumerRecord<byte[], byte[]>> binary0 = readAll(bootstrap, binary, 0);
        offsets1.put(b0, new OffsetAndMetadata(3, "processed up to 3"));
        next1.put(b0, describe(binary0.get(3), true));

        TopicPartition c0 = new TopicPartition(compacted, 0);
        List<ConsumerRecord<byte[], byte[]>> comp = readAll(bootstrap, compacted, 0);
        long gap = -1;
        ConsumerRecord<byte[], byte[]> afterGap = null;
        for (int i = 1; i < comp.size(); i++) {
            if (comp.get(i).offset() > comp.get(i - 1).offset() + 1) {
                gap = comp.get(i - 1).offset() + 1; // compacted away
                afterGap = comp.get(i);
                break;
            }
        }
        assertThat(gap).as("an offset removed by compaction").isGreaterThanOrEqualTo(0);
        offsets1.put(c0, new OffsetAndMetadata(gap));
        next1.put(c0, describe(afterGap, true));

        TopicPartition t0 = new TopicPartition(txn, 0);
        offsets1.put(t0, new OffsetAndMetadata(abortedOffset));
        ConsumerRecord<byte[], byte[]> afterAborted = readAll(bootstrap, txn, 0).stream()
                .filter(r -> r.offset() >= abortedOffset).findFirst().orElseThrow();
        assertThat(new String(afterAborted.value(), StandardCharsets.UTF_8)).isEqualTo("plain");
        next1.put(t0, describe(afterAborted, true));

        TopicPartition m5 = new TopicPartition(many, 5);
        offsets1.put(m5, new OffsetAndMetadata(25));
        next1.put(m5, null);

        TopicPartition a0 = new TopicPartition(appendTime, 0);
        offsets1.put(a0, new OffsetAndMetadata(10));
        next1.put(a0, describe(readAll(bootstrap, appendTime, 0).get(10), false));

        admin.alterConsumerGroupOffsets(g1, offsets1).all().get();
        TopicPartition b1 = new TopicPartition(binary, 1);
        admin.alterConsumerGroupOffsets(g2, Map.of(b1, new OffsetAndMetadata(0))).all().get();
        expectedNext.put(g1, next1);
        Map<TopicPartition, String> next2 = new LinkedHashMap<>();
        next2.put(b1, describe(readAll(bootstrap, binary, 1).get(0), true));
        expectedNext.put(g2, next2);
    }

    @Test
    void recordsComeBackExactly() {
        String source = KAFKA.source().bootstrapServers();
        String target = KAFKA.target().bootstrapServers();
        for (String topic : List.of(binary, appendTime, compacted, txn, many)) {
            boolean keepsTime = !topic.equals(appendTime);
            var before = readTopic(source, topic);
            var after = readTopic(target, topic);
            assertThat(after.keySet()).isEqualTo(before.keySet());
            before.forEach((p, records) -> assertSameRecords(topic + "-" + p, describeAll(records, keepsTime),
                    describeAll(after.get(p), keepsTime)));
        }
        List<ConsumerRecord<byte[], byte[]>> special = readAll(target, binary, 0);
        assertThat(special.get(1).key()).isNull();
        assertThat(special.get(2).value()).isNull();
        assertThat(special.get(3).key()).isEmpty();
        assertThat(special.get(3).value()).isEmpty();
        assertThat(special.get(0).headers().headers("h")).hasSize(3);
        assertThat(special.get(0).headers().lastHeader("n").value()).isNull();
        assertThat(special.get(0).timestamp()).isEqualTo(1_000_000_000_000L);
        assertThat(special.get(0).timestampType()).isEqualTo(TimestampType.CREATE_TIME);
        assertThat(readAll(target, binary, 1).get(0).value()).hasSize(1_500_000);
    }

    /** Equal lists, reported at the first difference (records can be long). */
    static void assertSameRecords(String what, List<String> expected, List<String> actual) {
        for (int i = 0; i < Math.min(expected.size(), actual.size()); i++) {
            assertThat(actual.get(i)).as(what + " record #" + i).isEqualTo(expected.get(i));
        }
        assertThat(actual).as(what + " record count").hasSameSizeAs(expected);
    }

    @Test
    void logAppendTimeTopicsGetTheTargetBrokersTime() {
        for (ConsumerRecord<byte[], byte[]> r : readAll(KAFKA.target().bootstrapServers(), appendTime, 0)) {
            assertThat(r.timestampType()).isEqualTo(TimestampType.LOG_APPEND_TIME);
            assertThat(r.timestamp()).isGreaterThanOrEqualTo(restoreStarted.toEpochMilli() - 1000);
        }
    }

    @Test
    void compactedTopicWithOffsetGapsIsRestoredInOrder() {
        List<ConsumerRecord<byte[], byte[]>> before = readAll(KAFKA.source().bootstrapServers(), compacted, 0);
        List<ConsumerRecord<byte[], byte[]>> after = readAll(KAFKA.target().bootstrapServers(), compacted, 0);
        assertThat(hasGaps(offsets(before))).isTrue();
        assertSameRecords(compacted, describeAll(before, true), describeAll(after, true));
        assertThat(after.stream().anyMatch(r -> r.value() == null)).as("a tombstone").isTrue();
    }

    @Test
    void abortedTransactionIsLeftOutAndControlRecordsSkipped() {
        for (int p = 0; p < 2; p++) {
            List<String> values = readAll(KAFKA.target().bootstrapServers(), txn, p).stream()
                    .map(r -> new String(r.value(), StandardCharsets.UTF_8)).toList();
            assertThat(values).noneMatch(v -> v.startsWith("aborted"));
            assertThat(values).allMatch(v -> v.startsWith("committed") || v.equals("plain"));
        }
        assertThat(manifest.contentSummary()).containsEntry(txn + "-0", 3L).containsEntry(txn + "-1", 1L);
    }

    @Test
    void topicConfigsAndPartitionCountsComeBack() throws Exception {
        try (Admin admin = KAFKA.target().admin()) {
            Map<String, TopicDescription> d = admin.describeTopics(List.of(binary, appendTime, compacted, txn, many))
                    .allTopicNames().get();
            assertThat(d.get(binary).partitions()).hasSize(3);
            assertThat(d.get(appendTime).partitions()).hasSize(1);
            assertThat(d.get(txn).partitions()).hasSize(2);
            assertThat(d.get(many).partitions()).hasSize(24);
            Map<String, String> b = configs(admin, binary);
            assertThat(b).containsEntry("retention.ms", "4000000000000").containsEntry("max.message.bytes", "2097152")
                    .containsEntry("cleanup.policy", "delete");
            assertThat(configs(admin, compacted)).containsEntry("cleanup.policy", "compact")
                    .containsEntry("min.cleanable.dirty.ratio", "0.01").containsEntry("min.compaction.lag.ms", "86400000");
            assertThat(configs(admin, appendTime)).containsEntry("message.timestamp.type", "LogAppendTime");
        }
    }

    static Map<String, String> configs(Admin admin, String topic) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Map<String, String> result = new LinkedHashMap<>();
        for (ConfigEntry e : admin.describeConfigs(List.of(r)).all().get().get(r).entries()) {
            if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) {
                result.put(e.name(), e.value());
            }
        }
        return result;
    }

    @Test
    void consumerGroupsResumeAtTheSameRecordInTheNewCluster() throws Exception {
        String target = KAFKA.target().bootstrapServers();
        for (var group : expectedNext.entrySet()) {
            for (var e : group.getValue().entrySet()) {
                TopicPartition tp = e.getKey();
                Properties p = new Properties();
                p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, target);
                p.put(ConsumerConfig.GROUP_ID_CONFIG, group.getKey());
                p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
                p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
                p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
                try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                        new ByteArrayDeserializer())) {
                    c.assign(List.of(tp));
                    if (e.getValue() == null) {
                        long end = c.endOffsets(List.of(tp)).get(tp);
                        assertThat(c.position(tp)).as(group.getKey() + " " + tp + " at the end").isEqualTo(end);
                        continue;
                    }
                    List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
                    await(Duration.ofSeconds(30), Duration.ofMillis(1), "a record of " + tp, () -> {
                        got.addAll(c.poll(Duration.ofMillis(200)).records(tp));
                        return !got.isEmpty();
                    });
                    boolean withTime = !tp.topic().equals(appendTime);
                    assertThat(describe(got.get(0), withTime)).as(group.getKey() + " resumes " + tp)
                            .isEqualTo(e.getValue());
                }
            }
        }
    }

    @Test
    void manifestDescribesTheBackup() throws Exception {
        assertThat(manifest.engine()).isEqualTo("kafka");
        assertThat(manifest.kind()).isEqualTo(BackupKind.FULL);
        assertThat(manifest.parent()).isNull();
        assertThat(manifest.contentSummary()).containsAllEntriesOf(sourceCounts);
        assertThat(manifest.contentSummary()).hasSize(sourceCounts.size());
        assertThat(manifest.artifact("metadata.json")).isPresent();
        assertThat(manifest.artifact("topics/" + many + "/23.records")).isPresent();
        assertThat(manifest.consistentPoint().position()).contains(binary + "[0=");
        try (Admin admin = KAFKA.source().admin()) {
            var ends = KafkaTestSupport.endOffsets(admin, binary, 3, IsolationLevel.READ_COMMITTED);
            for (int p = 0; p < 3; p++) {
                assertThat(manifest.metadata()).containsEntry("cut." + binary + "." + p,
                        Long.toString(ends.get(new TopicPartition(binary, p))));
            }
        }
    }
}
