package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.kafka.KafkaMetadata.GroupOffset;
import com.aiplatform.backup.kafka.KafkaMetadata.PartitionMeta;
import com.aiplatform.backup.kafka.KafkaMetadata.TopicMeta;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.RestoreOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

/**
 * Restores one Kafka backup into a cluster. Every check runs before anything is written
 * (target topics empty or absent, partition counts, replication factor, chain position, consumer
 * groups without active members); then missing topics are created with the recorded partition
 * count and configs, every record is appended to its original partition ({@link KafkaBatchProducer}:
 * acks=all, idempotent, compressed and large stored batches as they are; key, value, headers and
 * timestamp as stored; up to
 * {@link KafkaConfig#partitionConcurrency()} partitions at once, each in order), and finally each consumer group's
 * committed offsets are translated to the new log and committed.
 *
 * <p>Options ({@link RestoreOptions#options()}): see {@link KafkaBackupProvider}.
 */
final class KafkaRestore {
    static final String OPT_TARGET = "target-bootstrap-servers";
    static final String OPT_REPLICATION = "replication-factor";
    static final String OPT_ALLOW_NON_EMPTY = "allow-non-empty";
    static final String OPT_GROUPS = "consumer-groups";
    static final String RENAME_PREFIX = "rename.";
    static final Set<String> OPTIONS = Set.of(OPT_TARGET, OPT_REPLICATION, OPT_ALLOW_NON_EMPTY, OPT_GROUPS);
    private static final Logger LOG = LoggerFactory.getLogger(KafkaRestore.class);

    private final KafkaConfig config;
    private final KafkaClients clients;
    private final Optional<Integer> replicationFactor;
    private final boolean allowNonEmpty;
    private final boolean restoreGroups;
    private final Map<String, String> renames;

    KafkaRestore(KafkaConfig config, RestoreOptions options) {
        this.config = config;
        Map<String, String> renames = new TreeMap<>();
        for (var e : options.options().entrySet()) {
            String key = e.getKey();
            if (key.startsWith(RENAME_PREFIX)) {
                String from = key.substring(RENAME_PREFIX.length());
                String to = e.getValue() == null ? "" : e.getValue().trim();
                if (!KafkaConfig.TOPIC_NAME.matcher(to).matches() || to.equals(".") || to.equals("..")) {
                    throw new IllegalArgumentException("option " + key + ": '" + to
                            + "' is not a valid topic name ([a-zA-Z0-9._-], 1-249 characters)");
                }
                renames.put(from, to);
            } else if (!OPTIONS.contains(key)) {
                throw new IllegalArgumentException("unknown Kafka restore option '" + key + "'; allowed: "
                        + String.join(", ", new TreeSet<>(OPTIONS)) + ", rename.<topic>");
            }
        }
        this.renames = Map.copyOf(renames);
        String target = options.option(OPT_TARGET).map(String::trim).orElse(config.bootstrapServers());
        try {
            KafkaConfig.builder(config.name()).bootstrapServers(target).topic("x").build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("option " + OPT_TARGET + ": " + e.getMessage());
        }
        this.clients = new KafkaClients(config, target, "restore");
        this.replicationFactor = options.option(OPT_REPLICATION).map(v -> {
            try {
                int rf = Integer.parseInt(v.trim());
                if (rf < 1 || rf > Short.MAX_VALUE) {
                    throw new NumberFormatException();
                }
                return rf;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("option " + OPT_REPLICATION + " must be a positive whole number, not '"
                        + v + "'");
            }
        });
        this.allowNonEmpty = bool(options, OPT_ALLOW_NON_EMPTY, false) || options.overwrite();
        this.restoreGroups = bool(options, OPT_GROUPS, true);
    }

    private static boolean bool(RestoreOptions options, String key, boolean fallback) {
        return options.option(key).map(v -> {
            if (v.trim().equalsIgnoreCase("true")) {
                return true;
            }
            if (v.trim().equalsIgnoreCase("false")) {
                return false;
            }
            throw new IllegalArgumentException("option " + key + " must be true or false, not '" + v + "'");
        }).orElse(fallback);
    }

    /** Restores one full backup. */
    void run(ArtifactSource source) throws IOException {
        if (source.manifest().kind() != BackupKind.FULL) {
            throw new IllegalArgumentException("backup " + source.manifest().backupId() + " is an incremental on "
                    + source.manifest().parent() + ": restore it through the engine, which applies its whole chain");
        }
        run(List.of(source));
    }

