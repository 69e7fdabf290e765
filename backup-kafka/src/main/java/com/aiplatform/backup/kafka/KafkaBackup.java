package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.ConsistentPoint;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.kafka.KafkaMetadata.GroupOffset;
import com.aiplatform.backup.kafka.KafkaMetadata.PartitionMeta;
import com.aiplatform.backup.kafka.KafkaMetadata.TopicMeta;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsResult;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsSpec;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.header.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

/**
 * One backup of a Kafka source. In order: connect (within the connect timeout), select the
 * topics, read their descriptions and configs, read the consumer groups' committed offsets, then
 * take the <em>cut</em> (end offsets: last stable offset under read_committed, else high
 * watermark) and the log start offsets, and read every partition from its start (log start, or
 * the previous backup's cut for an incremental) up to exactly its cut, with partitions assigned
 * by hand (no consumer group, no commit). Each partition streams into its own artifact through a
 * bounded buffer; at most {@link KafkaConfig#partitionConcurrency()} are open at once.
 * {@code metadata.json} is written last.
 */
final class KafkaBackup {
    static final String METHOD = "records";
    static final String FORMAT_ID = "kafka-records/1";
    static final String CUT_PREFIX = "cut.";
    static final String CHAIN_PREFIX = "chain-records.";
    static final String LOST_PREFIX = "lost.";
    static final String RESET_PREFIX = "reset.";
    private static final Logger LOG = LoggerFactory.getLogger(KafkaBackup.class);
    private static final int GROUP_BATCH = 50;

    private final KafkaConfig config;
    private final BackupContext context;
    private final KafkaClients clients;

    KafkaBackup(KafkaConfig config, BackupContext context) {
        this.config = config;
        this.context = context;
        this.clients = new KafkaClients(config, config.bootstrapServers(), "backup");
    }

    /** Pre-flight: reachable within the connect timeout, every named topic exists, something is selected. */
    static List<Problem> check(KafkaConfig config) {
        List<Problem> problems = new ArrayList<>();
        KafkaClients clients = new KafkaClients(config, config.bootstrapServers(), "check");
        Admin admin = null;
        try {
            admin = clients.admin();
            clients.connect(admin);
            Set<String> existing = clients.await(admin.listTopics(new ListTopicsOptions().listInternal(true)).names(),
                    "listing topics at " + config.bootstrapServers());
            TopicSelection selection = new TopicSelection(config.topics());
            for (String unknown : selection.unknownNames(existing)) {
                problems.add(new Problem("unknown-topic", "topic '" + unknown + "' does not exist on the Kafka cluster at "
                        + config.bootstrapServers() + " (source " + config.name() + ")"));
            }
            if (problems.isEmpty() && selection.select(existing).isEmpty()) {
                problems.add(new Problem("no-topics", "no topic on the Kafka cluster at " + config.bootstrapServers()
                        + " matches topics [" + selection.describe() + "] (source " + config.name() + ")"));
            }
        } catch (SourceException e) {
            String code = e.getMessage().contains("no answer") ? "unreachable"
                    : e.getMessage().contains("authentication") ? "authentication"
                    : e.getMessage().contains("not authorized") ? "not-authorized" : "kafka-error";
            problems.add(new Problem(code, e.getMessage()));
        } finally {
            KafkaClients.closeQuietly(admin);
        }
        return problems;
    }

