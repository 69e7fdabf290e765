package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Debris;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import com.aiplatform.backup.testkit.ForwardingStorageTarget;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static com.aiplatform.backup.kafka.KafkaTestSupport.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The cluster fails under a running backup or restore, each test on a one-broker cluster of its
 * own (tests stop it): a batch damaged in the broker's log stops the backup naming the partition
 * and offsets; a broker lost half-way through fails the backup within the request timeout, saying
 * why, and leaves no backup that lists as complete; a target lost half-way through a restore fails
 * it within its retry time, naming the partially restored topics.
 */
class KafkaBrokerFaultsIT {
    private EmbeddedKafka kafka;

    @TempDir
    Path storage;

    /** When the broker was stopped by {@link #stopTheBroker()} (from a backup or restore thread), or 0. */
    private volatile long stoppedAt;

    @BeforeEach
    void start(TestInfo test) {
        kafka = EmbeddedKafka.start("faults-" + test.getTestMethod().orElseThrow().getName(),
                "BACKUP_TEST_KAFKA_FAULTS");
        assumeTrue(kafka.embedded(), "skipped: BACKUP_TEST_KAFKA_FAULTS names an external cluster, whose broker "
                + "and log files these tests must not touch");
    }

    private void stopTheBroker() {
        kafka.stopBroker(0);
        stoppedAt = System.nanoTime();
    }

    /** One partition at a time, and a short request timeout, so a lost broker shows quickly. */
    private KafkaConfig onePartitionAtATime(String topic) {
        return KafkaConfig.builder(topic).bootstrapServers(kafka.bootstrapServers()).topic(topic)
                .partitionConcurrency(1).requestTimeout(Duration.ofSeconds(3)).build();
    }

    @AfterEach
    void stop() {
        if (kafka != null) {
            kafka.close();
        }
    }

    private String topicWithBatches(String name, int partitions, int batches, int recordsPerBatch,
                                           int valueBytes) throws Exception {
        String topic = KafkaTestSupport.unique(name);
        try (Admin admin = kafka.admin()) {
            KafkaTestSupport.createTopic(admin, topic, partitions, Map.of());
        }
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.oneBatchProducer(kafka.bootstrapServers(), Map.of())) {
            for (int partition = 0; partition < partitions; partition++) {
                for (int b = 0; b < batches; b++) {
                    for (int i = 0; i < recordsPerBatch; i++) {
                        int n = b * recordsPerBatch + i;
                        p.send(new ProducerRecord<>(topic, partition, bytes("k" + n),
                                bytes(("value " + n + " ").repeat(valueBytes / 8 + 1).substring(0, valueBytes))));
                    }
                    p.flush();
                }
            }
        }
        return topic;
    }

    @Test
    void aBatchDamagedInTheBrokersLogStopsTheBackupNamingItsOffsets() throws Exception {
        String topic = topicWithBatches("damaged", 1, 3, 10, 100);
        Path segment = kafka.firstSegment(0, topic, 0);
        long position = 0;
        for (MutableRecordBatch b : MemoryRecords.readableRecords(ByteBuffer.wrap(Files.readAllBytes(segment)))
                .batches()) {
            if (b.baseOffset() == 10) {
                break;
            }
            position += b.sizeInBytes();
        }
        try (FileChannel log = FileChannel.open(segment, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // the second batch's first value byte sits well past its 61-byte header; flip a bit there
            ByteBuffer one = ByteBuffer.allocate(1);
            log.read(one, position + 80);
            one.put(0, (byte) (one.get(0) ^ 0x20)).rewind();
            log.write(one, position + 80);
            log.force(true);
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(kafka.bootstrapServers()).topic(topic).build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(SourceException.class)
                    .hasMessageContaining("partition 0 of topic '" + topic + "'")
                    .hasMessageContaining("offsets 10..19").hasMessageContaining("corrupt in the broker's log");
            assertThat(engine.list(topic)).as("listed backups").isEmpty();
        }
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a hang fails instead of stalling the build
    void aBrokerLostHalfWayFailsTheBackupWithinTheRequestTimeout() throws Exception {
        String topic = topicWithBatches("lost", 2, 4, 100, 1000);
        String secondPartition = "topics/" + topic + "/1.records";
        // one partition at a time: partition 0 is read whole, then the broker goes as partition 1 starts
        ForwardingStorageTarget stopsTheBroker = new ForwardingStorageTarget(new FileSystemStorageTarget("t", storage)) {
            @Override
            public ObjectUpload create(String key) throws IOException {
                if (key.endsWith(secondPartition)) {
                    stopTheBroker();
                }
                return super.create(key);
            }
        };
        KafkaConfig config = onePartitionAtATime(topic);
        try (BackupEngine engine = BackupEngine.builder().storage(stopsTheBroker).compression(Compression.ZSTD)
                .build()) {
            assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(SourceException.class)
                    .hasMessageContaining("partition 1 of topic '" + topic + "'")
                    .hasMessageContaining("made no progress at offset 0").hasMessageContaining("3 s (request-timeout)")
                    .hasMessageContaining("the last fetch failed with NETWORK_EXCEPTION");
            assertThat(stoppedAt).as("the broker was stopped during the backup").isPositive();
            assertThat(Duration.ofNanos(System.nanoTime() - stoppedAt)).as("no hang after the broker went")
                    .isLessThan(Duration.ofSeconds(15));
            assertThat(engine.list(topic)).as("listed backups").isEmpty();
            assertThat(engine.debris(topic)).as("the uncommitted backup's leftovers, for prune")
                    .singleElement().extracting(Debris::keys).asList()
                    .anySatisfy(k -> assertThat(k.toString()).endsWith("topics/" + topic + "/0.records"));
        }
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a hang fails instead of stalling the build
    void aTargetLostHalfWayFailsTheRestoreNamingThePartiallyRestoredTopics() throws Exception {
        String topic = topicWithBatches("target", 2, 4, 100, 1000);
        String restored = topic + "-restored";
        String secondPartition = "topics/" + topic + "/1.records";
        int[] opens = new int[1];
        // every restore reads each artifact twice: once to verify it, then to restore it; the
        // broker goes when the restore itself starts on partition 1, after partition 0
        ForwardingStorageTarget stopsTheBroker = new ForwardingStorageTarget(new FileSystemStorageTarget("t", storage)) {
            @Override
            public InputStream open(String key) throws IOException {
                if (key.endsWith(secondPartition) && ++opens[0] == 2) {
                    stopTheBroker();
                }
                return super.open(key);
            }
        };
        KafkaConfig config = onePartitionAtATime(topic);
        try (BackupEngine engine = BackupEngine.builder().storage(stopsTheBroker).compression(Compression.ZSTD)
                .build()) {
            String id = engine.backup(config).backupId().value();
            assertThatThrownBy(() -> engine.restore(config, id, new RestoreOptions(Optional.empty(), false,
                    Map.of("rename." + topic, restored)))).isInstanceOf(SourceException.class)
                    // what went wrong depends on how far the broker's shutdown got: not reachable, or no
                    // longer the leader; either way the topics written to are named
                    .hasMessageContaining("[" + restored + "] are partially restored");
            assertThat(stoppedAt).as("the broker was stopped during the restore").isPositive();
            assertThat(Duration.ofNanos(System.nanoTime() - stoppedAt)).as("no hang after the broker went")
                    .isLessThan(Duration.ofSeconds(30));
        }
    }
}