    /** One backup of a chain being restored, with its {@code metadata.json}. */
    private record Link(ArtifactSource source, KafkaMetadata meta) {
        BackupId id() {
            return source.manifest().backupId();
        }

        boolean incremental() {
            return "incremental".equals(meta.kind());
        }

        PartitionMeta partition(String topic, int partition) {
            for (TopicMeta t : meta.topics()) {
                if (t.name().equals(topic)) {
                    for (PartitionMeta p : t.partitions()) {
                        if (p.partition() == partition) {
                            return p;
                        }
                    }
                }
            }
            return null;
        }
    }

    /**
     * Which link's records answer a consumer-group offset of the chain's last backup, and whether
     * it lags behind the first link's data (an incremental applied alone): then it is placed by the
     * gap-free bound.
     */
    private record Placement(int link, boolean lagging) {
    }

    /**
     * Restores a chain of backups in order (see {@link com.aiplatform.backup.spi.RestoreSession#restoreChain}):
     * the full backup first, then each incremental appended to what the links before it restored;
     * or one incremental appended to a target that holds its parent chain already. Every check of
     * every link and of the target runs before anything is written; topics are created as the
     * chain's last backup has them; group offsets are the last backup's, translated exactly
     * through the link whose records answer them.
     */
    void run(List<ArtifactSource> chain) throws IOException {
        List<Link> links = new ArrayList<>();
        for (ArtifactSource s : chain) {
            try (InputStream in = s.open(KafkaMetadata.ARTIFACT)) {
                links.add(new Link(s, KafkaMetadata.read(in)));
            }
        }
        Link last = links.get(links.size() - 1);
        boolean appends = links.get(0).incremental();
        String what = "backup " + last.id() + (links.size() == 1 ? ""
                : " with its chain " + links.stream().map(l -> l.id().value()).toList());
        // the topics as the last backup that holds each has them, in order of first appearance
        Map<String, TopicMeta> topics = new LinkedHashMap<>();
        for (Link l : links) {
            l.meta().topics().forEach(t -> topics.put(t.name(), t));
        }
        Map<String, String> targetOf = new LinkedHashMap<>();
        for (String t : topics.keySet()) {
            targetOf.put(t, renames.getOrDefault(t, t));
        }
        for (String from : renames.keySet()) {
            if (!targetOf.containsKey(from)) {
                throw new IllegalArgumentException("option " + RENAME_PREFIX + from + ": topic '" + from
                        + "' is not in " + what + " (its topics: " + String.join(", ", targetOf.keySet()) + ")");
            }
        }
        if (Set.copyOf(targetOf.values()).size() != targetOf.size()) {
            throw new IllegalArgumentException("options " + RENAME_PREFIX + "* map two topics of " + what
                    + " onto the same target topic: " + targetOf);
        }
        Admin admin = clients.admin();
        try {
            KafkaClients.Cluster cluster = clients.connect(admin);
            Target target = inspect(admin, targetOf);
            List<String> problems = problems(links, topics, targetOf, target, cluster, appends);
            if (restoreGroups) {
                problems.addAll(activeGroups(admin, last.meta()));
            }
            if (!problems.isEmpty()) {
                throw new SourceException("restore of " + what + " into Kafka at " + clients.bootstrapServers()
                        + " refused, nothing was written: " + String.join("; ", problems), false);
            }
            createTopics(admin, topics.values(), targetOf, target);
            Map<GroupOffset, Placement> placements = new HashMap<>();
            List<Map<String, List<Long>>> needed = new ArrayList<>();
            links.forEach(l -> needed.add(new HashMap<>()));
            if (restoreGroups) {
                for (GroupOffset g : last.meta().groups()) {
                    Placement at = place(links, g, appends);
                    if (at != null) {
                        placements.put(g, at);
                        if (!at.lagging()) {
                            needed.get(at.link()).computeIfAbsent(g.topic() + "." + g.partition(),
                                    k -> new ArrayList<>()).add(g.offset());
                        }
                    }
                }
            }
            Map<TopicPartition, Long> ends = new HashMap<>(target.ends());
            List<Map<String, PartitionState>> states = new ArrayList<>();
            long records = 0;
            for (int i = 0; i < links.size(); i++) {
                Link l = links.get(i);
                String step = links.size() == 1 ? "" : " (backup " + l.id() + ", " + (i + 1) + " of "
                        + links.size() + " in the chain of " + last.id() + (i == 0 ? "" : "; the earlier ones "
                        + "are restored") + ")";
                Map<String, PartitionState> linkStates = produce(admin, l.source(), l.meta(), targetOf, ends,
                        target.starts(), needed.get(i), step);
                linkStates.values().forEach(st -> ends.put(st.target, st.newEnd()));
                states.add(linkStates);
                long linkRecords = linkStates.values().stream().mapToLong(st -> st.acked.get()).sum();
                records += linkRecords;
                if (links.size() > 1) {
                    LOG.info("restored backup {} ({} of {} in the chain of {}): {} records", l.id(), i + 1,
                            links.size(), last.id(), linkRecords);
                }
            }
            int committed = restoreGroups ? commitGroups(admin, last.meta(), targetOf, states, placements) : 0;
            LOG.info("restored {} into {}: {} records in {} topics, {} consumer-group offsets", what,
                    clients.bootstrapServers(), records, topics.size(), committed);
        } catch (KafkaException e) {
            throw clients.failure("restore of " + what + " into " + clients.bootstrapServers(), e);
        } finally {
            KafkaClients.closeQuietly(admin);
        }
    }

