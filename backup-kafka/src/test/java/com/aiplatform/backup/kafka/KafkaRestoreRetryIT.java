package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static com.aiplatform.backup.kafka.KafkaTestSupport.bytes;
import static com.aiplatform.backup.kafka.KafkaTestSupport.createTopic;
import static com.aiplatform.backup.kafka.KafkaTestSupport.describeAll;
import static com.aiplatform.backup.kafka.KafkaTestSupport.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The restore's writer rides out retriable broker errors as Kafka's producer does, on a cluster of
 * two brokers of its own (the last test stops one): a batch sent to a broker that is not the
 * partition's leader (and the batches sent after it) go again, in order, to the leader it looks
 * up; "not enough in-sync replicas" is retried until it clears, and fails the restore naming the
 * partition once its time is up.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KafkaRestoreRetryIT {
    private static EmbeddedKafka kafka;

    @TempDir
    Path storage;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start("retry", "BACKUP_TEST_KAFKA_RETRY", 2, Map.of(
                "replica.lag.time.max.ms", "2000", "default.replication.factor", "1"));
    }

    @AfterAll
    static void stop() {
        if (kafka != null) {
            kafka.close();
        }
    }

    /** A topic of one partition: 1000 records in one large batch (sent as stored), then 50 small batches. */
    private static String topicOfLargeAndSmallBatches(String name) throws Exception {
        String topic = KafkaTestSupport.unique(name);
        try (Admin admin = kafka.admin()) {
            createTopic(admin, topic, 1, Map.of());
        }
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.oneBatchProducer(kafka.bootstrapServers(),
                Map.of())) {
            for (int i = 0; i < 1000; i++) {
                p.send(new ProducerRecord<>(topic, 0, bytes("big-" + i), bytes("value " + i + " " + "q".repeat(80))));
            }
            p.flush();
            for (int i = 0; i < 50; i++) {
                p.send(new ProducerRecord<>(topic, 0, bytes("small-" + i), bytes("v" + i)));
                p.flush();
            }
        }
        return topic;
    }

    /** A topic replicated on both brokers, {@code minIsr} in-sync replicas required. */
    private static TopicDescription replicatedTopic(String name, int minIsr) throws Exception {
        try (Admin admin = kafka.admin()) {
            admin.createTopics(List.of(new NewTopic(name, Optional.of(1), Optional.of((short) 2))
                    .configs(Map.of("min.insync.replicas", Integer.toString(minIsr))))).all().get();
            KafkaTestSupport.await(Duration.ofSeconds(30), Duration.ofMillis(100), "a leader and 2 in-sync replicas",
                    () -> isr(admin, name) == 2);
            return admin.describeTopics(List.of(name)).allTopicNames().get().get(name);
        }
    }

    private static int isr(Admin admin, String topic) {
        try {
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            return d.partitions().get(0).leader() == null ? 0 : d.partitions().get(0).isr().size();
        } catch (Exception e) {
            return 0;
        }
    }

    private static ByteBuffer batchOf(int first, int count) {
        MemoryRecordsBuilder b = MemoryRecords.builder(ByteBuffer.allocate(64 << 10), RecordBatch.CURRENT_MAGIC_VALUE,
                org.apache.kafka.common.compress.Compression.NONE, TimestampType.CREATE_TIME, 0L);
        for (int i = first; i < first + count; i++) {
            b.append(1_650_000_000_000L + i, bytes("k" + i), bytes("v" + i));
        }
        return b.build().buffer();
    }

    @Test
    @Order(1)
    void batchesSentToABrokerThatIsNotTheLeaderGoAgainInOrderToTheLeader() throws Exception {
        String topic = KafkaTestSupport.unique("moved");
        TopicDescription d = replicatedTopic(topic, 1);
        Node leader = d.partitions().get(0).leader();
        Node follower = d.partitions().get(0).replicas().stream().filter(n -> n.id() != leader.id()).findFirst()
                .orElseThrow();
        TopicPartition tp = new TopicPartition(topic, 0);
        KafkaConfig config = KafkaConfig.builder("moved").bootstrapServers(kafka.bootstrapServers()).topic(topic)
                .requestTimeout(Duration.ofSeconds(10)).build();
        ConcurrentLinkedQueue<Long> bases = new ConcurrentLinkedQueue<>();
        // told the follower leads: every batch (several in flight) is refused with NOT_LEADER_OR_FOLLOWER
        try (KafkaBatchProducer producer = new KafkaClients(config, kafka.bootstrapServers(), "test")
                .batchProducer(Map.of(tp, follower), Map.of(topic, d.topicId()))) {
            for (int b = 0; b < 10; b++) {
                producer.send(tp, batchOf(b * 100, 100), bases::add);
            }
            producer.flush();
        }
        assertThat(bases).containsExactlyInAnyOrder(0L, 100L, 200L, 300L, 400L, 500L, 600L, 700L, 800L, 900L);
        List<ConsumerRecord<byte[], byte[]>> records = readAll(kafka.bootstrapServers(), topic, 0);
        assertThat(records).hasSize(1000); // each record once
        for (int i = 0; i < records.size(); i++) {
            assertThat(records.get(i).key()).as("record " + i).isEqualTo(bytes("k" + i)); // in order
        }
    }

    @Test
    @Order(2)
    void notEnoughInSyncReplicasIsRetriedUntilItClearsOrItsTimeIsUp() throws Exception {
        String topic = topicOfLargeAndSmallBatches("isr");
        String stuck = topic + "-stuck";
        String clears = topic + "-clears";
        replicatedTopic(stuck, 2);
        replicatedTopic(clears, 2);
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(kafka.bootstrapServers()).topic(topic)
                .requestTimeout(Duration.ofSeconds(2)).build();
        List<String> original;
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            Manifest m = engine.backup(config);
            original = describeAll(readAll(kafka.bootstrapServers(), topic, 0), true); // before its broker may stop
            if (!kafka.embedded()) {
                System.out.println("SKIPPED the in-sync-replica part: the cluster is external and its brokers are "
                        + "not stopped by tests");
                return;
            }
            kafka.stopBroker(1); // both topics drop to one in-sync replica; they need two
            try (Admin admin = kafka.admin()) {
                KafkaTestSupport.await(Duration.ofSeconds(30), Duration.ofMillis(200), "the in-sync sets to shrink",
                        () -> isr(admin, stuck) == 1 && isr(admin, clears) == 1);
            }

            long started = System.nanoTime();
            assertThatThrownBy(() -> engine.restore(config, m.backupId().value(), rename(topic, stuck)))
                    .isInstanceOf(SourceException.class)
                    .hasMessageContaining("partition 0 of topic '" + stuck + "'")
                    .hasMessageContaining("NOT_ENOUGH_REPLICAS")
                    .hasMessageContaining("partially restored");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(30));

            KafkaConfig patient = KafkaConfig.builder(topic).bootstrapServers(kafka.bootstrapServers()).topic(topic)
                    .requestTimeout(Duration.ofSeconds(10)).build();
            CompletableFuture<Void> restore = CompletableFuture.runAsync(() -> {
                try {
                    engine.restore(patient, m.backupId().value(), rename(topic, clears));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            KafkaTestSupport.await(Duration.ofSeconds(20), Duration.ofMillis(50), "the target to refuse a batch",
                    () -> failedProduceRequests(clears) > 0);
            assertThat(restore).as("the restore waits while the target refuses").isNotDone();
            try (Admin admin = kafka.admin()) {
                ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, clears);
                admin.incrementalAlterConfigs(Map.of(resource, List.of(new AlterConfigOp(
                        new ConfigEntry("min.insync.replicas", "1"), AlterConfigOp.OpType.SET)))).all().get();
            }
            restore.get(60, TimeUnit.SECONDS);
        }
        assertThat(describeAll(readAll(kafka.bootstrapServers(), clears, 0), true)).isEqualTo(original);
    }

    /** Produce requests the embedded brokers refused for {@code topic} (their own metric, over JMX). */
    private static long failedProduceRequests(String topic) {
        try {
            javax.management.ObjectName name = new javax.management.ObjectName(
                    "kafka.server:type=BrokerTopicMetrics,name=FailedProduceRequestsPerSec,topic=" + topic);
            return ((Number) java.lang.management.ManagementFactory.getPlatformMBeanServer()
                    .getAttribute(name, "Count")).longValue();
        } catch (javax.management.InstanceNotFoundException e) {
            return 0;
        } catch (javax.management.JMException e) {
            throw new IllegalStateException(e);
        }
    }

    private static RestoreOptions rename(String topic, String to) {
        return new RestoreOptions(Optional.empty(), false, Map.of("rename." + topic, to));
    }
}
