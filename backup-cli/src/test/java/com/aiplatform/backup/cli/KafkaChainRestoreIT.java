package com.aiplatform.backup.cli;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 12, acceptance 5 through {@code backupctl}: a full backup and two incrementals of a Kafka
 * source, then {@code restore events latest --target-bootstrap-servers} into an empty second
 * cluster gives the source's records, topic configs and consumer-group positions (offsets
 * translated); a damaged middle link refuses the whole restore with exit 3 and the target cluster
 * stays empty. Two real brokers, child processes as the demo runs them.
 */
class KafkaChainRestoreIT {
    private static final String TOPIC = "events";
    private static final String GROUP = "analytics";
    private static final int PARTITIONS = 3;

    @TempDir
    Path tmp;

    private record Result(int code, String out, String err) {
    }

    @Test
    void restoreLatestOfAnIncrementalRestoresItsChainIntoAnEmptyCluster() throws Exception {
        KafkaDemoSource sourceBroker = new KafkaDemoSource();
        Optional<String> unavailable = sourceBroker.unavailable();
        unavailable.ifPresent(reason -> System.out.println("KafkaChainRestoreIT skipped: " + reason));
        Assumptions.assumeTrue(unavailable.isEmpty(), () -> "no Kafka broker to run: " + unavailable.orElse(""));
        KafkaDemoSource targetBroker = new KafkaDemoSource();
        targetBroker.unavailable();
        try (sourceBroker; targetBroker) {
            sourceBroker.startBroker(Files.createDirectories(tmp.resolve("source-broker")));
            targetBroker.startBroker(Files.createDirectories(tmp.resolve("target-broker")));
            String source = sourceBroker.bootstrapServers();
            String target = targetBroker.bootstrapServers();
            Path storage = Files.createDirectories(tmp.resolve("storage"));
            Path config = Files.writeString(tmp.resolve("backup.yaml"), """
                    storage:
                      - { name: local, type: filesystem, path: %s }
                    compression: zstd
                    sources:
                      - name: events
                        type: kafka
                        bootstrap-servers: %s
                        topics: [%s]
                        consumer-groups: all
                    """.formatted(storage, source, TOPIC));
            try (Admin admin = admin(source)) {
                admin.createTopics(List.of(new NewTopic(TOPIC, PARTITIONS, (short) 1)
                        .configs(Map.of("retention.ms", "-1", "max.message.bytes", "2000000"))))
                        .all().get(30, TimeUnit.SECONDS);
            }

            produce(source, "one", 60, false);
            assertThat(run("--config", config.toString(), "backup", "events").code()).isZero();
            produce(source, "two", 45, true);
            assertThat(run("--config", config.toString(), "backup", "events", "--incremental").code()).isZero();
            produce(source, "three", 30, false);
            Map<TopicPartition, Long> committed = Map.of(new TopicPartition(TOPIC, 0), 40L,
                    new TopicPartition(TOPIC, 1), 41L, new TopicPartition(TOPIC, 2), 5L);
            try (Admin admin = admin(source)) {
                Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
                committed.forEach((tp, o) -> offsets.put(tp, new OffsetAndMetadata(o, "at " + o)));
                admin.alterConsumerGroupOffsets(GROUP, offsets).all().get(30, TimeUnit.SECONDS);
            }
            assertThat(run("--config", config.toString(), "backup", "events", "--incremental").code()).isZero();

            Result list = run("--config", config.toString(), "list", "events");
            assertThat(list.code()).isZero();
            List<String> ids = backupIds(list.out());
            assertThat(ids).as(list.out()).hasSize(3);

            // a damaged middle link: the whole restore is refused, nothing reaches the empty cluster
            Path middle;
            try (Stream<Path> files = Files.walk(storage.resolve("events").resolve("backups").resolve(ids.get(1)))) {
                middle = files.filter(p -> p.toString().endsWith(".records")).sorted().findFirst().orElseThrow();
            }
            byte[] original = Files.readAllBytes(middle);
            byte[] damaged = original.clone();
            damaged[damaged.length / 2] ^= 0x20;
            Files.write(middle, damaged);
            Result refused = run("--config", config.toString(), "restore", "events", "latest",
                    "--target-bootstrap-servers", target);
            assertThat(refused.code()).as(refused.err()).isEqualTo(BackupCtl.INTEGRITY);
            assertThat(refused.err()).contains(ids.get(1)).contains("nothing was restored");
            assertThat(userTopics(target)).as("the target cluster is still empty").isEmpty();
            Files.write(middle, original);
            // the refused restore recorded a failed verify: the middle link is known-bad, and 'latest'
            // skips its chain, until a passing verify of the repaired link clears it
            Result skipping = run("--config", config.toString(), "restore", "events", "latest", "--target-bootstrap-servers",
                    "127.0.0.1:1");
            assertThat(skipping.err()).as("latest names the known-bad link it skips").contains(ids.get(1));
            Result reverified = run("--config", config.toString(), "verify", "events", ids.get(1));
            assertThat(reverified.code()).as(reverified.err()).isZero();

            Result restored = run("--config", config.toString(), "restore", "events", "latest",
                    "--target-bootstrap-servers", target);
            assertThat(restored.code()).as(restored.err()).isZero();
            assertThat(restored.out()).contains("restored events " + ids.get(2))
                    .contains("with its chain, in order: " + String.join(" -> ", ids));

            assertThat(userTopics(target)).containsExactly(TOPIC);
            for (int p = 0; p < PARTITIONS; p++) {
                List<ConsumerRecord<byte[], byte[]>> before = readAll(source, new TopicPartition(TOPIC, p));
                List<ConsumerRecord<byte[], byte[]>> after = readAll(target, new TopicPartition(TOPIC, p));
                assertThat(after).as("partition " + p).hasSameSizeAs(before);
                for (int i = 0; i < before.size(); i++) {
                    assertThat(KafkaDemoSource.recordDifferences(before.get(i), after.get(i)))
                            .as("record #" + i + " of partition " + p).isEmpty();
                }
            }
            try (Admin s = admin(source); Admin t = admin(target)) {
                assertThat(configs(t)).isEqualTo(configs(s)).containsEntry("retention.ms", "-1");
                Map<TopicPartition, OffsetAndMetadata> offsets = t.listConsumerGroupOffsets(GROUP)
                        .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
                assertThat(offsets).hasSize(PARTITIONS);
                for (var e : committed.entrySet()) {
                    OffsetAndMetadata at = offsets.get(e.getKey());
                    assertThat(at.metadata()).isEqualTo("at " + e.getValue());
                    assertThat(firstAtOrAfter(target, e.getKey(), at.offset()))
                            .as("the group resumes at the same record on " + e.getKey())
                            .isEqualTo(firstAtOrAfter(source, e.getKey(), e.getValue()));
                }
                assertThat(offsets.get(new TopicPartition(TOPIC, 1)).offset())
                        .as("partition 1 holds a transaction marker before the offset: translated, not copied")
                        .isLessThan(committed.get(new TopicPartition(TOPIC, 1)));
            }
        }
    }