    /** Where a committed offset of the last link is answered: see {@link Placement}; null when no link has the partition. */
    private static Placement place(List<Link> links, GroupOffset g, boolean appends) {
        int chosen = -1;
        PartitionMeta chosenMeta = null;
        for (int i = links.size() - 1; i >= 0; i--) {
            PartitionMeta p = links.get(i).partition(g.topic(), g.partition());
            if (p == null) {
                continue;
            }
            if (chosenMeta != null && p.cut() != boundary(chosenMeta)) {
                break; // the later link started again (the topic was re-created): older offsets mean other records
            }
            chosen = i;
            chosenMeta = p;
            if (g.offset() >= boundary(p)) {
                break;
            }
        }
        if (chosenMeta == null) {
            return null;
        }
        return new Placement(chosen, chosen == 0 && appends && lagging(true, chosenMeta, g.offset()));
    }

    /** What the target cluster has for the backup's topics. */
    private record Target(Map<String, TopicDescription> existing, Map<TopicPartition, Long> ends,
                          Map<TopicPartition, Long> starts) {
    }

    private Target inspect(Admin admin, Map<String, String> targetOf) throws SourceException {
        Set<String> names = clients.await(admin.listTopics(new ListTopicsOptions().listInternal(true)).names(),
                "listing topics at " + clients.bootstrapServers());
        List<String> present = targetOf.values().stream().filter(names::contains).toList();
        Map<String, TopicDescription> existing = present.isEmpty() ? Map.of()
                : clients.await(admin.describeTopics(present).allTopicNames(), "describing target topics " + present);
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
        existing.forEach((name, d) -> d.partitions().forEach(p -> {
            latest.put(new TopicPartition(name, p.partition()), OffsetSpec.latest());
            earliest.put(new TopicPartition(name, p.partition()), OffsetSpec.earliest());
        }));
        Map<TopicPartition, Long> ends = new HashMap<>();
        Map<TopicPartition, Long> starts = new HashMap<>();
        if (!latest.isEmpty()) {
            ListOffsetsOptions opts = new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> e = clients.await(
                    admin.listOffsets(latest, opts).all(), "reading end offsets of target topics " + present);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> s = clients.await(
                    admin.listOffsets(earliest, opts).all(), "reading start offsets of target topics " + present);
            e.forEach((tp, i) -> ends.put(tp, i.offset()));
            s.forEach((tp, i) -> starts.put(tp, i.offset()));
        }
        return new Target(existing, ends, starts);
    }

