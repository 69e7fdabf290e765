package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Acceptance 5: records produced while a backup runs are not half included. A producer writes
 * without pause before, during and after the backup; the backup holds exactly the offsets
 * [log start, cut) of every partition, record for record as the broker has them, and the broker
 * has records past the cut.
 */
class KafkaConsistentCutIT {
    @RegisterExtension
    static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

    @TempDir
    Path storage;

    @Test
    void backupEndsExactlyAtItsCutWhileProducersKeepWriting() throws Exception {
        String topic = KafkaTestSupport.unique("live");
        String source = KAFKA.source().bootstrapServers();
        int partitions = 4;
        try (Admin admin = KAFKA.source().admin()) {
            KafkaTestSupport.createTopic(admin, topic, partitions, Map.of());
        }
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong produced = new AtomicLong();
        AtomicReference<Throwable> producerFailure = new AtomicReference<>();
        byte[] value = new byte[512];
        Arrays.fill(value, (byte) 'x');
        Thread writer = new Thread(() -> {
            try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(source, Map.of("linger.ms", "1"))) {
                long i = 0;
                while (!stop.get()) {
                    p.send(new ProducerRecord<>(topic, (int) (i % partitions),
                            ("key-" + i).getBytes(StandardCharsets.UTF_8), value));
                    if (++i % 500 == 0) {
                        p.flush();
                    }
                    produced.set(i);
                }
            } catch (Throwable t) {
                producerFailure.set(t);
            }
        }, "concurrent-producer");
        writer.start();
        Manifest manifest;
        long producedAtStart;
        long producedAtEnd;
        try {
            KafkaTestSupport.await(Duration.ofSeconds(30), Duration.ofMillis(20), "20000 records before the backup",
                    () -> produced.get() >= 20_000);
            KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic)
                    .partitionConcurrency(2).build();
            try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.NONE)) {
                producedAtStart = produced.get();
                manifest = engine.backup(config);
                producedAtEnd = produced.get();
            }
            long target = producedAtEnd + 2_000;
            KafkaTestSupport.await(Duration.ofSeconds(30), Duration.ofMillis(20), "more records after the backup",
                    () -> produced.get() >= target);
        } finally {
            stop.set(true);
            writer.join(30_000);
        }
        assertThat(producerFailure.get()).isNull();
        assertThat(producedAtEnd).as("the producer wrote while the backup ran").isGreaterThan(producedAtStart);

        long pastCut = 0;
        try (Admin admin = KAFKA.source().admin();
             FileSystemStorageTarget files = new FileSystemStorageTarget("check", storage)) {
            var ends = KafkaTestSupport.endOffsets(admin, topic, partitions, IsolationLevel.READ_COMMITTED);
            for (int p = 0; p < partitions; p++) {
                long cut = Long.parseLong(manifest.metadata().get("cut." + topic + "." + p));
                long end = ends.get(new TopicPartition(topic, p));
                pastCut += end - cut;
                String key = topic + "/backups/" + manifest.backupId() + "/topics/" + topic + "/" + p + ".records";
                List<Long> offsets = new ArrayList<>();
                List<String> stored = new ArrayList<>();
                try (PartitionRecordReader reader = new PartitionRecordReader(files.open(key), key)) {
                    assertThat(reader.start()).isZero();
                    assertThat(reader.cut()).isEqualTo(cut);
                    PartitionRecordReader.StoredRecord r;
                    while ((r = reader.next()) != null) {
                        offsets.add(r.offset());
                        stored.add(new String(r.key(), StandardCharsets.UTF_8) + "/" + r.value().length);
                    }
                }
                assertThat(offsets).as("partition " + p + " holds exactly [0, cut)").hasSize((int) cut);
                for (int i = 0; i < offsets.size(); i++) {
                    assertThat(offsets.get(i)).isEqualTo(i);
                }
                assertThat(manifest.contentSummary()).containsEntry(topic + "-" + p, cut);
                List<ConsumerRecord<byte[], byte[]>> broker = KafkaTestSupport.readAll(source, topic, p);
                List<String> expected = broker.subList(0, (int) cut).stream()
                        .map(r -> new String(r.key(), StandardCharsets.UTF_8) + "/" + r.value().length).toList();
                assertThat(stored).isEqualTo(expected);
            }
        }
        assertThat(pastCut).as("records the broker has past the cut (produced during and after the backup)")
                .isGreaterThan(0);
    }
}
