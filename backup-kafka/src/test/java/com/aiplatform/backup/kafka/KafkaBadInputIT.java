package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.storage.fs.FileSystemStorageTarget;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Acceptance 6: bad input fails with a clear error, fast, and writes nothing. */
class KafkaBadInputIT {
    @RegisterExtension
    static final EmbeddedKafkaExtension KAFKA = new EmbeddedKafkaExtension();

    @TempDir
    Path storage;

    /** A port on 127.0.0.1 that nothing listens on (bound, then released). */
    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    private void assertNothingStored() throws Exception {
        try (FileSystemStorageTarget files = new FileSystemStorageTarget("check", storage)) {
            assertThat(files.list("")).as("objects on storage").isEmpty();
        }
    }

    @Test
    void unknownTopicIsAClearErrorAndNothingIsWritten() throws Exception {
        String topic = KafkaTestSupport.unique("known");
        try (Admin admin = KAFKA.source().admin()) {
            KafkaTestSupport.createTopic(admin, topic, 1, Map.of());
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(KAFKA.source().bootstrapServers())
                .topic(topic).topic("no-such-topic-here").build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(SourceException.class)
                    .hasMessageContaining("unknown-topic")
                    .hasMessageContaining("topic 'no-such-topic-here' does not exist")
                    .hasMessageContaining(KAFKA.source().bootstrapServers());
            KafkaConfig nothing = KafkaConfig.builder(topic).bootstrapServers(KAFKA.source().bootstrapServers())
                    .topic("nothing-matches-.*").build();
            assertThatThrownBy(() -> engine.backup(nothing)).isInstanceOf(SourceException.class)
                    .hasMessageContaining("no topic").hasMessageContaining("nothing-matches-.*");
        }
        assertNothingStored();
    }

