package com.aiplatform.backup.kafka;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.server.common.MetadataVersion;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A real Kafka cluster for tests: one combined KRaft broker + controller in this JVM
 * ({@code kafka-test-common-runtime}, see TEST-SERVERS.md), or an external cluster named by an
 * environment variable (then left running). Kept in this module's test sources so Kafka's server
 * dependencies (Scala, log4j, Jackson) stay off every other module's class path.
 */
final class EmbeddedKafka implements AutoCloseable {
    private final KafkaClusterTestKit kit;
    private final String bootstrapServers;
    private final String name;

    private EmbeddedKafka(String name, KafkaClusterTestKit kit, String bootstrapServers) {
        this.name = name;
        this.kit = kit;
        this.bootstrapServers = bootstrapServers;
    }

    /** Broker settings that make a one-node cluster usable and compaction tests quick. */
    static final Map<String, String> BROKER_CONFIG = Map.of(
            "offsets.topic.replication.factor", "1",
            "offsets.topic.num.partitions", "4",
            "transaction.state.log.replication.factor", "1",
            "transaction.state.log.min.isr", "1",
            "transaction.state.log.num.partitions", "4",
            "group.initial.rebalance.delay.ms", "0",
            "log.cleaner.backoff.ms", "100",
            "log.cleaner.dedupe.buffer.size", Long.toString(16L << 20),
            "auto.create.topics.enable", "false");

    /**
     * Starts a cluster, or uses the one at the bootstrap servers in {@code environmentVariable}
     * when that is set.
     */
    static EmbeddedKafka start(String name, String environmentVariable) {
        return start(name, environmentVariable, 1, Map.of());
    }

    /**
     * Starts a cluster of {@code brokers} brokers (the first also the controller) with
     * {@code extraConfig} on top of {@link #BROKER_CONFIG}, or uses the one named by
     * {@code environmentVariable}.
     */
    static EmbeddedKafka start(String name, String environmentVariable, int brokers, Map<String, String> extraConfig) {
        String external = System.getenv(environmentVariable);
        if (external != null && !external.isBlank()) {
            return new EmbeddedKafka(name, null, external.trim());
        }
        long started = System.nanoTime();
        try {
            TestKitNodes nodes = new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(brokers)
                    .setNumControllerNodes(1)
                    .setBootstrapMetadataVersion(MetadataVersion.latestProduction())
                    .build();
            KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes);
            BROKER_CONFIG.forEach(builder::setConfigProp);
            extraConfig.forEach(builder::setConfigProp);
            KafkaClusterTestKit kit = builder.build();
            kit.format();
            kit.startup();
            kit.waitForReadyBrokers();
            System.out.printf("embedded Kafka '%s' ready at %s in %d ms%n", name, kit.bootstrapServers(),
                    (System.nanoTime() - started) / 1_000_000);
            return new EmbeddedKafka(name, kit, kit.bootstrapServers());
        } catch (Exception e) {
            throw new IllegalStateException("embedded Kafka '" + name + "' did not start: " + e, e);
        }
    }

    String bootstrapServers() {
        return bootstrapServers;
    }

    /** Stops one broker of an embedded cluster for good (its replicas drop out of the in-sync sets). */
    void stopBroker(int id) {
        if (kit == null) {
            throw new IllegalStateException("cannot stop a broker of the external cluster " + bootstrapServers);
        }
        kit.brokers().get(id).shutdown();
    }

    /**
     * The first log segment of a partition on broker {@code id} of an embedded cluster: the file
     * the broker serves fetches from, for tests that damage it.
     */
    Path firstSegment(int id, String topic, int partition) {
        if (kit == null) {
            throw new IllegalStateException("cannot reach the log files of the external cluster " + bootstrapServers);
        }
        for (String dir : kit.brokers().get(id).config().logDirs()) {
            Path segment = Path.of(dir, topic + "-" + partition,
                    "00000000000000000000.log");
            if (Files.exists(segment)) {
                return segment;
            }
        }
        throw new IllegalStateException("no log of " + topic + "-" + partition + " on broker " + id);
    }

    /** False for an external cluster, whose brokers tests must not stop. */
    boolean embedded() {
        return kit != null;
    }

    Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers));
    }

    @Override
    public void close() {
        if (kit == null) {
            return;
        }
        try {
            kit.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            throw new IllegalStateException("stopping embedded Kafka '" + name + "' failed: " + e, e);
        }
    }

    @Override
    public String toString() {
        return "EmbeddedKafka[" + name + " " + bootstrapServers + "]";
    }
}
