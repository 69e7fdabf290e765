package com.aiplatform.backup.cli;

import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The demo's Kafka: a real single-node KRaft broker run as a child process from the jars Maven
 * resolved when backupctl was built (so Scala, log4j and the broker stay out of backupctl), with a
 * three-partition topic of binary keys, null keys, headers and tombstones, a compacted topic with
 * its own configs, and a consumer group committed mid-way; restored into the same broker under
 * new topic names and compared record by record.
 */
final class KafkaDemoSource implements DemoSource {
    /** The class-path files the build writes next to this class: the broker's own jars, then those it shares. */
    static final List<String> CLASS_PATH_RESOURCES = List.of("kafka-broker.classpath", "kafka-broker-shared.classpath");
    static final String EVENTS = "demo-events";
    static final String PROFILES = "demo-profiles";
    static final String GROUP = "demo-analytics";
    static final String RESTORED_SUFFIX = "-restored";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(30);
    private static final Map<String, Map<String, String>> TOPIC_CONFIGS = Map.of(
            EVENTS, Map.of("retention.ms", "1209600000", "max.message.bytes", "2097152"),
            PROFILES, Map.of("cleanup.policy", "compact", "min.compaction.lag.ms", "3600000",
                    "delete.retention.ms", "86400000"));
    private static final Map<String, Integer> PARTITIONS = Map.of(EVENTS, 3, PROFILES, 1);

    private final Function<String, URL> resources;
    private List<Path> classPath;
    private String unavailable;
    private String version = "";
    private Process broker;
    private List<String> brokerCommand = List.of();
    private Thread shutdownHook;
    private Path log;
    private String bootstrap;
    private long events;
    private long profiles;
    private long tombstones;

    KafkaDemoSource() {
        this(KafkaDemoSource.class::getResource);
    }

    /** With the class-path files looked up by {@code resources} (a name to its URL, or null when absent). */
    KafkaDemoSource(Function<String, URL> resources) {
        this.resources = resources;
    }

    @Override
    public String name() {
        return "events";
    }

    @Override
    public String engine() {
        return "kafka";
    }

    @Override
    public synchronized Optional<String> unavailable() {
        if (classPath == null && unavailable == null) {
            readClassPath();
        }
        return Optional.ofNullable(unavailable);
    }

    private void readClassPath() {
        List<Path> jars = new ArrayList<>();
        for (String resource : CLASS_PATH_RESOURCES) {
            URL url = resources.apply(resource);
            if (url == null) {
                unavailable = "this backupctl has no " + resource + " (the Kafka broker's class path, written by the "
                        + "Maven build of backup-cli)";
                return;
            }
            try (InputStream in = url.openStream()) {
                for (String entry : new String(in.readAllBytes(), StandardCharsets.UTF_8).trim()
                        .split(Pattern.quote(File.pathSeparator))) {
                    if (!entry.isBlank()) {
                        jars.add(Path.of(entry.trim()));
                    }
                }
            } catch (IOException | RuntimeException e) {
                unavailable = "could not read " + resource + " (the Kafka broker's class path): " + e.getMessage();
                return;
            }
        }
        List<Path> missing = jars.stream().filter(j -> !Files.isRegularFile(j)).toList();
        Optional<Path> server = jars.stream().filter(j -> j.getFileName().toString().startsWith("kafka_")).findFirst();
        if (server.isEmpty()) {
            unavailable = "the Kafka broker's class path (" + CLASS_PATH_RESOURCES.get(0) + ") names no kafka_2.13 jar";
        } else if (!missing.isEmpty()) {
            unavailable = "the Kafka broker jars Maven resolved when this backupctl was built are not on this machine ("
                    + missing.size() + " of " + jars.size() + " missing, such as " + missing.get(0)
                    + "); build backupctl here to include Kafka";
        } else {
            classPath = List.copyOf(jars);
            Matcher m = Pattern.compile("kafka_[0-9.]+-(.+)\\.jar").matcher(server.get().getFileName().toString());
            version = m.matches() ? m.group(1) : "";
        }
    }