    /** {@code count} records over the partitions; with {@code transaction}, one committed transaction on partition 1. */
    private static void produce(String bootstrap, String batch, int count, boolean transaction) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(producerProperties(bootstrap, null))) {
            for (int i = 0; i < count; i++) {
                RecordHeaders h = new RecordHeaders();
                h.add(new RecordHeader("batch", bytes(batch)));
                h.add(new RecordHeader("empty", i % 2 == 0 ? null : new byte[0]));
                p.send(new ProducerRecord<>(TOPIC, i % PARTITIONS, 1_700_000_000_000L + i,
                        i % 7 == 0 ? null : bytes(batch + "-" + i), i % 5 == 0 ? null : bytes("value " + i), h));
            }
            p.flush();
        }
        if (transaction) {
            try (KafkaProducer<byte[], byte[]> t = new KafkaProducer<>(producerProperties(bootstrap, batch + "-tx"))) {
                t.initTransactions();
                t.beginTransaction();
                t.send(new ProducerRecord<>(TOPIC, 1, bytes("tx"), bytes("committed")));
                t.commitTransaction();
            }
        }
    }

    private static Properties producerProperties(String bootstrap, String transactionalId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        if (transactionalId != null) {
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        return p;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Admin admin(String bootstrap) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
    }

    private static Set<String> userTopics(String bootstrap) throws Exception {
        try (Admin admin = admin(bootstrap)) {
            return admin.listTopics().names().get(30, TimeUnit.SECONDS);
        }
    }

    private static Map<String, String> configs(Admin admin) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, TOPIC);
        Map<String, String> result = new TreeMap<>();
        for (ConfigEntry e : admin.describeConfigs(List.of(r)).all().get(30, TimeUnit.SECONDS).get(r).entries()) {
            if (e.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG) {
                result.put(e.name(), e.value());
            }
        }
        return result;
    }

    /** Every committed record of a partition, from its start to its end offset. */
    private static List<ConsumerRecord<byte[], byte[]>> readAll(String bootstrap, TopicPartition tp) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (c.position(tp) < end) {
                assertThat(System.nanoTime()).as("reading " + tp + " at " + bootstrap).isLessThan(deadline);
                c.poll(Duration.ofMillis(200)).records(tp).forEach(records::add);
            }
        }
        return records;
    }

    /** The key and value of the first record at or after {@code offset} ("end" when there is none). */
    private static String firstAtOrAfter(String bootstrap, TopicPartition tp, long offset) {
        return readAll(bootstrap, tp).stream().filter(r -> r.offset() >= offset).findFirst()
                .map(r -> (r.key() == null ? "null" : new String(r.key(), StandardCharsets.UTF_8)) + "="
                        + (r.value() == null ? "null" : new String(r.value(), StandardCharsets.UTF_8)))
                .orElse("end");
    }

    private static List<String> backupIds(String listing) {
        Matcher m = Pattern.compile("\\b(\\d{8}T\\d{6}Z-[0-9a-f]+)\\b").matcher(listing);
        List<String> ids = new ArrayList<>();
        while (m.find()) {
            if (!ids.contains(m.group(1))) {
                ids.add(m.group(1));
            }
        }
        return ids;
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = BackupCtl.run(o, e, args);
        }
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
