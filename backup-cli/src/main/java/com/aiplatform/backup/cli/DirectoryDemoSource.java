package com.aiplatform.backup.cli;

import com.aiplatform.backup.spi.RestoreOptions;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A configuration folder like the platform's {@code /etc/kafka} with its neighbours: nested
 * folders, properties files, an empty file and an empty folder, executable scripts (0755), a
 * private file (0600), a relative symlink inside the tree, and a few MiB of broker logs.
 */
final class DirectoryDemoSource implements DemoSource {
    private static final DateTimeFormatter LOG_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss,SSS").withZone(ZoneOffset.UTC);
    private static final String[] TOPICS = {"orders", "payments", "embeddings", "feature-events", "audit", "__consumer_offsets"};
    private static final String[] LEVELS = {"INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN"};

    private Path original;
    private Path restored;
    private String description = "";

    @Override
    public String name() {
        return "kafka-config";
    }

    @Override
    public String engine() {
        return "directory";
    }

    @Override
    public Map<String, Object> prepare(Path workDir, int sizeMb) throws IOException {
        original = workDir.resolve("sources").resolve(name());
        restored = workDir.resolve("restored").resolve(name());
        create(original, sizeMb);
        description = TreeSnapshot.of(original).summary();
        return Map.of("path", original.toString());
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public RestoreOptions restoreOptions(Path workDir) throws IOException {
        Files.createDirectories(restored.getParent());
        return RestoreOptions.intoDirectory(restored);
    }

    @Override
    public List<String> compare() throws IOException {
        if (!Files.isDirectory(restored)) {
            return List.of("restore target " + restored + " does not exist after the restore");
        }
        return TreeSnapshot.of(original).differences(TreeSnapshot.of(restored));
    }

    /** Writes the tree; deterministic for a given size. */
    static void create(Path root, int sizeMb) throws IOException {
        Path config = Files.createDirectories(root.resolve("config"));
        write(config.resolve("server.properties"), """
                # Kafka broker (KRaft combined mode) of the AI platform
                process.roles=broker,controller
                node.id=1
                controller.quorum.voters=1@kafka-0.kafka:9093
                listeners=PLAINTEXT://:9092,CONTROLLER://:9093
                advertised.listeners=PLAINTEXT://kafka-0.kafka:9092
                inter.broker.listener.name=PLAINTEXT
                controller.listener.names=CONTROLLER
                log.dirs=/var/lib/kafka/data
                num.partitions=6
                default.replication.factor=3
                min.insync.replicas=2
                log.retention.hours=168
                log.segment.bytes=1073741824
                auto.create.topics.enable=false
                """);
        write(config.resolve("connect-distributed.properties"), """
                bootstrap.servers=kafka-0.kafka:9092
                group.id=platform-connect
                key.converter=org.apache.kafka.connect.json.JsonConverter
                value.converter=org.apache.kafka.connect.json.JsonConverter
                offset.storage.topic=connect-offsets
                config.storage.topic=connect-configs
                status.storage.topic=connect-status
                plugin.path=/usr/share/java,/opt/connectors
                """);
        write(config.resolve("log4j.properties"), """
                log4j.rootLogger=INFO, stdout, kafkaAppender
                log4j.appender.stdout=org.apache.log4j.ConsoleAppender
                log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
                log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
                log4j.appender.kafkaAppender=org.apache.log4j.DailyRollingFileAppender
                log4j.appender.kafkaAppender.DatePattern='.'yyyy-MM-dd-HH
                log4j.appender.kafkaAppender.File=${kafka.logs.dir}/server.log
                """);
        // a symlink inside the tree, relative, to a file in the tree
        Files.createSymbolicLink(config.resolve("current.properties"), Path.of("server.properties"));
        // an empty folder that must come back
        Files.createDirectories(config.resolve("ssl"));
        Path secrets = Files.createDirectories(config.resolve("secrets"));
        write(secrets.resolve("kafka_server_jaas.conf"), """
                KafkaServer {
                  org.apache.kafka.common.security.plain.PlainLoginModule required
                  username="admin"
                  password="demo-only-not-a-secret";
                };
                """);
        chmod(secrets.resolve("kafka_server_jaas.conf"), "rw-------");

        Path bin = Files.createDirectories(root.resolve("bin"));
        write(bin.resolve("kafka-server-start.sh"), """
                #!/bin/bash
                # Starts the broker with the configuration of this folder.
                base_dir=$(dirname "$0")/..
                export KAFKA_LOG4J_OPTS="-Dlog4j.configuration=file:$base_dir/config/log4j.properties"
                exec "$base_dir/bin/kafka-run-class.sh" kafka.Kafka "$base_dir/config/server.properties" "$@"
                """);
        chmod(bin.resolve("kafka-server-start.sh"), "rwxr-xr-x");
        write(bin.resolve("kafka-run-class.sh"), """
                #!/bin/bash
                exec java ${KAFKA_HEAP_OPTS:--Xmx1G} $KAFKA_LOG4J_OPTS -cp "$(dirname "$0")/../libs/*" "$@"
                """);
        chmod(bin.resolve("kafka-run-class.sh"), "rwxr-xr-x");

        Path data = Files.createDirectories(root.resolve("data"));
        write(data.resolve("meta.properties"), """
                version=1
                node.id=1
                cluster.id=q1Sh-9_ISia_zwGINzRvyQ
                """);
        Files.createFile(data.resolve(".lock")); // an empty file

        Path logs = Files.createDirectories(root.resolve("logs"));
        long total = (long) sizeMb * 1024 * 1024;
        Random random = new Random(20261124L);
        writeLog(logs.resolve("server.log"), total / 2, random);
        writeLog(logs.resolve("server.log.2026-11-23-23"), total * 7 / 20, random);
        writeLog(logs.resolve("controller.log"), total - total / 2 - total * 7 / 20, random);

        write(root.resolve("README for operators.txt"), """
                Configuration of the platform's Kafka brokers. Restore with:
                  backupctl restore kafka-config latest --target-dir /etc/kafka.restored
                """);
    }

    private static void writeLog(Path file, long bytes, Random random) throws IOException {
        long t = Instant.parse("2026-11-23T23:00:00Z").toEpochMilli();
        long written = 0;
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            while (written < bytes) {
                t += random.nextInt(250);
                String topic = TOPICS[random.nextInt(TOPICS.length)];
                int partition = random.nextInt(12);
                String line = switch (random.nextInt(5)) {
                    case 0 -> "[ReplicaFetcher replicaId=1, leaderId=" + (2 + random.nextInt(2)) + ", fetcherId=0] "
                            + "Truncating partition " + topic + "-" + partition + " with TruncationState(offset="
                            + random.nextInt(10_000_000) + ", completed=true) (kafka.server.ReplicaFetcherThread)";
                    case 1 -> "[LocalLog partition=" + topic + "-" + partition + ", dir=/var/lib/kafka/data] Rolled new log "
                            + "segment at offset " + random.nextInt(50_000_000) + " in " + random.nextInt(40) + " ms. "
                            + "(kafka.log.LocalLog)";
                    case 2 -> "[GroupCoordinator 1]: Member consumer-" + Long.toHexString(random.nextLong())
                            + " in group platform-" + topic + " has left, removing it from the group "
                            + "(kafka.coordinator.group.GroupCoordinator)";
                    case 3 -> "[UnifiedLog partition=" + topic + "-" + partition + ", dir=/var/lib/kafka/data] "
                            + "Incremented log start offset to " + random.nextInt(9_000_000) + " due to segment deletion "
                            + "(kafka.log.UnifiedLog)";
                    default -> "[SocketServer listenerType=BROKER, nodeId=1] Accepted connection from /10.42."
                            + random.nextInt(256) + "." + random.nextInt(256) + ":" + (32768 + random.nextInt(28000))
                            + " (kafka.network.Processor)";
                };
                String entry = "[" + LOG_TIME.format(Instant.ofEpochMilli(t)) + "] "
                        + LEVELS[random.nextInt(LEVELS.length)] + " " + line + "\n";
                long remaining = bytes - written;
                if (entry.length() > remaining) {
                    entry = entry.substring(0, (int) remaining - 1) + "\n";
                }
                w.write(entry);
                written += entry.length();
            }
        }
    }

    private static void write(Path file, String content) throws IOException {
        Files.writeString(file, content, StandardCharsets.UTF_8);
    }

    private static void chmod(Path file, String permissions) throws IOException {
        if (Files.getFileAttributeView(file, PosixFileAttributeView.class) != null) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(permissions));
        }
    }
}