    @Override
    public Map<String, Object> prepare(Path workDir, int sizeMb) throws Exception {
        if (unavailable().isPresent()) {
            throw new IllegalStateException("Kafka demo is unavailable: " + unavailable);
        }
        Path dir = Files.createDirectories(workDir.resolve("sources").resolve("kafka"));
        startBroker(dir);
        try (Admin admin = Admin.create(clientProperties("admin"))) {
            List<NewTopic> topics = new ArrayList<>();
            for (String topic : List.of(EVENTS, PROFILES)) {
                topics.add(new NewTopic(topic, PARTITIONS.get(topic), (short) 1).configs(TOPIC_CONFIGS.get(topic)));
            }
            admin.createTopics(topics).all().get(30, TimeUnit.SECONDS);
            awaitLeaders(admin);
            produce(Math.max(3_000, sizeMb * 500L));
            commitGroup();
        } catch (ExecutionException | TimeoutException | IOException | org.apache.kafka.common.KafkaException e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            throw failure("creating the demo's Kafka data failed: " + cause.getMessage(), cause);
        }
        Map<String, Object> block = new LinkedHashMap<>();
        block.put("bootstrap-servers", bootstrap);
        block.put("topics", List.of(EVENTS, PROFILES));
        block.put("consumer-groups", "all");
        return block;
    }

    @Override
    public String describe() {
        return "Kafka " + version + " (KRaft, a child process): " + events + " records in " + PARTITIONS.get(EVENTS)
                + " partitions of " + EVENTS + " (binary and null keys, headers, " + tombstones + " tombstones), " + profiles
                + " in compacted " + PROFILES + ", consumer group " + GROUP + " mid-way; restored beside them as *"
                + RESTORED_SUFFIX;
    }

    @Override
    public RestoreOptions restoreOptions(Path workDir) {
        Map<String, String> options = new LinkedHashMap<>();
        for (String topic : List.of(EVENTS, PROFILES)) {
            options.put("rename." + topic, topic + RESTORED_SUFFIX);
        }
        return new RestoreOptions(Optional.empty(), false, options);
    }