    @Test
    void refusedConnectionIsReportedAtOnceNotAfterTheConnectTimeout() throws Exception {
        String closed = "127.0.0.1:" + closedPort();
        KafkaConfig config = KafkaConfig.builder("deadbroker").bootstrapServers(closed).topic("anything")
                .connectTimeout(Duration.ofSeconds(60)).build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            long started = System.nanoTime();
            assertThat(engine.check(config)).singleElement().satisfies(p -> {
                assertThat(p.code()).isEqualTo("connection-refused");
                assertThat(p.message()).contains("connection refused by " + closed).contains("nothing listens there");
            });
            assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(SourceException.class)
                    .hasMessageContaining("connection-refused: ").hasMessageContaining(closed)
                    .hasMessageNotContaining("no answer");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("check and backup, long before the 60 s "
                    + "connect timeout").isLessThan(Duration.ofSeconds(30));
        }
        assertNothingStored();
    }

    @Test
    void silentPeerFailsWithinTheConnectTimeout() throws Exception {
        // a listener that never accepts: the kernel completes the connection, nobody ever answers
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            String peer = "127.0.0.1:" + silent.getLocalPort();
            KafkaConfig config = KafkaConfig.builder("silentbroker").bootstrapServers(peer).topic("anything")
                    .connectTimeout(Duration.ofSeconds(3)).build();
            try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
                assertThat(engine.check(config)).singleElement().satisfies(p -> {
                    assertThat(p.code()).isEqualTo("unreachable");
                    assertThat(p.message()).contains("no answer from " + peer);
                });
                long started = System.nanoTime();
                assertThatThrownBy(() -> engine.backup(config)).isInstanceOf(SourceException.class)
                        .hasMessageContaining("unreachable: ").hasMessageContaining(peer)
                        .hasMessageContaining("within 3 s (connect-timeout)");
                Duration took = Duration.ofNanos(System.nanoTime() - started);
                assertThat(took).as("fails after about the connect timeout, no hang").isBetween(
                        Duration.ofMillis(2500), Duration.ofSeconds(10));
            }
        }
        assertNothingStored();
    }

    @Test
    void restoreIntoATargetThatRefusesConnectionsFailsAtOnce() throws Exception {
        String topic = KafkaTestSupport.unique("unreach");
        try (Admin admin = KAFKA.source().admin()) {
            KafkaTestSupport.createTopic(admin, topic, 1, Map.of());
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(KAFKA.source().bootstrapServers())
                .topic(topic).connectTimeout(Duration.ofSeconds(60)).build();
        String closed = "127.0.0.1:" + closedPort();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD)) {
            engine.backup(config);
            long started = System.nanoTime();
            assertThatThrownBy(() -> engine.restore(config, "latest", new RestoreOptions(Optional.empty(), false,
                    Map.of("target-bootstrap-servers", closed)))).isInstanceOf(SourceException.class)
                    .hasMessageContaining("connection refused by " + closed);
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("long before the 60 s connect timeout")
                    .isLessThan(Duration.ofSeconds(30));
        }
    }

    @Test
    void nonEmptyTargetTopicIsRefusedAndNothingIsWritten() throws Exception {
        String topic = KafkaTestSupport.unique("busy");
        String other = topic + "-other";
        String source = KAFKA.source().bootstrapServers();
        String target = KAFKA.target().bootstrapServers();
        try (Admin admin = KAFKA.source().admin()) {
            KafkaTestSupport.createTopic(admin, topic, 2, Map.of());
            KafkaTestSupport.createTopic(admin, other, 1, Map.of());
        }
        try (KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(source, Map.of())) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(i % 2 == 0 ? topic : other, ("v" + i).getBytes(StandardCharsets.UTF_8)));
            }
        }
        try (Admin admin = KAFKA.target().admin();
             KafkaProducer<byte[], byte[]> p = KafkaTestSupport.producer(target, Map.of())) {
            KafkaTestSupport.createTopic(admin, topic, 2, Map.of());
            p.send(new ProducerRecord<>(topic, 1, null, "already here".getBytes(StandardCharsets.UTF_8))).get();
        }
        KafkaConfig config = KafkaConfig.builder(topic).bootstrapServers(source).topic(topic + ".*").build();
        try (BackupEngine engine = KafkaTestSupport.engine(storage, Compression.ZSTD);
             Admin admin = KAFKA.target().admin()) {
            Manifest m = engine.backup(config);
            RestoreOptions into = new RestoreOptions(Optional.empty(), false, Map.of("target-bootstrap-servers", target));
            assertThatThrownBy(() -> engine.restore(config, m.backupId().value(), into))
                    .isInstanceOf(SourceException.class)
                    .hasMessageContaining("target topic '" + topic + "' is not empty (1 records)")
                    .hasMessageContaining("allow-non-empty=true").hasMessageContaining("nothing was written");
            var ends = KafkaTestSupport.endOffsets(admin, topic, 2, IsolationLevel.READ_UNCOMMITTED);
            assertThat(ends.get(new TopicPartition(topic, 0))).isZero();
            assertThat(ends.get(new TopicPartition(topic, 1))).isEqualTo(1);
            assertThat(admin.listTopics().names().get()).as("the other topic was not created").doesNotContain(other);

            assertThatThrownBy(() -> engine.restore(config, m.backupId().value(), new RestoreOptions(Optional.empty(),
                    false, Map.of("target-bootstrap-servers", target, "alow-non-empty", "true"))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown Kafka restore option "
                            + "'alow-non-empty'").hasMessageContaining("allow-non-empty");
            assertThatThrownBy(() -> engine.restore(config, m.backupId().value(), new RestoreOptions(Optional.empty(),
                    false, Map.of("target-bootstrap-servers", target, "rename.missing", "x"))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rename.missing")
                    .hasMessageContaining("not in backup");

            engine.restore(config, m.backupId().value(), new RestoreOptions(Optional.empty(), false,
                    Map.of("target-bootstrap-servers", target, "allow-non-empty", "true")));
            ends = KafkaTestSupport.endOffsets(admin, topic, 2, IsolationLevel.READ_UNCOMMITTED);
            assertThat(ends.values().stream().mapToLong(Long::longValue).sum()).as("appended when allowed")
                    .isEqualTo(6);
        }
    }
}
