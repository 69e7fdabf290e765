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
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.ControlRecordType;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
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
 * the previous backup's cut for an incremental) up to exactly its cut, fetching record batches by
 * hand (no consumer group, no commit; {@link KafkaBatchFetcher}). Each partition streams into its own artifact through a
 * bounded buffer; at most {@link KafkaConfig#partitionConcurrency()} are open at once.
 * {@code metadata.json} is written last.
 */
final class KafkaBackup {
    static final String METHOD = "records";
    static final String FORMAT_ID = "kafka-records/2";
    /** Earlier format ids whose cuts and chain counts an incremental can build on (the same metadata). */
    static final Set<String> CHAINABLE_FORMATS = Set.of("kafka-records/1", FORMAT_ID);
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
            // classified by what failed, never by the message's words
            Throwable cause = e.getCause();
            String code = cause instanceof java.net.ConnectException ? "connection-refused"
                    : cause instanceof java.util.concurrent.TimeoutException
                            || cause instanceof org.apache.kafka.common.errors.TimeoutException ? "unreachable"
                    : cause instanceof org.apache.kafka.common.errors.AuthenticationException ? "authentication"
                    : cause instanceof org.apache.kafka.common.errors.AuthorizationException ? "not-authorized"
                    : "kafka-error";
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
            new Reader(tasks, sink, admin, descriptions, isolation).run();

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
            if (!KafkaBackupProvider.ENGINE.equals(m.engine()) || !CHAINABLE_FORMATS.contains(m.metadata().get("format"))) {
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
        final PartitionBatchWriter writer;
        final java.util.concurrent.BlockingQueue<Slice> queue = new java.util.concurrent.LinkedBlockingQueue<>();
        java.util.concurrent.Future<?> future;
        /** Next offset to fetch. */
        long position;
        /** The position when progress was last seen, and when. */
        long progressPosition;
        long lastProgressNanos;
        /** The last retriable error a fetch of this partition met, for the message when it stalls. */
        Errors lastError;
        /** Records queued so far, and where the last one is (or the batch that holds it). */
        long count;
        long lastRecordOffset = -1;
        RecordBatch lastRawBatch;

        Open(Task task, OutputStream out, long now) throws IOException {
            this.task = task;
            this.out = out;
            this.writer = new PartitionBatchWriter(out, task.tp.topic(), task.tp.partition(), task.start, task.cut);
            this.position = task.start;
            this.progressPosition = task.start;
            this.lastProgressNanos = now;
        }

        /** The offset of the last record queued: a raw batch's last offset may name a record compaction removed. */
        long lastOffset() {
            if (lastRawBatch != null) {
                Integer count = lastRawBatch.countOrNull();
                long last = -1;
                if (count != null && lastRawBatch.lastOffset() - lastRawBatch.baseOffset() + 1 == count) {
                    last = lastRawBatch.lastOffset(); // contiguous: the header names the last record
                } else {
                    for (Record r : lastRawBatch) {
                        last = r.offset();
                    }
                }
                lastRecordOffset = Math.max(lastRecordOffset, last);
                lastRawBatch = null;
            }
            return lastRecordOffset;
        }

        void finish() throws IOException {
            writer.finish(task.count, task.lastOffset);
            out.close();
        }
    }

    /** Whole record batches of one partition from one fetch, and the queue budget they hold. */
    private record Slice(ByteBuffer batches, int permits) {
    }

    private static final Slice END = new Slice(ByteBuffer.allocate(0), 0);
    /** Record batches queued between the fetcher and the artifact writers, at most, in KiB. */
    static final int QUEUE_BUDGET_KIB = 64 * 1024;

    /**
     * Reads the planned partitions, a window of them at a time, each up to exactly its cut. The
     * calling thread fetches record batches as the broker stores them ({@link KafkaBatchFetcher}),
     * leaves out control batches and, under read_committed, the batches of aborted transactions
     * (as Kafka's consumer does), rebuilds the rare batch that straddles a partition's start or cut
     * so only records inside are kept, and hands runs of whole batches to that partition's writer
     * thread through a queue bounded in bytes ({@link #QUEUE_BUDGET_KIB}), so fetching goes on while
     * batches are compressed and stored. No record is decoded on the way: that is what makes the
     * backup faster than a consumer loop.
     */
    private final class Reader {
        private final Deque<Task> pending;
        private final ArtifactSink sink;
        private final Admin admin;
        private final Map<TopicPartition, Node> leaders;
        private final Map<String, Uuid> topicIds;
        private final IsolationLevel isolation;
        private final Map<TopicPartition, Open> open = new LinkedHashMap<>();
        private final List<Open> started = new ArrayList<>();
        private final long stallNanos = config.requestTimeout().toNanos();
        private final Semaphore slots = new Semaphore(config.partitionConcurrency());
        private final Semaphore budget = new Semaphore(QUEUE_BUDGET_KIB);
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final ExecutorService writers;
        /** Why the last look-up of partition leaders failed, if it did. */
        private String lastRefreshFailure;

        Reader(List<Task> tasks, ArtifactSink sink, Admin admin, Map<String, TopicDescription> descriptions,
               IsolationLevel isolation) {
            this.pending = new ArrayDeque<>(tasks);
            this.sink = sink;
            this.admin = admin;
            this.isolation = isolation;
            this.leaders = new HashMap<>();
            this.topicIds = new HashMap<>();
            learnLeaders(descriptions);
            AtomicInteger n = new AtomicInteger();
            this.writers = Executors.newFixedThreadPool(config.partitionConcurrency(), r -> {
                Thread t = new Thread(r, "kafka-backup-writer-" + config.name() + "-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }

        private void learnLeaders(Map<String, TopicDescription> descriptions) {
            for (TopicDescription d : descriptions.values()) {
                topicIds.put(d.name(), d.topicId());
                for (TopicPartitionInfo p : d.partitions()) {
                    leaders.put(new TopicPartition(d.name(), p.partition()), p.leader());
                }
            }
        }

        void run() throws IOException {
            boolean ok = false;
            KafkaBatchFetcher fetcher = null;
            try {
                if (pending.stream().anyMatch(t -> t.start < t.cut)) {
                    fetcher = clients.fetcher(isolation);
                }
                loop(fetcher);
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
                if (fetcher != null) {
                    fetcher.close();
                }
            }
        }

        private void loop(KafkaBatchFetcher fetcher) throws IOException {
            while (!pending.isEmpty() || !open.isEmpty()) {
                checkFailure();
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
                    started.add(o);
                    o.future = writers.submit(() -> drain(o));
                }
                if (open.isEmpty()) {
                    continue;
                }
                Map<TopicPartition, Long> positions = new LinkedHashMap<>();
                open.forEach((tp, o) -> positions.put(tp, o.position));
                boolean refresh = false;
                for (KafkaBatchFetcher.PartitionFetch f : fetcher.fetch(positions, leaders, topicIds)) {
                    Open o = open.get(f.partition());
                    if (o == null) {
                        continue;
                    }
                    Errors error = f.error();
                    if (error == Errors.NONE) {
                        accept(o, f);
                    } else if (error == Errors.OFFSET_OUT_OF_RANGE) {
                        retentionOvertook(o);
                    } else if (error.exception() instanceof RetriableException) {
                        refresh = true;
                        o.lastError = error;
                        LOG.debug("backup of {}: {}: {}; retrying", config.name(), o.task.describe(), error);
                    } else {
                        throw new SourceException("reading " + o.task.describe() + " at "
                                + config.bootstrapServers() + " failed: " + error.message(), false);
                    }
                }
                finishDone();
                if (refresh) {
                    java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L);
                    try {
                        learnLeaders(clients.await(admin.describeTopics(open.keySet().stream()
                                .map(TopicPartition::topic).distinct().toList()).allTopicNames(),
                                "finding the partition leaders"));
                        lastRefreshFailure = null;
                    } catch (SourceException e) {
                        lastRefreshFailure = e.getMessage();
                        LOG.debug("backup of {}: finding the partition leaders failed: {}", config.name(),
                                e.getMessage());
                    }
                }
            }
        }

        /** Sorts one partition's fetched batches: stored as they are, rebuilt (straddling), or left out. */
        private void accept(Open o, KafkaBatchFetcher.PartitionFetch f) throws IOException {
            ByteBuffer buffer = f.records().buffer();
            PriorityQueue<FetchResponseData.AbortedTransaction> aborted = null;
            Set<Long> abortedProducers = null;
            if (isolation == IsolationLevel.READ_COMMITTED && !f.abortedTransactions().isEmpty()) {
                aborted = new PriorityQueue<>(Comparator.comparingLong(
                        FetchResponseData.AbortedTransaction::firstOffset));
                aborted.addAll(f.abortedTransactions());
                abortedProducers = new HashSet<>();
            }
            long cut = o.task.cut;
            int at = buffer.position();
            int runStart = -1;
            for (MutableRecordBatch b : f.records().batches()) {
                int size = b.sizeInBytes();
                int batchStart = at;
                at += size;
                if (b.lastOffset() < o.position) {
                    runStart = flush(o, buffer, runStart, batchStart);
                    continue;
                }
                if (b.baseOffset() >= cut) {
                    runStart = flush(o, buffer, runStart, batchStart);
                    o.position = cut;
                    break;
                }
                ensureIntact(o, b);
                boolean keep = !b.isControlBatch();
                if (aborted != null && b.hasProducerId()) {
                    while (!aborted.isEmpty() && aborted.peek().firstOffset() <= b.lastOffset()) {
                        abortedProducers.add(aborted.poll().producerId());
                    }
                    if (b.isControlBatch()) {
                        if (isAbortMarker(b)) {
                            abortedProducers.remove(b.producerId());
                        }
                    } else if (b.isTransactional() && abortedProducers.contains(b.producerId())) {
                        keep = false;
                    }
                }
                Integer count = b.magic() >= RecordBatch.MAGIC_VALUE_V2 ? b.countOrNull() : null;
                boolean whole = keep && count != null && b.baseOffset() >= o.position && b.lastOffset() < cut;
                if (whole && count > 0) {
                    if (runStart < 0) {
                        runStart = batchStart;
                    }
                    o.count += count;
                    o.lastRawBatch = b;
                } else {
                    runStart = flush(o, buffer, runStart, batchStart);
                    if (keep && (count == null || count > 0)) {
                        ByteBuffer rebuilt = rebuild(o, b, o.position, cut);
                        if (rebuilt != null) {
                            queue(o, rebuilt);
                        }
                    }
                }
                o.position = Math.max(o.position, Math.min(b.nextOffset(), cut));
            }
            flush(o, buffer, runStart, at);
        }

        /**
         * Checks the batch's CRC, as a consumer does (Kafka's {@code check.crcs}): a batch damaged
         * in the broker's log would otherwise be stored as it is and refused only at restore time.
         * The backup stops, naming the partition and offsets; no retry, since the broker's copy is
         * what is damaged (TCP and TLS already guard the transfer).
         */
        private void ensureIntact(Open o, MutableRecordBatch b) throws SourceException {
            try {
                b.ensureValid();
            } catch (KafkaException e) {
                throw new SourceException("reading " + o.task.describe() + " at " + config.bootstrapServers()
                        + ": the record batch at offsets " + b.baseOffset() + ".." + b.lastOffset()
                        + " is corrupt in the broker's log (" + e.getMessage() + "); the backup stops rather than"
                        + " store it", false, e);
            }
        }

        /** Queues the run of whole batches in {@code [runStart, end)} of the buffer, if any; returns -1. */
        private int flush(Open o, ByteBuffer buffer, int runStart, int end) throws IOException {
            if (runStart >= 0 && end > runStart) {
                ByteBuffer run = buffer.duplicate();
                run.limit(end).position(runStart);
                queue(o, run.slice());
            }
            return -1;
        }

        private void queue(Open o, ByteBuffer batches) throws IOException {
            int permits = (int) Math.min(QUEUE_BUDGET_KIB, batches.remaining() / 1024 + 1);
            acquire(budget, permits, "the partition writers");
            o.queue.add(new Slice(batches, permits));
        }

        /**
         * The records of {@code b} inside {@code [from, to)} as a new uncompressed magic-2 batch
         * (same offsets, timestamps and timestamp type, keys, values, headers), or null when none
         * is inside. Used for a batch that straddles the start or the cut, and for old-format
         * (magic 0/1) batches.
         */
        private ByteBuffer rebuild(Open o, RecordBatch b, long from, long to) {
            TimestampType type = b.timestampType() == TimestampType.NO_TIMESTAMP_TYPE
                    ? TimestampType.CREATE_TIME : b.timestampType();
            long logAppendTime = type == TimestampType.LOG_APPEND_TIME ? b.maxTimestamp() : RecordBatch.NO_TIMESTAMP;
            MemoryRecordsBuilder builder = null;
            o.lastOffset(); // settles the last offset of an earlier raw batch before this one's records
            for (Record r : b) {
                if (r.offset() < from || r.offset() >= to) {
                    continue;
                }
                if (builder == null) {
                    builder = MemoryRecords.builder(ByteBuffer.allocate(b.sizeInBytes() + 1024),
                            RecordBatch.MAGIC_VALUE_V2, Compression.NONE, type, r.offset(), logAppendTime,
                            RecordBatch.NO_PRODUCER_ID, RecordBatch.NO_PRODUCER_EPOCH, RecordBatch.NO_SEQUENCE,
                            false, RecordBatch.NO_PARTITION_LEADER_EPOCH);
                }
                builder.appendWithOffset(r.offset(), r.timestamp(), r.key(), r.value(), r.headers());
                o.count++;
                o.lastRecordOffset = r.offset();
            }
            return builder == null ? null : builder.build().buffer();
        }

        private boolean isAbortMarker(RecordBatch b) {
            Iterator<Record> it = b.iterator();
            return it.hasNext() && ControlRecordType.ABORT == ControlRecordType.parse(it.next().key());
        }

        /** Runs on a writer thread: writes the partition's batches into its artifact, then finishes it. */
        private void drain(Open o) {
            try {
                while (failure.get() == null) {
                    Slice s = o.queue.take();
                    if (s == END) {
                        o.finish();
                        return;
                    }
                    o.writer.writeBatches(s.batches());
                    budget.release(s.permits());
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

        private void finishDone() {
            long now = System.nanoTime();
            for (Iterator<Open> it = open.values().iterator(); it.hasNext(); ) {
                Open o = it.next();
                if (o.position >= o.task.cut) {
                    o.task.count = o.count;
                    o.task.lastOffset = o.lastOffset();
                    o.queue.add(END);
                    it.remove();
                } else if (o.position > o.progressPosition) {
                    o.progressPosition = o.position;
                    o.lastProgressNanos = now;
                    o.lastError = null;
                } else if (now - o.lastProgressNanos > stallNanos) {
                    failure.compareAndSet(null, new SourceException("reading " + o.task.describe() + " at "
                            + config.bootstrapServers() + " made no progress at offset " + o.position + " for "
                            + KafkaClients.describe(config.requestTimeout()) + " (request-timeout); the cut is "
                            + o.task.cut + stallReason(o), true));
                }
            }
        }

        private String stallReason(Open o) {
            StringBuilder why = new StringBuilder();
            if (o.lastError != null) {
                why.append("; the last fetch failed with ").append(o.lastError.name()).append(": ")
                        .append(o.lastError.message().replaceFirst("\\.$", ""));
            }
            if (lastRefreshFailure != null) {
                why.append("; looking up the partition leaders failed: ").append(lastRefreshFailure);
            }
            return why.toString();
        }

        private void retentionOvertook(Open o) throws IOException {
            TopicPartition tp = o.task.tp;
            long begin = offsets(admin, List.of(tp), OffsetSpec.earliest(), IsolationLevel.READ_UNCOMMITTED,
                    "log start offset").getOrDefault(tp, o.position);
            long from = o.position;
            long to = Math.min(begin, o.task.cut);
            if (to <= from) {
                throw new SourceException("reading " + o.task.describe() + ": offset " + from
                        + " is out of range but the log starts at " + begin, false);
            }
            o.task.lost(from, to);
            LOG.warn("backup of {}: {}: offsets {}..{} were deleted by retention while the backup ran",
                    config.name(), o.task.describe(), from, to);
            o.position = to;
        }
    }
}