    @Override
    public List<String> compare() throws Exception {
        List<String> differences = new ArrayList<>();
        try (Admin admin = Admin.create(clientProperties("admin"));
             KafkaConsumer<byte[], byte[]> original = consumer("compare-original");
             KafkaConsumer<byte[], byte[]> restored = consumer("compare-restored")) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(GROUP)
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            for (String topic : List.of(EVENTS, PROFILES)) {
                String copy = topic + RESTORED_SUFFIX;
                Map<String, TopicDescription> described;
                try {
                    described = admin.describeTopics(List.of(topic, copy)).allTopicNames().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                        differences.add("topic " + copy + " does not exist after the restore");
                        continue;
                    }
                    throw e;
                }
                int partitions = described.get(topic).partitions().size();
                int copyPartitions = described.get(copy).partitions().size();
                if (partitions != copyPartitions) {
                    differences.add("topic " + copy + ": " + copyPartitions + " partitions, the original " + topic
                            + " has " + partitions);
                }
                differences.addAll(configDifferences(admin, topic, copy));
                for (int p = 0; p < Math.min(partitions, copyPartitions); p++) {
                    TopicPartition from = new TopicPartition(topic, p);
                    TopicPartition to = new TopicPartition(copy, p);
                    differences.addAll(comparePartition(original, from, committed.get(from), restored, to,
                            committed.get(to)));
                }
            }
        }
        return differences;
    }

    @Override
    public synchronized void close() throws IOException {
        if (broker == null) {
            return;
        }
        try {
            stop(broker);
        } finally {
            broker = null;
            if (shutdownHook != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(shutdownHook);
                } catch (IllegalStateException e) {
                    // the JVM is shutting down already: the hook stops the broker
                }
                shutdownHook = null;
            }
        }
    }

    /** The broker process while it runs (for tests). */
    synchronized Optional<ProcessHandle> brokerProcess() {
        return broker == null ? Optional.empty() : Optional.of(broker.toHandle());
    }

    /** The command line the broker was started with (for tests). */
    List<String> brokerCommand() {
        return brokerCommand;
    }

    /** {@code host:port} of the broker, once prepared. */
    String bootstrapServers() {
        return bootstrap;
    }

    // ---- the broker

    /** Starts an empty broker in {@code dir} (the demo, and tests that need a second cluster). */
    void startBroker(Path dir) throws IOException, InterruptedException {
        int port = freePort();
        int controllerPort = freePort();
        while (controllerPort == port) {
            controllerPort = freePort();
        }
        bootstrap = "127.0.0.1:" + port;
        Path properties = dir.resolve("server.properties");
        Files.writeString(properties, String.join("\n",
                "# the backupctl demo's broker: one combined KRaft node on 127.0.0.1",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
                "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
                "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "log.dirs=" + dir.resolve("data").toAbsolutePath().toString().replace('\\', '/'),
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "num.network.threads=2",
                "num.io.threads=2",
                "log.cleaner.threads=1",
                "log.cleaner.dedupe.buffer.size=16777216",
                "") , StandardCharsets.UTF_8);
        log = dir.resolve("broker.log");
        Files.deleteIfExists(log);
        Process format = java(dir, "kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(),
                "-c", properties.toString());
        if (!format.waitFor(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            format.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            throw failure("formatting the Kafka broker's storage did not finish within " + START_TIMEOUT.toSeconds()
                    + " s");
        }
        if (format.exitValue() != 0) {
            throw failure("formatting the Kafka broker's storage failed (exit code " + format.exitValue() + ")");
        }
        broker = java(dir, "kafka.Kafka", properties.toString());
        Process started = broker;
        shutdownHook = new Thread(() -> started.destroyForcibly(), "backupctl-demo-kafka-stop");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        awaitReady();
    }

    /**
     * Runs {@code main} on the broker's class path with this JVM's {@code java}, output appended to
     * the log, under {@link ExitWithParent}: the child ends with backupctl even if backupctl is
     * killed (its standard input, a pipe this process holds open, then reaches end-of-file).
     */
    private Process java(Path dir, String main, String... args) throws IOException {
        Path launcher = dir.resolve("launcher");
        Path launcherClass = launcher.resolve(ExitWithParent.class.getName().replace('.', '/') + ".class");
        if (!Files.exists(launcherClass)) {
            Files.createDirectories(launcherClass.getParent());
            try (InputStream in = ExitWithParent.class.getResourceAsStream(ExitWithParent.class.getSimpleName()
                    + ".class")) {
                Files.copy(Objects.requireNonNull(in, "ExitWithParent.class is not in backupctl's jar"), launcherClass);
            }
        }
        List<String> cp = new ArrayList<>();
        cp.add(launcher.toString());
        classPath.forEach(jar -> cp.add(jar.toString()));
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // a small broker that starts quickly (the C1 compiler only) and leaves the cores to the demo
                "-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-cp", String.join(File.pathSeparator, cp), ExitWithParent.class.getName(), main));
        command.addAll(Arrays.asList(args));
        if (main.equals("kafka.Kafka")) {
            brokerCommand = List.copyOf(command);
        }
        return new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    private void awaitReady() throws IOException, InterruptedException {
        Properties p = clientProperties("admin-ready");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "2000");
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        try (Admin admin = Admin.create(p)) {
            while (true) {
                if (!broker.isAlive()) {
                    throw failure("the Kafka broker exited with code " + broker.exitValue() + " before it answered");
                }
                try {
                    if (!admin.describeCluster(new DescribeClusterOptions().timeoutMs(2000)).nodes()
                            .get(3, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (ExecutionException | TimeoutException e) {
                    // not listening yet
                }
                if (System.nanoTime() > deadline) {
                    throw failure("the Kafka broker did not answer on " + bootstrap + " within "
                            + START_TIMEOUT.toSeconds() + " s");
                }
                TimeUnit.MILLISECONDS.sleep(100);
            }
        }
    }

    /** An error naming the broker log (copied out of the work directory, which the demo removes) and its last lines. */
    private IOException failure(String what) {
        return failure(what, null);
    }

    private IOException failure(String what, Throwable cause) {
        String where = log.toString();
        try {
            Path kept = Files.createTempFile("backupctl-demo-kafka-broker-", ".log");
            Files.copy(log, kept, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            where = kept.toString();
        } catch (IOException e) {
            // name the original
        }
        return new IOException(what + "; broker log: " + where + "; its last lines: " + tail(log, 8), cause);
    }

    private static String tail(Path file, int lines) {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long from = Math.max(0, f.length() - 16 * 1024);
            byte[] bytes = new byte[(int) (f.length() - from)];
            f.seek(from);
            f.readFully(bytes);
            // stack frames say less than the messages around them
            List<String> all = new String(bytes, StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.isBlank() && !l.matches("\\s+(at |\\.\\.\\. \\d+ more).*")).toList();
            return all.subList(Math.max(0, all.size() - lines), all.size()).stream()
                    .map(l -> l.length() > 300 ? l.substring(0, 300) + "..." : l)
                    .collect(Collectors.joining(" | "));
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    private static void stop(Process process) throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        if (process.isAlive()) {
            throw new IOException("the Kafka broker (pid " + process.pid() + ") did not stop");
        }
        // 143: SIGTERM, the normal way a broker ends; 137 after destroyForcibly
    }

    /** Waits until every partition of the new topics has its leader (a produce before that can be refused). */
    private static void awaitLeaders(Admin admin) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            Map<String, TopicDescription> topics = admin.describeTopics(List.of(EVENTS, PROFILES)).allTopicNames()
                    .get(30, TimeUnit.SECONDS);
            if (topics.values().stream().flatMap(t -> t.partitions().stream())
                    .allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("the demo topics " + topics.keySet() + " have no leader after 30 s");
            }
            TimeUnit.MILLISECONDS.sleep(50);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    // ---- the data

    private KafkaProducer<byte[], byte[]> producer(String compression) {
        Properties p = clientProperties("producer-" + compression);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        // one batch in flight per partition keeps the order without the idempotent producer's sequence numbers
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(128 * 1024));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    private void produce(long count) throws IOException {
        Random random = new Random(20261124L);
        long base = System.currentTimeMillis() - TimeUnit.HOURS.toMillis(2);
        AtomicReference<Exception> failed = new AtomicReference<>();
        try (KafkaProducer<byte[], byte[]> producer = producer("none");
             KafkaProducer<byte[], byte[]> compressed = producer("lz4")) {
            String[] kinds = {"page_view", "click", "search", "purchase", "embedding_request", "feedback"};
            for (long i = 0; i < count; i++) {
                byte[] key = null;
                if (i % 10 != 3) {
                    key = new byte[i % 50 == 7 ? 0 : 16];
                    random.nextBytes(key);
                    if (key.length > 0) {
                        key[0] = 0;
                        key[key.length - 1] = (byte) 0xFF;
                    }
                }
                byte[] value = null;
                if (i % 97 != 41) {
                    StringBuilder v = new StringBuilder(600).append("{\"seq\":").append(i).append(",\"kind\":\"")
                            .append(kinds[random.nextInt(kinds.length)]).append("\",\"user\":\"u")
                            .append(random.nextInt(5000)).append("\",\"features\":[");
                    for (int f = 0, n = 20 + random.nextInt(40); f < n; f++) {
                        v.append(f == 0 ? "" : ",").append((random.nextInt(200_001) - 100_000) / 100_000.0);
                    }
                    value = v.append("]}").toString().getBytes(StandardCharsets.UTF_8);
                } else {
                    tombstones++;
                }
                List<Header> headers = new ArrayList<>();
                if (i % 5 != 0) {
                    headers.add(new RecordHeader("trace-id", Long.toHexString(random.nextLong())
                            .getBytes(StandardCharsets.US_ASCII)));
                }
                if (i % 7 == 0) {
                    headers.add(new RecordHeader("tag", "ml".getBytes(StandardCharsets.UTF_8)));
                    headers.add(new RecordHeader("tag", "ingest".getBytes(StandardCharsets.UTF_8)));
                }
                if (i % 13 == 0) {
                    headers.add(new RecordHeader("replay-of", null));
                }
                if (i % 17 == 0) {
                    headers.add(new RecordHeader("bin", new byte[] {0, (byte) 0xFF, 0x7F, (byte) 0x80}));
                }
                long timestamp = base + i * 37 - (i % 11 == 0 ? 5_000 : 0);
                producer.send(new ProducerRecord<>(EVENTS, (int) (i % PARTITIONS.get(EVENTS)), timestamp, key, value,
                        headers), (metadata, e) -> {
                            if (e != null) {
                                failed.compareAndSet(null, e);
                            }
                        });
            }
            events = count;
            // the compacted topic: profiles updated several times, a few deleted (tombstones), lz4 batches
            long profileCount = Math.max(600, count / 5);
            for (long i = 0; i < profileCount; i++) {
                byte[] key = ("user-" + (i * 7919 % 200)).getBytes(StandardCharsets.UTF_8);
                byte[] value = i % 31 == 30 ? null : ("{\"plan\":\"" + (i % 3 == 0 ? "pro" : "free") + "\",\"v\":" + i
                        + ",\"embedding_dim\":" + (256 << (i % 3)) + "}").getBytes(StandardCharsets.UTF_8);
                compressed.send(new ProducerRecord<>(PROFILES, 0, base + i * 1000, key, value), (metadata, e) -> {
                    if (e != null) {
                        failed.compareAndSet(null, e);
                    }
                });
            }
            profiles = profileCount;
            producer.flush();
            compressed.flush();
        }
        if (failed.get() != null) {
            throw new IOException("producing the demo records failed: " + failed.get().getMessage(), failed.get());
        }
    }

    /** The group has read about half of each events partition (a little more on later ones) and every profile. */
    private void commitGroup() {
        Properties p = clientProperties("group");
        p.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int partition = 0; partition < PARTITIONS.get(EVENTS); partition++) {
                partitions.add(new TopicPartition(EVENTS, partition));
            }
            partitions.add(new TopicPartition(PROFILES, 0));
            Map<TopicPartition, Long> ends = c.endOffsets(partitions, Duration.ofSeconds(30));
            Map<TopicPartition, OffsetAndMetadata> offsets = new LinkedHashMap<>();
            for (TopicPartition tp : partitions) {
                long end = ends.get(tp);
                long offset = tp.topic().equals(PROFILES) ? end : end / 2 + tp.partition() * 11L;
                offsets.put(tp, new OffsetAndMetadata(offset, "analytics job, run " + (tp.partition() + 1)));
            }
            c.assign(partitions);
            c.commitSync(offsets, Duration.ofSeconds(30));
        }
    }

    // ---- the comparison

    private List<String> configDifferences(Admin admin, String topic, String copy) throws Exception {
        ConfigResource a = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        ConfigResource b = new ConfigResource(ConfigResource.Type.TOPIC, copy);
        Map<ConfigResource, Config> all = admin.describeConfigs(List.of(a, b)).all().get(30, TimeUnit.SECONDS);
        Map<String, String> original = setConfigs(all.get(a));
        Map<String, String> restored = setConfigs(all.get(b));
        List<String> differences = new ArrayList<>();
        for (var e : original.entrySet()) {
            String got = restored.get(e.getKey());
            if (!e.getValue().equals(got)) {
                differences.add("topic " + copy + ": config " + e.getKey() + (got == null ? " is not set" : " is " + got)
                        + ", the original " + topic + " has " + e.getValue());
            }
        }
        for (var e : restored.entrySet()) {
            if (!original.containsKey(e.getKey())) {
                differences.add("topic " + copy + ": config " + e.getKey() + " is " + e.getValue()
                        + ", the original " + topic + " does not set it");
            }
        }
        return differences;
    }

    /** The configs set on the topic itself (not broker defaults). */
    private static Map<String, String> setConfigs(Config config) {
        Map<String, String> result = new TreeMap<>();
        for (ConfigEntry entry : config.entries()) {
            if (entry.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG && entry.value() != null) {
                result.put(entry.name(), entry.value());
            }
        }
        return result;
    }

    /**
     * Reads both partitions to their end offsets side by side: record count, every record byte-exact
     * in order, and whether the group's committed offsets point at the same record.
     */
    private static List<String> comparePartition(KafkaConsumer<byte[], byte[]> originalConsumer, TopicPartition from,
                                                 OffsetAndMetadata fromCommitted,
                                                 KafkaConsumer<byte[], byte[]> restoredConsumer, TopicPartition to,
                                                 OffsetAndMetadata toCommitted) throws IOException {
        List<String> differences = new ArrayList<>();
        String label = "topic " + to.topic() + " partition " + to.partition();
        Cursor original = new Cursor(originalConsumer, from, fromCommitted);
        Cursor restored = new Cursor(restoredConsumer, to, toCommitted);
        long differing = 0;
        long first = -1;
        List<String> firstFields = List.of();
        while (true) {
            ConsumerRecord<byte[], byte[]> a = original.next();
            ConsumerRecord<byte[], byte[]> b = restored.next();
            if (a == null || b == null) {
                while (a != null) {
                    a = original.next();
                }
                while (b != null) {
                    b = restored.next();
                }
                break;
            }
            List<String> fields = recordDifferences(a, b);
            if (!fields.isEmpty()) {
                if (differing++ == 0) {
                    first = original.count - 1;
                    firstFields = fields;
                }
            }
        }
        if (original.count != restored.count) {
            differences.add(label + ": " + restored.count + " records, the original has " + original.count);
        }
        if (differing > 0) {
            differences.add(label + ": " + differing + " record" + (differing == 1 ? " differs" : "s differ")
                    + " from the original, the first at position " + first + " (" + String.join(", ", firstFields)
                    + ")");
        }
        if (fromCommitted != null) {
            String group = "consumer group " + GROUP + " on " + to.topic() + " partition " + to.partition();
            if (toCommitted == null) {
                differences.add(group + ": no committed offset (the original's is " + fromCommitted.offset()
                        + " on " + from.topic() + ")");
            } else {
                if (original.groupPosition != restored.groupPosition
                        || !Arrays.equals(original.groupKey, restored.groupKey)
                        || !Arrays.equals(original.groupValue, restored.groupValue)) {
                    differences.add(group + ": offset " + toCommitted.offset() + " points at "
                            + position(restored) + ", the original's offset " + fromCommitted.offset() + " at "
                            + position(original));
                }
                if (!Objects.equals(fromCommitted.metadata(), toCommitted.metadata())) {
                    differences.add(group + ": commit metadata '" + toCommitted.metadata() + "', the original's is '"
                            + fromCommitted.metadata() + "'");
                }
            }
        } else if (toCommitted != null) {
            differences.add("consumer group " + GROUP + " has an offset on " + to.topic() + " partition "
                    + to.partition() + " but none on the original " + from.topic());
        }
        return differences;
    }

    private static String position(Cursor c) {
        return c.groupPosition == c.count ? "the end (after " + c.count + " records)"
                : "record #" + c.groupPosition + " of " + c.count;
    }

    /** The fields in which two records differ: key, value, headers, timestamp (empty when identical). */
    static List<String> recordDifferences(ConsumerRecord<byte[], byte[]> a, ConsumerRecord<byte[], byte[]> b) {
        List<String> fields = new ArrayList<>();
        if (!Arrays.equals(a.key(), b.key())) { // null equals only null, so null and empty differ
            fields.add("key");
        }
        if (!Arrays.equals(a.value(), b.value())) { // null equals only null, so null and empty differ
            fields.add("value");
        }
        Header[] ha = a.headers().toArray();
        Header[] hb = b.headers().toArray();
        boolean sameHeaders = ha.length == hb.length;
        for (int i = 0; sameHeaders && i < ha.length; i++) {
            sameHeaders = ha[i].key().equals(hb[i].key()) && Arrays.equals(ha[i].value(), hb[i].value());
        }
        if (!sameHeaders) {
            fields.add("headers");
        }
        if (a.timestamp() != b.timestamp() || a.timestampType() != b.timestampType()) {
            fields.add("timestamp");
        }
        return fields;
    }

    /** One partition read from its start to the end offset taken when the cursor opened. */
    private static final class Cursor {
        private final KafkaConsumer<byte[], byte[]> consumer;
        private final TopicPartition tp;
        private final long end;
        private final long committed;
        private Iterator<ConsumerRecord<byte[], byte[]>> buffered = Collections.emptyIterator();
        private boolean done;
        long count;
        /** Position (record index) of the first record at or after the committed offset; {@code count} if none. */
        long groupPosition = -1;
        byte[] groupKey;
        byte[] groupValue;

        Cursor(KafkaConsumer<byte[], byte[]> consumer, TopicPartition tp, OffsetAndMetadata committed) {
            this.consumer = consumer;
            this.tp = tp;
            this.committed = committed == null ? Long.MAX_VALUE : committed.offset();
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            this.end = consumer.endOffsets(List.of(tp), Duration.ofSeconds(30)).get(tp);
        }

        ConsumerRecord<byte[], byte[]> next() throws IOException {
            if (done) {
                return null;
            }
            long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
            while (!buffered.hasNext()) {
                if (consumer.position(tp, Duration.ofSeconds(30)) >= end) {
                    return finish();
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("reading " + tp + " made no progress for " + READ_TIMEOUT.toSeconds()
                            + " s (at offset " + consumer.position(tp) + " of " + end + ")");
                }
                buffered = consumer.poll(Duration.ofMillis(200)).records(tp).iterator();
            }
            ConsumerRecord<byte[], byte[]> r = buffered.next();
            if (r.offset() >= end) {
                return finish();
            }
            if (groupPosition < 0 && r.offset() >= committed) {
                groupPosition = count;
                groupKey = r.key();
                groupValue = r.value();
            }
            count++;
            return r;
        }

        private ConsumerRecord<byte[], byte[]> finish() {
            done = true;
            if (groupPosition < 0) {
                groupPosition = count;
            }
            return null;
        }
    }

    private KafkaConsumer<byte[], byte[]> consumer(String role) {
        Properties p = clientProperties(role);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        // a fetch waiting at the end of one partition would hold up the switch to the next
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "20");
        return new KafkaConsumer<>(p);
    }

    private Properties clientProperties(String role) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "backupctl-demo-" + role);
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "50");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        return p;
    }
}
