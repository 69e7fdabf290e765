package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Helpers for the Kafka integration tests: topics, producers, reading a partition back, waiting. */
final class KafkaTestSupport {
    private KafkaTestSupport() {
    }

    /** The UTF-8 bytes of a test key, value or header. */
    static byte[] bytes(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    /** A unique lower-case prefix for one test's topics and groups. */
    static String unique(String what) {
        return what + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xFFFFFFFFL);
    }

    static BackupEngine engine(Path storage, Compression compression) throws IOException {
        return BackupEngine.builder()
                .storage(new FileSystemStorageTarget("test", storage, true))
                .compression(compression)
                .build();
    }

    static void createTopic(Admin admin, String name, int partitions, Map<String, String> configs) throws Exception {
        admin.createTopics(List.of(new NewTopic(name, Optional.of(partitions), Optional.of((short) 1))
                .configs(configs))).all().get();
    }

    /** A producer that sends the records given before a flush as one batch (up to 1 MiB), with {@code extra} settings. */
    static KafkaProducer<byte[], byte[]> oneBatchProducer(String bootstrap, Map<String, Object> extra) {
        Map<String, Object> settings = new java.util.HashMap<>(Map.of(ProducerConfig.LINGER_MS_CONFIG, "60000",
                ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(1 << 20)));
        settings.putAll(extra);
        return producer(bootstrap, settings);
    }

    static KafkaProducer<byte[], byte[]> producer(String bootstrap, Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.putAll(extra);
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    static Map<TopicPartition, Long> endOffsets(Admin admin, String topic, int partitions, IsolationLevel isolation)
            throws Exception {
        Map<TopicPartition, OffsetSpec> request = new java.util.HashMap<>();
        for (int p = 0; p < partitions; p++) {
            request.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        Map<TopicPartition, Long> result = new java.util.HashMap<>();
        admin.listOffsets(request, new ListOffsetsOptions(isolation)).all().get()
                .forEach((tp, i) -> result.put(tp, i.offset()));
        return result;
    }

    /** Every record of a partition, read_committed, from its log start up to its end when called. */
    static List<ConsumerRecord<byte[], byte[]>> readAll(String bootstrap, String topic, int partition) {
        return readPartitions(bootstrap, topic, List.of(partition)).get(partition);
    }

    /** Every record of the given partitions of a topic, read_committed, with one consumer. */
    static Map<Integer, List<ConsumerRecord<byte[], byte[]>>> readPartitions(String bootstrap, String topic,
                                                                          List<Integer> partitions) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "50");
        Map<Integer, List<ConsumerRecord<byte[], byte[]>>> out = new java.util.TreeMap<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> tps = partitions.stream().map(n -> new TopicPartition(topic, n)).toList();
            tps.forEach(tp -> out.put(tp.partition(), new ArrayList<>()));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (tps.stream().anyMatch(tp -> c.position(tp) < ends.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("reading " + topic + " did not reach " + ends + " within 60 s");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    if (r.offset() < ends.get(new TopicPartition(topic, r.partition()))) {
                        out.get(r.partition()).add(r);
                    }
                }
            }
        }
        return out;
    }

    /** A readable, comparable rendering of everything a record carries except its offset. */
    static String describe(ConsumerRecord<byte[], byte[]> r, boolean withTimestamp) {
        StringBuilder b = new StringBuilder();
        b.append("key=").append(hex(r.key())).append(" value=").append(hex(r.value())).append(" headers=[");
        for (Header h : r.headers()) {
            b.append(h.key()).append(':').append(hex(h.value())).append(' ');
        }
        b.append(']');
        if (withTimestamp) {
            b.append(" ts=").append(r.timestamp()).append('/').append(r.timestampType());
        }
        return b.toString();
    }

    static List<String> describeAll(List<ConsumerRecord<byte[], byte[]>> records, boolean withTimestamp) {
        return records.stream().map(r -> describe(r, withTimestamp)).toList();
    }

    static String hex(byte[] b) {
        return b == null ? "null" : b.length == 0 ? "empty" : HexFormat.of().formatHex(b);
    }

    static TimestampType type(ConsumerRecord<?, ?> r) {
        return r.timestampType();
    }

    /** Polls {@code condition} every {@code interval} until it holds or {@code timeout} passes. */
    static void await(Duration timeout, Duration interval, String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            LockSupport.parkNanos(interval.toNanos());
        }
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}