    BackupResult run(ArtifactSink sink) throws IOException {
        Admin admin = clients.admin();
        try {
            KafkaClients.Cluster cluster = clients.connect(admin);
            List<String> topics = selectTopics(admin);
            Map<String, TopicDescription> descriptions = clients.await(admin.describeTopics(topics).allTopicNames(),
                    "describing topics " + topics);
            Map<String, Map<String, String>> configs = topicConfigs(admin, topics);
            Previous previous = Previous.of(context);
            List<TopicPartition> partitions = new ArrayList<>();
            for (String t : topics) {
                descriptions.get(t).partitions().forEach(p -> partitions.add(new TopicPartition(t, p.partition())));
            }
            // Group offsets first, the cut second: a committed offset can then never lie beyond the cut.
            List<GroupOffset> groups = captureGroups(admin, Set.copyOf(topics));
            Instant cutTime = Instant.now();
            IsolationLevel isolation = config.isolation() == KafkaConfig.Isolation.READ_COMMITTED
                    ? IsolationLevel.READ_COMMITTED : IsolationLevel.READ_UNCOMMITTED;
            Map<TopicPartition, Long> cut = offsets(admin, partitions, OffsetSpec.latest(), isolation, "end offsets");
            Map<TopicPartition, Long> logStart = offsets(admin, partitions, OffsetSpec.earliest(),
                    IsolationLevel.READ_UNCOMMITTED, "log start offsets");

            Map<String, String> notes = new TreeMap<>();
            List<Task> tasks = new ArrayList<>();
            for (TopicPartition tp : partitions) {
                tasks.add(plan(tp, logStart.get(tp), cut.get(tp), previous, notes));
            }
            new Reader(tasks, sink).run();

            List<TopicMeta> topicMetas = new ArrayList<>();
            for (String t : topics) {
                TopicDescription d = descriptions.get(t);
                List<PartitionMeta> parts = tasks.stream().filter(k -> k.tp.topic().equals(t))
                        .map(Task::meta).toList();
                int replication = d.partitions().isEmpty() ? 1 : d.partitions().get(0).replicas().size();
                topicMetas.add(new TopicMeta(t, d.partitions().size(), replication, configs.getOrDefault(t, Map.of()),
                        parts));
            }
            KafkaMetadata meta = new KafkaMetadata(KafkaMetadata.FORMAT, previous.usable ? "incremental" : "full",
                    previous.usable ? previous.id.value() : null, config.isolation().id(), cluster.id(), cutTime,
                    topicMetas, groups);
            try (OutputStream out = sink.openArtifact(KafkaMetadata.ARTIFACT)) {
                meta.write(out);
            }
            return result(meta, tasks, previous, notes);
        } catch (KafkaException e) {
            throw clients.failure("backup of source '" + config.name() + "'", e);
        } finally {
            KafkaClients.closeQuietly(admin);
        }
    }

    private List<String> selectTopics(Admin admin) throws SourceException {
        Set<String> existing = clients.await(admin.listTopics(new ListTopicsOptions().listInternal(true)).names(),
                "listing topics at " + config.bootstrapServers());
        TopicSelection selection = new TopicSelection(config.topics());
        List<String> unknown = selection.unknownNames(existing);
        if (!unknown.isEmpty()) {
            throw new SourceException("topic" + (unknown.size() > 1 ? "s " : " ") + unknown.stream()
                    .map(t -> "'" + t + "'").collect(Collectors.joining(", ")) + " of source '" + config.name()
                    + "' do" + (unknown.size() > 1 ? "" : "es") + " not exist on the Kafka cluster at "
                    + config.bootstrapServers(), false);
        }
        List<String> topics = selection.select(existing);
        if (topics.isEmpty()) {
            throw new SourceException("no topic on the Kafka cluster at " + config.bootstrapServers()
                    + " matches topics [" + selection.describe() + "] of source '" + config.name() + "'", false);
        }
        return topics;
    }

