package com.aiplatform.backup.cli;

import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.core.EncryptionKeys;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The demo's Kafka cycle against the real child-process broker, through the engine exactly as
 * {@code demo} runs it: the restored topics are identical, and the comparison does notice an
 * extra record, a changed topic config and a moved consumer-group offset.
 */
class KafkaDemoIT {
    @TempDir
    Path tmp;

    @Test
    void restoredTopicsAreIdenticalAndTheComparisonCatchesDifferences() throws Exception {
        KafkaDemoSource source = new KafkaDemoSource();
        Optional<String> unavailable = source.unavailable();
        unavailable.ifPresent(reason -> System.out.println("KafkaDemoIT skipped: " + reason));
        Assumptions.assumeTrue(unavailable.isEmpty(), () -> "no Kafka broker to run: " + unavailable.orElse(""));

        long t0 = System.nanoTime();
        ProcessHandle broker;
        try {
            Path keyset = tmp.resolve("keyset.json");
            EncryptionKeys.generateKeysetFile(keyset);
            Map<String, Object> block = new LinkedHashMap<>();
            block.put("name", source.name());
            block.put("type", source.engine());
            block.putAll(source.prepare(tmp, 1));
            broker = source.brokerProcess().orElseThrow();
            assertThat(broker.isAlive()).isTrue();
            // the broker runs under ExitWithParent, so it cannot outlive a killed backupctl
            assertThat(source.brokerCommand()).containsSubsequence(ExitWithParent.class.getName(), "kafka.Kafka");
            Map<String, Object> config = Map.of(
                    "storage", List.of(Map.of("name", "it", "type", "filesystem",
                            "path", Files.createDirectories(tmp.resolve("storage")).toString())),
                    "compression", "zstd",
                    "encryption", Map.of("keyset-file", keyset.toString()),
                    "sources", List.of(block));

            try (LoadedConfig loaded = new ConfigLoader().load(config);
                 BackupEngine engine = BackupEngine.builder().storage(loaded.storageTarget(null))
                         .compression(loaded.compression()).encryption(loaded.encryption().orElseThrow()).build()) {
                DemoCommand.SourceResult result = DemoCommand.drill(engine, loaded.source(source.name()), source, tmp,
                        null);
                assertThat(result.differences()).isEmpty();
                assertThat(result.verified()).isTrue();
                assertThat(result.restoreVerified()).isTrue();
                assertThat(result.rawBytes()).isGreaterThan(1024 * 1024);
            }
            assertThat(source.describe()).contains("demo-events", "demo-profiles", "demo-analytics");

            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                    source.bootstrapServers()))) {
                produceOne(source.bootstrapServers(), new TopicPartition("demo-events-restored", 1));
                assertThat(source.compare()).singleElement().asString()
                        .startsWith("topic demo-events-restored partition 1: ")
                        .contains("records, the original has");

                ConfigResource profiles = new ConfigResource(ConfigResource.Type.TOPIC, "demo-profiles-restored");
                admin.incrementalAlterConfigs(Map.of(profiles, List.of(new AlterConfigOp(
                        new ConfigEntry("min.compaction.lag.ms", "0"), AlterConfigOp.OpType.SET))))
                        .all().get(30, TimeUnit.SECONDS);
                assertThat(source.compare()).hasSize(2).anySatisfy(d -> assertThat(d).isEqualTo(
                        "topic demo-profiles-restored: config min.compaction.lag.ms is 0, "
                                + "the original demo-profiles has 3600000"));

                admin.alterConsumerGroupOffsets(KafkaDemoSource.GROUP, Map.of(
                        new TopicPartition("demo-events-restored", 0), new OffsetAndMetadata(0, "moved")))
                        .all().get(30, TimeUnit.SECONDS);
                assertThat(source.compare()).hasSize(4)
                        .anySatisfy(d -> assertThat(d).startsWith(
                                "consumer group demo-analytics on demo-events-restored partition 0: offset 0 points at "
                                        + "record #0 of "))
                        .anySatisfy(d -> assertThat(d).startsWith(
                                "consumer group demo-analytics on demo-events-restored partition 0: commit metadata "
                                        + "'moved'"));
            }
        } finally {
            source.close();
        }
        System.out.println("KafkaDemoIT: the Kafka demo cycle took "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
        assertThat(broker.onExit().get(10, TimeUnit.SECONDS).isAlive()).isFalse();
        assertThat(source.brokerProcess()).isEmpty();
        source.close(); // twice is safe
    }

    private static void produceOne(String bootstrap, TopicPartition tp) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>(tp.topic(), tp.partition(), "extra".getBytes(StandardCharsets.UTF_8),
                    "not in the backup".getBytes(StandardCharsets.UTF_8))).get(30, TimeUnit.SECONDS);
        }
    }
}