    /**
     * Every reason not to start, all at once: links that do not continue each other (an
     * incremental must start where the links before it ended), and a target that cannot take the
     * chain (too few brokers or partitions; topics not empty for a chain that starts with a full
     * backup; partitions not ending where the parent chain left them for an incremental applied alone).
     */
    private List<String> problems(List<Link> links, Map<String, TopicMeta> topics, Map<String, String> targetOf,
                                  Target target, KafkaClients.Cluster cluster, boolean appends) {
        List<String> problems = new ArrayList<>();
        Map<String, Long> chainRecords = new HashMap<>();
        Map<String, Long> firstBefore = new HashMap<>();
        for (int i = 0; i < links.size(); i++) {
            Link l = links.get(i);
            if (i > 0) {
                Link previous = links.get(i - 1);
                if (!l.incremental() || !previous.id().value().equals(l.meta().parent())) {
                    problems.add(KafkaMetadata.ARTIFACT + " of backup " + l.id() + " says it is a " + l.meta().kind()
                            + " backup on " + l.meta().parent() + ", not an incremental on " + previous.id());
                }
            }
            for (TopicMeta t : l.meta().topics()) {
                for (PartitionMeta p : t.partitions()) {
                    String key = t.name() + "-" + p.partition();
                    firstBefore.putIfAbsent(key, p.recordsBefore());
                    long restored = chainRecords.getOrDefault(key, 0L);
                    if (i > 0 && p.recordsBefore() != restored) {
                        problems.add("backup " + l.id() + " says the backups before it hold " + p.recordsBefore()
                                + " records of " + key + " but the links before it in the chain restore " + restored
                                + " there");
                    }
                    chainRecords.put(key, p.recordsBefore() + p.records());
                }
            }
        }
        BackupId first = links.get(0).id();
        for (TopicMeta t : topics.values()) {
            String name = targetOf.get(t.name());
            String label = "target topic '" + name + "'" + (name.equals(t.name()) ? "" : " (from '" + t.name() + "')");
            TopicDescription d = target.existing().get(name);
            if (d == null) {
                int rf = replicationFactor.orElse(t.replicationFactor());
                if (rf > cluster.brokers()) {
                    problems.add(label + " would need replication factor " + rf + " but the target cluster has "
                            + cluster.brokers() + " broker" + (cluster.brokers() == 1 ? "" : "s")
                            + "; set option " + OPT_REPLICATION);
                }
                if (appends) {
                    long before = t.partitions().stream()
                            .mapToLong(p -> firstBefore.getOrDefault(t.name() + "-" + p.partition(), 0L)).sum();
                    if (before > 0) {
                        problems.add(label + " does not exist but the backups before " + first
                                + " in its chain hold " + before + " records for it: restore the chain in order, "
                                + "from the full backup (restore " + first + " without append-chain)");
                    }
                }
                continue;
            }
            if (d.partitions().size() < t.partitionCount()) {
                problems.add(label + " has " + d.partitions().size() + " partitions but the backup has "
                        + t.partitionCount());
                continue;
            }
            if (allowNonEmpty) {
                continue;
            }
            if (appends) {
                for (PartitionMeta p : t.partitions()) {
                    long expected = firstBefore.getOrDefault(t.name() + "-" + p.partition(), 0L);
                    long end = target.ends().getOrDefault(new TopicPartition(name, p.partition()), 0L);
                    if (end != expected) {
                        problems.add(label + " partition " + p.partition() + " ends at offset " + end
                                + " but the backups before " + first + " in its chain restore "
                                + expected + " records there: restore the chain in order, each backup once"
                                + " (or set " + OPT_ALLOW_NON_EMPTY + "=true to append anyway)");
                    }
                }
            } else {
                long records = 0;
                for (var e : target.ends().entrySet()) {
                    if (e.getKey().topic().equals(name)) {
                        records += e.getValue() - target.starts().getOrDefault(e.getKey(), 0L);
                    }
                }
                if (records > 0) {
                    problems.add(label + " is not empty (" + records + " records); restore under another name with "
                            + "option " + RENAME_PREFIX + t.name() + "=NEW_NAME, or set " + OPT_ALLOW_NON_EMPTY
                            + "=true to append");
                }
            }
        }
        return problems;
    }

    private List<String> activeGroups(Admin admin, KafkaMetadata meta) throws SourceException {
        Set<String> ids = new TreeSet<>();
        meta.groups().forEach(g -> ids.add(g.group()));
        List<String> problems = new ArrayList<>();
        if (ids.isEmpty()) {
            return problems;
        }
        Map<String, KafkaFuture<ConsumerGroupDescription>> described = admin.describeConsumerGroups(ids)
                .describedGroups();
        for (String id : ids) {
            try {
                ConsumerGroupDescription d = clients.await(described.get(id),
                        "describing consumer group '" + id + "' in the target");
                if (!d.members().isEmpty()) {
                    problems.add("consumer group '" + id + "' has " + d.members().size()
                            + " active members in the target cluster; stop them, or set " + OPT_GROUPS + "=false");
                }
            } catch (SourceException e) {
                if (!(e.getCause() instanceof GroupIdNotFoundException)) {
                    throw e;
                }
            }
        }
        return problems;
    }