    private Map<String, Map<String, String>> topicConfigs(Admin admin, List<String> topics) throws SourceException {
        List<ConfigResource> resources = topics.stream()
                .map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).toList();
        Map<ConfigResource, Config> all = clients.await(admin.describeConfigs(resources).all(),
                "describing the configs of topics " + topics);
        Map<String, Map<String, String>> result = new HashMap<>();
        for (var e : all.entrySet()) {
            Map<String, String> set = new TreeMap<>();
            for (ConfigEntry entry : e.getValue().entries()) {
                if (entry.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG && !entry.isSensitive()
                        && entry.value() != null) {
                    set.put(entry.name(), entry.value());
                }
            }
            result.put(e.getKey().name(), set);
        }
        return result;
    }

    private List<GroupOffset> captureGroups(Admin admin, Set<String> topics) throws SourceException {
        List<String> groupIds;
        if (config.allConsumerGroups()) {
            Collection<GroupListing> listings;
            try {
                listings = clients.await(admin.listGroups(ListGroupsOptions.forConsumerGroups()).all(),
                        "listing consumer groups");
            } catch (SourceException e) {
                if (!(e.getCause() instanceof UnsupportedVersionException)) {
                    throw e;
                }
                listings = clients.await(admin.listGroups().all(), "listing consumer groups").stream()
                        .filter(g -> g.protocol() == null || g.protocol().isEmpty() || g.protocol().equals("consumer"))
                        .toList();
            }
            groupIds = listings.stream().map(GroupListing::groupId).sorted().toList();
        } else {
            groupIds = config.consumerGroups();
        }
        List<GroupOffset> result = new ArrayList<>();
        for (int i = 0; i < groupIds.size(); i += GROUP_BATCH) {
            List<String> batch = groupIds.subList(i, Math.min(groupIds.size(), i + GROUP_BATCH));
            Map<String, ListConsumerGroupOffsetsSpec> specs = new LinkedHashMap<>();
            batch.forEach(g -> specs.put(g, new ListConsumerGroupOffsetsSpec()));
            ListConsumerGroupOffsetsResult r = admin.listConsumerGroupOffsets(specs);
            for (String g : batch) {
                Map<TopicPartition, OffsetAndMetadata> offsets = clients.await(r.partitionsToOffsetAndMetadata(g),
                        "reading the committed offsets of consumer group '" + g + "'");
                offsets.entrySet().stream()
                        .filter(e -> e.getValue() != null && topics.contains(e.getKey().topic()))
                        .sorted(Map.Entry.comparingByKey(java.util.Comparator.comparing(TopicPartition::topic)
                                .thenComparing(TopicPartition::partition)))
                        .forEach(e -> result.add(new GroupOffset(g, e.getKey().topic(), e.getKey().partition(),
                                e.getValue().offset(), e.getValue().metadata())));
            }
        }
        return result;
    }

    private Map<TopicPartition, Long> offsets(Admin admin, List<TopicPartition> partitions, OffsetSpec spec,
                                              IsolationLevel isolation, String what) throws SourceException {
        Map<TopicPartition, OffsetSpec> request = new LinkedHashMap<>();
        partitions.forEach(tp -> request.put(tp, spec));
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> info = clients.await(
                admin.listOffsets(request, new ListOffsetsOptions(isolation)).all(),
                "reading the " + what + " of " + partitions.size() + " partitions");
        Map<TopicPartition, Long> result = new HashMap<>();
        info.forEach((tp, i) -> result.put(tp, i.offset()));
        return result;
    }

    private Task plan(TopicPartition tp, long logStart, long cut, Previous previous, Map<String, String> notes) {
        String key = tp.topic() + "." + tp.partition();
        Long prevCut = previous.usable ? previous.cuts.get(key) : null;
        long before = previous.usable ? previous.chainRecords.getOrDefault(key, 0L) : 0L;
        if (prevCut == null) {
            return new Task(tp, logStart, logStart, cut, before, -1, -1);
        }
        if (prevCut > cut) {
            String note = "previous cut " + prevCut + " is beyond the end offset " + cut
                    + ": the topic was re-created or truncated; read again from its log start " + logStart;
            notes.put(RESET_PREFIX + key, note);
            LOG.warn("backup of {}: partition {}: {}", config.name(), tp, note);
            return new Task(tp, logStart, logStart, cut, before, -1, -1);
        }
        if (logStart > prevCut) {
            return new Task(tp, logStart, logStart, cut, before, prevCut, logStart);
        }
        return new Task(tp, logStart, prevCut, cut, before, -1, -1);
    }

    private BackupResult result(KafkaMetadata meta, List<Task> tasks, Previous previous, Map<String, String> notes) {
        Map<String, String> metadata = new TreeMap<>(notes);
        metadata.put("format", FORMAT_ID);
        metadata.put("isolation", config.isolation().id());
        if (meta.clusterId() != null) {
            metadata.put("cluster-id", meta.clusterId());
        }
        metadata.put("topics", meta.topics().stream().map(TopicMeta::name).collect(Collectors.joining(",")));
        metadata.put("consumer-group-offsets", Integer.toString(meta.groups().size()));
        if (previous.fallbackReason != null) {
            metadata.put("incremental-fallback", previous.fallbackReason);
        }
        Map<String, Long> summary = new TreeMap<>();
        List<String> lost = new ArrayList<>();
        StringBuilder position = new StringBuilder();
        String topic = null;
        for (Task t : tasks) {
            String key = t.tp.topic() + "." + t.tp.partition();
            metadata.put(CUT_PREFIX + key, Long.toString(t.cut));
            metadata.put(CHAIN_PREFIX + key, Long.toString(t.recordsBefore + t.count));
            summary.put(t.tp.topic() + "-" + t.tp.partition(), t.count);
            if (t.lostFrom >= 0 && t.lostTo > t.lostFrom) {
                String what = "offsets " + t.lostFrom + ".." + t.lostTo + " (exclusive) were deleted by retention "
                        + "before this backup read them; " + (t.lostTo - t.lostFrom) + " offsets are missing";
                metadata.put(LOST_PREFIX + key, what);
                lost.add(t.tp.topic() + "-" + t.tp.partition());
                LOG.warn("backup of {}: partition {}: {}", config.name(), t.tp, what);
            }
            if (!t.tp.topic().equals(topic)) {
                position.append(topic == null ? "" : "] ").append(t.tp.topic()).append('[');
                topic = t.tp.topic();
            } else {
                position.append(' ');
            }
            position.append(t.tp.partition()).append('=').append(t.cut);
        }
        if (topic != null) {
            position.append(']');
        }
        if (!lost.isEmpty()) {
            metadata.put("data-lost", String.join(",", lost));
        }
        return new BackupResult(previous.usable ? BackupKind.INCREMENTAL : BackupKind.FULL, METHOD,
                new ConsistentPoint(position.toString(), meta.cutTime()), previous.usable ? previous.id : null,
                metadata, summary);
    }

    /** What the previous backup tells an incremental: its cut and chain record counts per partition. */
    static final class Previous {
        final boolean usable;
        final BackupId id;
        final Map<String, Long> cuts = new HashMap<>();
        final Map<String, Long> chainRecords = new HashMap<>();
        final String fallbackReason;

        private Previous(boolean usable, BackupId id, String fallbackReason) {
            this.usable = usable;
            this.id = id;
            this.fallbackReason = fallbackReason;
        }

        static Previous of(BackupContext context) {
            if (!context.incremental()) {
                return new Previous(false, null, null);
            }
            if (context.previous().isEmpty()) {
                return new Previous(false, null, "no previous backup of this source: a full backup was taken");
            }
            Manifest m = context.previous().get();
            if (!KafkaBackupProvider.ENGINE.equals(m.engine()) || !FORMAT_ID.equals(m.metadata().get("format"))) {
                return new Previous(false, null, "previous backup " + m.backupId()
                        + " is not a Kafka record backup: a full backup was taken");
            }
            Previous p = new Previous(true, m.backupId(), null);
            for (var e : m.metadata().entrySet()) {
                try {
                    if (e.getKey().startsWith(CUT_PREFIX)) {
                        p.cuts.put(e.getKey().substring(CUT_PREFIX.length()), Long.parseLong(e.getValue()));
                    } else if (e.getKey().startsWith(CHAIN_PREFIX)) {
                        p.chainRecords.put(e.getKey().substring(CHAIN_PREFIX.length()), Long.parseLong(e.getValue()));
                    }
                } catch (NumberFormatException ex) {
                    throw new IllegalStateException("manifest of backup " + m.backupId() + " has a malformed "
                            + e.getKey() + ": '" + e.getValue() + "'");
                }
            }
            return p;
        }
    }

    /** The plan and outcome of one partition. */
    private static final class Task {
        final TopicPartition tp;
        final long logStart;
        final long start;
        final long cut;
        final long recordsBefore;
        long lostFrom;
        long lostTo;
        long count;
        long lastOffset = -1;

        Task(TopicPartition tp, long logStart, long start, long cut, long recordsBefore, long lostFrom, long lostTo) {
            this.tp = tp;
            this.logStart = logStart;
            this.start = start;
            this.cut = cut;
            this.recordsBefore = recordsBefore;
            this.lostFrom = lostFrom;
            this.lostTo = lostTo;
        }

        void lost(long from, long to) {
            if (lostFrom < 0) {
                lostFrom = from;
                lostTo = to;
            } else {
                lostFrom = Math.min(lostFrom, from);
                lostTo = Math.max(lostTo, to);
            }
        }

        PartitionMeta meta() {
            return new PartitionMeta(tp.partition(), logStart, start, cut, count, lastOffset, recordsBefore,
                    lostFrom, lostTo);
        }

        String describe() {
            return "partition " + tp.partition() + " of topic '" + tp.topic() + "'";
        }
    }

    /** An open partition artifact being filled. */
    private static final class Open {
        final Task task;
        final OutputStream out;
        final PartitionRecordWriter writer;
        final java.util.concurrent.BlockingQueue<Batch> queue = new java.util.concurrent.LinkedBlockingQueue<>();
        java.util.concurrent.Future<?> future;
        long position;
        long lastProgressNanos;
        long lastQueued = -1;
        String[] keys = new String[4];
        byte[][] values = new byte[4][];

        Open(Task task, OutputStream out, long now) throws IOException {
            this.task = task;
            this.out = out;
            this.writer = new PartitionRecordWriter(out, task.tp.topic(), task.tp.partition(), task.start, task.cut);
            this.position = task.start;
            this.lastProgressNanos = now;
        }

        void write(ConsumerRecord<byte[], byte[]> r) throws IOException {
            int n = 0;
            for (Header h : r.headers()) {
                if (n == keys.length) {
                    keys = java.util.Arrays.copyOf(keys, n * 2);
                    values = java.util.Arrays.copyOf(values, n * 2);
                }
                keys[n] = h.key();
                values[n] = h.value();
                n++;
            }
            writer.write(r.offset(), r.timestamp(), r.timestampType().id, r.key(), r.value(), keys, values, n);
            java.util.Arrays.fill(values, 0, n, null);
        }

        void finish() throws IOException {
            writer.finish();
            task.count = writer.count();
            task.lastOffset = writer.lastOffset();
            out.close();
        }
    }

    /** A slice of one partition's records from one poll, and the queue budget it holds. */
    private record Batch(List<ConsumerRecord<byte[], byte[]>> records, int permits) {
    }

    private static final Batch END = new Batch(List.of(), 0);
    /** Records queued between the consumer and the artifact writers, at most, in KiB. */
    static final int QUEUE_BUDGET_KIB = 64 * 1024;

    /**
     * Reads the planned partitions, a window of them at a time, each up to exactly its cut. The
     * calling thread polls the consumer and hands each partition's records to that partition's
     * writer thread through a queue bounded in bytes ({@link #QUEUE_BUDGET_KIB}), so fetching goes
     * on while records are encoded and compressed.
     */
    private final class Reader {
        private final Deque<Task> pending;
        private final ArtifactSink sink;
        private final Map<TopicPartition, Open> open = new LinkedHashMap<>();
        private final List<Open> started = new ArrayList<>();
        private final long stallNanos = config.requestTimeout().toNanos();
        private final Semaphore slots = new Semaphore(config.partitionConcurrency());
        private final Semaphore budget = new Semaphore(QUEUE_BUDGET_KIB);
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final ExecutorService writers;

        Reader(List<Task> tasks, ArtifactSink sink) {
            this.pending = new ArrayDeque<>(tasks);
            this.sink = sink;
            AtomicInteger n = new AtomicInteger();
            this.writers = Executors.newFixedThreadPool(config.partitionConcurrency(), r -> {
                Thread t = new Thread(r, "kafka-backup-writer-" + config.name() + "-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }

        void run() throws IOException {
            boolean ok = false;
            KafkaConsumer<byte[], byte[]> consumer = null;
            try {
                if (pending.stream().anyMatch(t -> t.start < t.cut)) {
                    consumer = clients.consumer();
                }
                loop(consumer);
                for (Open o : started) {
                    await(o);
                }
                ok = true;
            } catch (KafkaException e) {
                throw clients.failure("reading " + open.values().stream().map(o -> o.task.describe())
                        .collect(Collectors.joining(", ")), e);
            } finally {
                if (ok) {
                    writers.shutdown();
                } else {
                    writers.shutdownNow();
                }
                KafkaClients.closeQuietly(consumer);
            }
        }

        private void loop(KafkaConsumer<byte[], byte[]> consumer) throws IOException {
            while (!pending.isEmpty() || !open.isEmpty()) {
                checkFailure();
                List<Open> added = new ArrayList<>();
                while (open.size() < config.partitionConcurrency() && !pending.isEmpty()) {
                    acquire(slots, 1, "a free partition writer");
                    Task t = pending.poll();
                    Open o = new Open(t, sink.openArtifact(KafkaMetadata.recordsArtifact(t.tp.topic(),
                            t.tp.partition())), System.nanoTime());
                    if (t.start >= t.cut) {
                        o.finish();
                        slots.release();
                        continue;
                    }
                    open.put(t.tp, o);
                    added.add(o);
                    started.add(o);
                    o.future = writers.submit(() -> drain(o));
                }
                if (!added.isEmpty()) {
                    consumer.assign(new ArrayList<>(open.keySet()));
                    for (Open o : added) {
                        consumer.seek(o.task.tp, o.task.start);
                    }
                }
                if (open.isEmpty()) {
                    continue;
                }
                ConsumerRecords<byte[], byte[]> records;
                try {
                    records = consumer.poll(Duration.ofMillis(200));
                } catch (OffsetOutOfRangeException e) {
                    retentionOvertook(consumer, e.offsetOutOfRangePartitions());
                    continue;
                }
                for (TopicPartition tp : records.partitions()) {
                    Open o = open.get(tp);
                    if (o == null) {
                        continue;
                    }
                    List<ConsumerRecord<byte[], byte[]>> list = records.records(tp);
                    int n = 0;
                    long bytes = 0;
                    for (ConsumerRecord<byte[], byte[]> r : list) {
                        if (r.offset() >= o.task.cut) {
                            break;
                        }
                        n++;
                        bytes += Math.max(0, r.serializedKeySize()) + Math.max(0, r.serializedValueSize()) + 64L;
                    }
                    if (n > 0) {
                        int permits = (int) Math.min(QUEUE_BUDGET_KIB, bytes / 1024 + 1);
                        acquire(budget, permits, "the partition writers");
                        o.queue.add(new Batch(n == list.size() ? list : list.subList(0, n), permits));
                        o.lastQueued = list.get(n - 1).offset();
                    }
                }
                finishDone(consumer);
            }
        }

        /** Runs on a writer thread: encodes the partition's batches into its artifact, then finishes it. */
        private void drain(Open o) {
            try {
                while (failure.get() == null) {
                    Batch b = o.queue.take();
                    if (b == END) {
                        o.finish();
                        return;
                    }
                    for (ConsumerRecord<byte[], byte[]> r : b.records()) {
                        o.write(r);
                    }
                    budget.release(b.permits());
                }
            } catch (InterruptedException e) {
                failure.compareAndSet(null, new java.io.InterruptedIOException("writing " + o.task.describe()
                        + " was interrupted"));
                Thread.currentThread().interrupt();
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                slots.release();
            }
        }

        private void acquire(Semaphore semaphore, int permits, String what) throws IOException {
            long deadline = System.nanoTime() + stallNanos;
            try {
                while (!semaphore.tryAcquire(permits, 100, TimeUnit.MILLISECONDS)) {
                    checkFailure();
                    if (System.nanoTime() > deadline) {
                        throw new SourceException("backup of source '" + config.name() + "': waited "
                                + KafkaClients.describe(config.requestTimeout()) + " (request-timeout) for " + what,
                                true);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("backup of source '" + config.name() + "' was interrupted");
            }
        }

        private void await(Open o) throws IOException {
            try {
                o.future.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("backup of source '" + config.name() + "' was interrupted");
            } catch (ExecutionException e) {
                failure.compareAndSet(null, e.getCause());
            }
            checkFailure();
        }

        private void checkFailure() throws IOException {
            Throwable t = failure.get();
            if (t == null) {
                return;
            }
            if (t instanceof IOException io) {
                throw io;
            }
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error err) {
                throw err;
            }
            throw new IOException(t);
        }

        private void finishDone(KafkaConsumer<byte[], byte[]> consumer) {
            long now = System.nanoTime();
            boolean removed = false;
            for (Iterator<Open> it = open.values().iterator(); it.hasNext(); ) {
                Open o = it.next();
                long pos = consumer.position(o.task.tp);
                if (pos >= o.task.cut || o.lastQueued >= o.task.cut - 1) {
                    o.queue.add(END);
                    it.remove();
                    removed = true;
                } else if (pos > o.position) {
                    o.position = pos;
                    o.lastProgressNanos = now;
                } else if (now - o.lastProgressNanos > stallNanos) {
                    failure.compareAndSet(null, new SourceException("reading " + o.task.describe() + " at "
                            + config.bootstrapServers() + " made no progress at offset " + pos + " for "
                            + KafkaClients.describe(config.requestTimeout()) + " (request-timeout); the cut is "
                            + o.task.cut, true));
                }
            }
            if (removed && pending.isEmpty() && !open.isEmpty()) {
                consumer.assign(new ArrayList<>(open.keySet()));
            }
        }

        private void retentionOvertook(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> outOfRange)
                throws IOException {
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(outOfRange.keySet());
            for (var e : outOfRange.entrySet()) {
                Open o = open.get(e.getKey());
                if (o == null) {
                    continue;
                }
                long from = e.getValue();
                long to = Math.min(begin.getOrDefault(e.getKey(), from), o.task.cut);
                if (to <= from) {
                    throw new SourceException("reading " + o.task.describe() + ": offset " + from
                            + " is out of range but the log starts at " + to, false);
                }
                o.task.lost(from, to);
                LOG.warn("backup of {}: {}: offsets {}..{} were deleted by retention while the backup ran",
                        config.name(), o.task.describe(), from, to);
                consumer.seek(e.getKey(), to);
                o.position = to;
            }
        }
    }
}