    private void createTopics(Admin admin, java.util.Collection<TopicMeta> topics, Map<String, String> targetOf,
                              Target target) throws SourceException {
        List<NewTopic> create = new ArrayList<>();
        for (TopicMeta t : topics) {
            String name = targetOf.get(t.name());
            if (!target.existing().containsKey(name)) {
                int rf = replicationFactor.orElse(t.replicationFactor());
                create.add(new NewTopic(name, Optional.of(t.partitionCount()), Optional.of((short) rf))
                        .configs(t.configs()));
            }
        }
        if (!create.isEmpty()) {
            List<String> names = create.stream().map(NewTopic::name).toList();
            clients.await(admin.createTopics(create).all(), "creating target topics " + names);
            awaitLeaders(admin, create);
            LOG.info("created topics {} at {}", names, clients.bootstrapServers());
        }
    }

    /**
     * Waits until every partition of the new topics answers an offset request from its leader.
     * Producing into a partition whose leadership has not settled can make the idempotent
     * producer's first batch fail and later ones be appended before it, which the broker then
     * refuses forever (out-of-order sequence); waiting first avoids that.
     */
    private void awaitLeaders(Admin admin, List<NewTopic> created) throws SourceException {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        for (NewTopic t : created) {
            for (int p = 0; p < t.numPartitions(); p++) {
                request.put(new TopicPartition(t.name(), p), OffsetSpec.latest());
            }
        }
        long deadline = System.nanoTime() + config.requestTimeout().toNanos();
        while (true) {
            try {
                admin.listOffsets(request, new ListOffsetsOptions().timeoutMs(2000)).all()
                        .get(5, java.util.concurrent.TimeUnit.SECONDS);
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SourceException("waiting for the leaders of the new target topics was interrupted", true);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw new SourceException("the new target topics at " + clients.bootstrapServers()
                            + " have no leader for every partition after "
                            + KafkaClients.describe(config.requestTimeout()) + " (request-timeout): "
                            + KafkaClients.rootMessage(e), true, e);
                }
                java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L);
            }
        }
    }

    /** One target partition being written. */
    private static final class PartitionState {
        final TopicPartition target;
        final PartitionMeta meta;
        final OffsetTranslation translation;
        final long baseEnd;
        final long baseStart;
        final AtomicLong acked = new AtomicLong();
        final AtomicLong maxOffset = new AtomicLong(-1);
        final AtomicReference<Failure> failure;
        long sent;

        PartitionState(TopicPartition target, PartitionMeta meta, OffsetTranslation translation, long baseEnd,
                       long baseStart, AtomicReference<Failure> failure) {
            this.target = target;
            this.meta = meta;
            this.translation = translation;
            this.baseEnd = baseEnd;
            this.baseStart = baseStart;
            this.failure = failure;
        }

        /** The broker appended {@code records} records of this partition from {@code newBase} on. */
        void appended(long newBase, int records) {
            acked.addAndGet(records);
            maxOffset.accumulateAndGet(newBase + records - 1, Math::max);
        }

        long newEnd() {
            long max = maxOffset.get();
            return max >= 0 ? max + 1 : baseEnd;
        }
    }

    private record Failure(TopicPartition partition, Exception exception) {
    }

    private static long boundary(PartitionMeta p) {
        return p.lost() ? p.lostFrom() : p.start();
    }

    /** True when a group offset lies before this incremental's data: it is placed by the gap-free bound. */
    private static boolean lagging(boolean incremental, PartitionMeta p, long offset) {
        return incremental && p.recordsBefore() > 0 && offset < boundary(p);
    }

    /**
     * Appends one backup's records. {@code ends} and {@code starts} are the target partitions'
     * offsets before it; {@code needed} the committed offsets (by {@code topic.partition}) its records answer.
     */
    private Map<String, PartitionState> produce(Admin admin, ArtifactSource source, KafkaMetadata meta,
                                                Map<String, String> targetOf, Map<TopicPartition, Long> ends,
                                                Map<TopicPartition, Long> starts, Map<String, List<Long>> needed,
                                                String step) throws IOException {
        AtomicReference<Failure> failure = new AtomicReference<>();
        Map<String, PartitionState> states = new LinkedHashMap<>();
        KafkaBatchProducer producer = batchProducer(admin, meta, targetOf);
        int concurrency = config.partitionConcurrency();
        AtomicInteger threadNumber = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(concurrency, r -> {
            Thread t = new Thread(r, "kafka-restore-" + config.name() + "-" + threadNumber.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        Semaphore slots = new Semaphore(concurrency);
        List<Future<?>> running = new ArrayList<>();
        boolean ok = false;
        try {
            outer:
            for (TopicMeta t : meta.topics()) {
                String name = targetOf.get(t.name());
                for (PartitionMeta p : t.partitions()) {
                    String key = t.name() + "." + p.partition();
                    TopicPartition tp = new TopicPartition(name, p.partition());
                    PartitionState state = new PartitionState(tp, p,
                            new OffsetTranslation(needed.getOrDefault(key, List.of())),
                            ends.getOrDefault(tp, 0L), starts.getOrDefault(tp, 0L), failure);
                    states.put(key, state);
                    while (!slots.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                        if (failure.get() != null) {
                            break outer;
                        }
                    }
                    if (failure.get() != null) {
                        slots.release();
                        break outer;
                    }
                    // artifacts are opened on this thread, read on a worker: several partitions are
                    // produced at once, so the producer fills requests with batches of many partitions
                    String artifact = KafkaMetadata.recordsArtifact(t.name(), p.partition());
                    InputStream in = source.open(artifact);
                    int batchLimit = batchLimit(t);
                    running.add(pool.submit(() -> {
                        try {
                            produce(in, artifact, new Batches(producer, state, batchLimit), t.name(), state);
                        } catch (IOException | RuntimeException e) {
                            failure.compareAndSet(null, new Failure(state.target, e));
                        } finally {
                            slots.release();
                        }
                    }));
                }
            }
            for (Future<?> f : running) {
                f.get();
            }
            if (failure.get() == null) {
                producer.flush();
            }
            ok = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure.compareAndSet(null, new Failure(null, new java.io.InterruptedIOException("restore interrupted")));
        } catch (ExecutionException e) {
            failure.compareAndSet(null, new Failure(null, e));
        } catch (IOException | KafkaException e) {
            failure.compareAndSet(null, new Failure(null, e));
        } finally {
            if (ok) {
                pool.shutdown();
            } else {
                pool.shutdownNow();
            }
            producer.close();
        }
        Failure f = failure.get();
        if (f != null) {
            String partial = "Target topics " + new TreeSet<>(targetOf.values())
                    + " are partially restored" + step + "; delete them before restoring again";
            if (f.exception() instanceof IntegrityException ie) {
                throw new IntegrityException(ie.artifact(), ie.getMessage() + ". " + partial, ie);
            }
            String where = f.partition() == null ? "" : " writing partition " + f.partition().partition()
                    + " of topic '" + f.partition().topic() + "'";
            throw new SourceException("restore into " + clients.bootstrapServers() + " failed" + where + ": "
                    + KafkaClients.rootMessage(f.exception()) + ". " + partial, false, f.exception());
        }
        for (PartitionState s : states.values()) {
            if (s.acked.get() != s.sent) {
                throw new SourceException("restore into " + clients.bootstrapServers() + ": partition "
                        + s.target.partition() + " of topic '" + s.target.topic() + "' acknowledged " + s.acked.get()
                        + " of " + s.sent + " records", false);
            }
        }
        return states;
    }

    /** Runs on a worker thread: reads one partition's artifact and sends its batches, in order. */
    private void produce(InputStream in, String artifact, Batches batches, String sourceTopic, PartitionState state)
            throws IOException {
        PartitionMeta p = state.meta;
        try (InputStream stream = in; PartitionRecordReader reader = new PartitionRecordReader(stream, artifact)) {
            if (!reader.topic().equals(sourceTopic) || reader.partition() != p.partition()
                    || reader.start() != p.start() || reader.cut() != p.cut()) {
                throw new IntegrityException(artifact, artifact + " holds " + reader.topic() + "-"
                        + reader.partition() + " [" + reader.start() + ", " + reader.cut() + ") but "
                        + KafkaMetadata.ARTIFACT + " expects " + sourceTopic + "-" + p.partition() + " ["
                        + p.start() + ", " + p.cut() + ")");
            }
            if (reader.batched()) {
                PartitionRecordReader.StoredBatch stored;
                while ((stored = reader.nextBatch()) != null && state.failure.get() == null) {
                    RecordBatch b = stored.batch();
                    if (Batches.sendsAsStored(b)) {
                        batches.sendStored(b, stored.bytes());
                    } else {
                        CompressionType codec = b.compressionType();
                        for (Record r : stored.records()) {
                            batches.add(codec, r.offset(), r.timestamp(), r.key(), r.value(), r.headers());
                        }
                    }
                }
            } else {
                PartitionRecordReader.StoredRecord r;
                while ((r = reader.next()) != null && state.failure.get() == null) {
                    Header[] headers = new Header[r.headerKeys().length];
                    for (int i = 0; i < headers.length; i++) {
                        headers[i] = new RecordHeader(r.headerKeys()[i], r.headerValues()[i]);
                    }
                    batches.add(CompressionType.NONE, r.offset(), r.timestamp(), wrap(r.key()), wrap(r.value()),
                            headers);
                }
            }
            if (state.failure.get() != null) {
                return;
            }
            batches.flush();
            if (reader.count() != p.records()) {
                throw new IntegrityException(artifact, artifact + " holds " + reader.count() + " records but "
                        + KafkaMetadata.ARTIFACT + " says " + p.records());
            }
        }
    }

    private static ByteBuffer wrap(byte[] b) {
        return b == null ? null : ByteBuffer.wrap(b);
    }

    /**
     * The codec, at its fastest level, for records re-batched from a batch stored with it: the
     * level is not recorded in a batch, and a restore is time-bound (zstd 1 instead of Kafka's
     * default 3 cost a quarter less CPU for 5 % more bytes in a microbenchmark; gzip 1 instead of
     * 6; lz4's default is already its fast compressor, and snappy has no levels).
     */
    static Compression rebatchCompression(CompressionType codec) {
        return switch (codec) {
            case ZSTD -> Compression.zstd().level(1).build();
            case GZIP -> Compression.gzip().level(1).build();
            default -> Compression.of(codec).build();
        };
    }

    /** Largest batch built from single records: 1 MiB, or the topic's max.message.bytes when smaller. */
    private static int batchLimit(TopicMeta t) {
        int limit = 1 << 20;
        String configured = t.configs().get("max.message.bytes");
        if (configured != null) {
            try {
                limit = Math.min(limit, Math.max(1024, Integer.parseInt(configured.trim()) - 1024));
            } catch (NumberFormatException ignored) {
                // the broker validated it when the topic was made; keep the default
            }
        }
        return limit;
    }

    /** The batch producer for the target partitions, with their leaders and topic ids. */
    private KafkaBatchProducer batchProducer(Admin admin, KafkaMetadata meta, Map<String, String> targetOf)
            throws SourceException {
        List<String> names = new ArrayList<>(new TreeSet<>(targetOf.values()));
        Map<String, TopicDescription> described = clients.await(admin.describeTopics(names).allTopicNames(),
                "describing target topics " + names);
        Map<TopicPartition, Node> leaders = new LinkedHashMap<>();
        Map<String, Uuid> topicIds = new HashMap<>();
        for (TopicMeta t : meta.topics()) {
            String name = targetOf.get(t.name());
            TopicDescription d = described.get(name);
            topicIds.put(name, d.topicId());
            for (TopicPartitionInfo info : d.partitions()) {
                if (info.partition() >= t.partitionCount()) {
                    continue;
                }
                if (info.leader() == null || info.leader().isEmpty()) {
                    throw new SourceException("restore into " + clients.bootstrapServers() + ": partition "
                            + info.partition() + " of target topic '" + name + "' has no leader; nothing was "
                            + "written", true);
                }
                leaders.put(new TopicPartition(name, info.partition()), info.leader());
            }
        }
        return clients.batchProducer(leaders, topicIds);
    }

    /**
     * Turns one partition's stored batches and records into batches for the producer: a stored
     * batch that the broker accepts as it is (contiguous offsets, CreateTime, no delete horizon)
     * goes whole if it is compressed or holds at least {@value #MIN_STORED_BATCH} bytes; anything
     * else (small uncompressed batches, batches with compaction gaps, LogAppendTime batches,
     * version 1 records) is re-batched into batches of up to the limit, compressed with the codec
     * their stored batch had at its fastest level (so a topic that producers compressed takes
     * about as much room on the target as on the source; records of differently compressed batches
     * go into separate batches). Small compressed batches go whole because compressing them again
     * costs more than their requests: restores of 16 KiB zstd batches took 25-40 % less time sent
     * as stored than re-batched, lz4 about the same. New offsets of tracked group offsets are
     * resolved as the broker acknowledges each batch.
     */
    private static final class Batches {
        static final int MIN_STORED_BATCH = 16 * 1024;
        private final KafkaBatchProducer producer;
        private final PartitionState state;
        private final int limit;
        private final List<long[]> answers = new ArrayList<>();
        private MemoryRecordsBuilder builder;
        private CompressionType builderCodec;
        private int built;

        Batches(KafkaBatchProducer producer, PartitionState state, int limit) {
            this.producer = producer;
            this.state = state;
            this.limit = limit;
        }

        static boolean sendsAsStored(RecordBatch b) {
            Integer count = b.countOrNull();
            return count != null && b.lastOffset() - b.baseOffset() + 1 == count
                    && b.timestampType() == TimestampType.CREATE_TIME && b.deleteHorizonMs().isEmpty()
                    && (b.isCompressed() || b.sizeInBytes() >= MIN_STORED_BATCH);
        }

        void sendStored(RecordBatch b, ByteBuffer bytes) throws IOException {
            flush();
            int records = b.countOrNull();
            long oldBase = b.baseOffset();
            long range = state.translation.matches(b.lastOffset());
            boolean tracked = OffsetTranslation.from(range) != OffsetTranslation.to(range);
            state.sent += records;
            producer.send(state.target, bytes, newBase -> {
                if (tracked) {
                    state.translation.resolveContiguous(range, oldBase, newBase);
                }
                state.appended(newBase, records);
            });
        }

        void add(CompressionType codec, long oldOffset, long timestamp, ByteBuffer key, ByteBuffer value,
                 Header[] headers) throws IOException {
            if (builder != null && (codec != builderCodec || !builder.hasRoomFor(timestamp, key, value, headers))) {
                flush();
            }
            if (builder == null) {
                builder = MemoryRecords.builder(ByteBuffer.allocate(limit), RecordBatch.CURRENT_MAGIC_VALUE,
                        KafkaRestore.rebatchCompression(codec), TimestampType.CREATE_TIME, 0L);
                builderCodec = codec;
            }
            long range = state.translation.matches(oldOffset);
            if (OffsetTranslation.from(range) != OffsetTranslation.to(range)) {
                answers.add(new long[] {range, built});
            }
            builder.append(timestamp < 0 ? RecordBatch.NO_TIMESTAMP : timestamp, key, value, headers);
            built++;
        }

        void flush() throws IOException {
            if (builder == null) {
                return;
            }
            ByteBuffer bytes = builder.build().buffer();
            if (bytes.remaining() < limit / 4) {
                // a few records (the end of a partition, or before a stored batch): do not hold a whole limit for them
                bytes = ByteBuffer.wrap(java.util.Arrays.copyOfRange(bytes.array(),
                        bytes.arrayOffset() + bytes.position(), bytes.arrayOffset() + bytes.limit()));
            }
            int records = built;
            List<long[]> resolved = List.copyOf(answers);
            builder = null;
            built = 0;
            answers.clear();
            state.sent += records;
            producer.send(state.target, bytes, newBase -> {
                for (long[] a : resolved) {
                    state.translation.resolve(a[0], newBase + a[1]);
                }
                state.appended(newBase, records);
            });
        }
    }

    private int commitGroups(Admin admin, KafkaMetadata meta, Map<String, String> targetOf,
                             List<Map<String, PartitionState>> states, Map<GroupOffset, Placement> placements)
            throws SourceException {
        Map<String, Map<TopicPartition, OffsetAndMetadata>> byGroup = new TreeMap<>();
        for (GroupOffset g : meta.groups()) {
            Placement at = placements.get(g);
            PartitionState s = at == null ? null : states.get(at.link()).get(g.topic() + "." + g.partition());
            if (s == null) {
                continue;
            }
            long newOffset = at.lagging()
                    ? Math.max(s.baseStart, s.baseEnd - (boundary(s.meta) - g.offset()))
                    : s.translation.translate(g.offset(), s.newEnd());
            byGroup.computeIfAbsent(g.group(), k -> new LinkedHashMap<>())
                    .put(new TopicPartition(targetOf.get(g.topic()), g.partition()),
                            new OffsetAndMetadata(newOffset, Optional.empty(), g.metadata()));
        }
        int count = 0;
        for (var e : byGroup.entrySet()) {
            clients.await(admin.alterConsumerGroupOffsets(e.getKey(), e.getValue()).all(),
                    "committing the translated offsets of consumer group '" + e.getKey() + "' (all records were "
                            + "restored)");
            count += e.getValue().size();
            LOG.debug("consumer group {}: committed {}", e.getKey(), e.getValue().entrySet().stream()
                    .map(x -> x.getKey() + "=" + x.getValue().offset()).collect(Collectors.joining(", ")));
        }
        return count;
    }
}
