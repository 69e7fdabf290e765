package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.SourceException;
import org.apache.kafka.clients.ApiVersions;
import org.apache.kafka.clients.ClientRequest;
import org.apache.kafka.clients.ClientResponse;
import org.apache.kafka.clients.ClientUtils;
import org.apache.kafka.clients.DefaultHostResolver;
import org.apache.kafka.clients.ManualMetadataUpdater;
import org.apache.kafka.clients.NetworkClient;
import org.apache.kafka.clients.NetworkClientUtils;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.InitProducerIdResponseData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.metrics.Metrics;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.DefaultRecordBatch;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.requests.InitProducerIdRequest;
import org.apache.kafka.common.requests.InitProducerIdResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.utils.ByteUtils;
import org.apache.kafka.common.utils.Crc32C;
import org.apache.kafka.common.utils.LogContext;
import org.apache.kafka.common.utils.Time;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends whole record batches to partition leaders with Kafka's own network client (so the
 * producer's security settings, SASL and TLS included, apply unchanged): the restore's
 * counterpart of {@link KafkaBatchFetcher}. A batch restored as the broker stored it is sent
 * without decoding a record; the producer only stamps its own idempotent producer id, epoch and
 * sequence into the batch header and recomputes the header's CRC-32C. This is what makes the
 * restore faster than a producer loop, which decodes every record and encodes it again.
 *
 * <p>Guarantees: acks=all; an idempotent producer id from the cluster, sequences consecutive per
 * partition, at most {@value #MAX_IN_FLIGHT} requests in flight per connection, each partition
 * always on the same connection (so the broker keeps
 * each partition's batches in order and drops a batch it already appended), and a partition's first
 * batch alone until it is appended (a broker accepts any sequence from a producer it holds no
 * state for, so a later batch could otherwise overtake a first one that failed). Retriable errors (a
 * leader change, not enough in-sync replicas, a lost connection, a timeout) are retried as Kafka's
 * producer does: the partition's later batches are let fail too, the leader is looked up again
 * when it may have moved, and the failed batches go again in order with their sequences, for up
 * to {@value #DELIVERY_TIMEOUTS} request timeouts from a batch's first send. Any other
 * error (the broker refuses the batch), or a batch out of time, stops the producer; the first
 * failure is thrown by {@link #send} and {@link #flush}, and the caller reports the target as
 * partially restored.
 * Memory is bounded: batches given to {@link #send} wait for room within {@value #MEMORY_BYTES}
 * bytes (of the arrays that hold them) not yet acknowledged.
 *
 * <p>Thread use: {@link #send} from any number of threads (each partition from one thread, in
 * order); each connection (a network client with one connection to each broker) is owned by
 * its own sender thread, and the partitions are spread over the connections. Uses kafka-clients' {@code NetworkClient}
 * and request classes, public classes outside Kafka's compatibility guarantee: the version is
 * pinned by the build, and this class and the fetcher are the only places that touch them.
 */
final class KafkaBatchProducer implements AutoCloseable {
    /** Called on a sender thread when the broker appended a batch at {@code baseOffset}. */
    interface Appended {
        void at(long baseOffset);
    }

    private static final Logger LOG = LoggerFactory.getLogger(KafkaBatchProducer.class);
    static final int MAX_IN_FLIGHT = 5;
    static final int MEMORY_BYTES = 64 << 20;
    /** A batch is given up on this many request timeouts after its first send (the producer's delivery timeout). */
    static final int DELIVERY_TIMEOUTS = 3;
    // record batch v2 header layout (Kafka protocol, DefaultRecordBatch)
    private static final int BASE_OFFSET = 0;
    private static final int PARTITION_LEADER_EPOCH = 12;
    private static final int CRC = 17;
    private static final int ATTRIBUTES = 21;
    private static final int PRODUCER_ID = 43;
    private static final int PRODUCER_EPOCH = 51;
    private static final int BASE_SEQUENCE = 53;
    private static final short TRANSACTIONAL_FLAG = 0x10;

    /** One batch on its way: queued, in flight, or waiting to be sent again. */
    static final class Outgoing {
        final ByteBuffer batch;
        final int sequence;
        final int permits;
        final Appended appended;
        long firstSent = -1;

        Outgoing(ByteBuffer batch, int sequence, int permits, Appended appended) {
            this.batch = batch;
            this.sequence = sequence;
            this.permits = permits;
            this.appended = appended;
        }
    }

    /** The queue and counters of one target partition. */
    static final class PartitionLane {
        final TopicPartition partition;
        final Uuid topicId;
        final Connection connection;
        final ConcurrentLinkedQueue<Outgoing> queue = new ConcurrentLinkedQueue<>();
        int nextSequence; // send() side, one thread per partition
        // the connection's sender thread only:
        Node leader;
        int inFlight;
        /** Batches that failed with a retriable error, by sequence: sent again before anything queued. */
        final java.util.PriorityQueue<Outgoing> again = new java.util.PriorityQueue<>(
                java.util.Comparator.comparingInt((Outgoing o) -> o.sequence));
        boolean recovering;
        boolean failing; // since the last failure, no batch of this partition was appended
        boolean leaderStale;
        long retryAt;
        Errors lastError;
        /**
         * Whether the broker appended a batch of this lane yet. Until it has, the lane's first batch
         * travels alone: a broker holding no state for a producer accepts any sequence from it, so a
         * later batch could be appended before a first one that failed and goes again.
         */
        boolean acknowledged;

        PartitionLane(TopicPartition partition, Uuid topicId, Connection connection, Node leader) {
            this.partition = partition;
            this.topicId = topicId;
            this.connection = connection;
            this.leader = leader;
        }

        /** The next batch to send, or null when none may go now (waiting for earlier ones, or nothing queued). */
        Outgoing next(long now) {
            if (inFlight >= MAX_IN_FLIGHT || (inFlight > 0 && !acknowledged)) {
                return null;
            }
            if (recovering) {
                // batches after a failed one fail too (out of order): wait for all, then resend in order
                if (inFlight > 0 || now < retryAt || leaderStale) {
                    return null;
                }
                recovering = false;
            }
            return again.isEmpty() ? queue.peek() : again.peek();
        }

        /** The broker appended one of this lane's batches in flight. */
        void appended() {
            inFlight--;
            failing = false;
            acknowledged = true;
        }

        void taken(Outgoing o) {
            if (!again.isEmpty() && again.peek() == o) {
                again.poll();
            } else {
                queue.poll();
            }
            inFlight++;
        }
    }

    private final Time time = Time.SYSTEM;
    private final int requestTimeoutMs;
    private final long deliveryTimeoutMs;
    private final int retryBackoffMs;
    private final int maxRequestBytes;
    private final String target;
    private final List<Connection> connections = new ArrayList<>();
    private final Map<TopicPartition, PartitionLane> lanes = new LinkedHashMap<>();
    private final Semaphore memory = new Semaphore(MEMORY_BYTES);
    private final AtomicLong unacknowledged = new AtomicLong();
    private final AtomicReference<SourceException> failure = new AtomicReference<>();
    private final Object progress = new Object();
    private volatile boolean closing;
    private long producerId;
    private short producerEpoch;

    /**
     * Connects, obtains an idempotent producer id and starts the sender threads.
     *
     * @param leaders     the leader of every partition that will be written
     * @param topicIds    the id of every topic that will be written
     * @param connections connections per broker, each with its own sender thread: a broker
     *                    handles one request per connection at a time, so more than one lets it
     *                    append (and check) batches of different partitions on several threads
     */
    KafkaBatchProducer(Properties producerProperties, Duration requestTimeout, String target,
                       Map<TopicPartition, Node> leaders, Map<String, Uuid> topicIds, int connections,
                       String threadName) throws SourceException {
        ProducerConfig config = new ProducerConfig(KafkaClients.withCodecs(producerProperties,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG,
                org.apache.kafka.common.serialization.ByteArraySerializer.class));
        this.requestTimeoutMs = (int) Math.min(Integer.MAX_VALUE, requestTimeout.toMillis());
        this.deliveryTimeoutMs = (long) DELIVERY_TIMEOUTS * requestTimeoutMs;
        this.retryBackoffMs = (int) Math.min(1000, config.getLong(ProducerConfig.RETRY_BACKOFF_MS_CONFIG));
        this.maxRequestBytes = config.getInt(ProducerConfig.MAX_REQUEST_SIZE_CONFIG);
        this.target = target;
        boolean started = false;
        try {
            for (int i = 0; i < Math.max(1, connections); i++) {
                this.connections.add(new Connection(config, threadName + "-" + (i + 1)));
            }
            Map<Node, Integer> perLeader = new HashMap<>();
            leaders.forEach((tp, leader) -> {
                int n = perLeader.merge(leader, 1, Integer::sum) - 1;
                Connection c = this.connections.get(n % this.connections.size());
                PartitionLane lane = new PartitionLane(tp, topicIds.getOrDefault(tp.topic(), Uuid.ZERO_UUID), c, leader);
                lanes.put(tp, lane);
                c.lanes.add(lane);
                c.brokers.add(leader);
            });
            if (!lanes.isEmpty()) {
                try {
                    initProducerId(this.connections.get(0).client, leaders.values().iterator().next());
                } catch (SourceException e) {
                    throw new SourceException("restore into " + target + ": " + e.getMessage(), e.isRetriable(), e);
                }
            }
            for (Connection c : this.connections) {
                c.sender.start();
            }
            started = true;
        } finally {
            if (!started) {
                this.connections.forEach(Connection::closeClient);
            }
        }
    }

    /**
     * Stamps this producer's id, epoch and the partition's next sequence into {@code batch} (one
     * record batch of magic 2, offsets 0..n-1 relative, modified in place) and queues it.
     * Blocks while too many bytes are unacknowledged. {@code appended} runs once the broker
     * appended the batch.
     *
     * @throws SourceException when the producer has failed (the first failure)
     */
    void send(TopicPartition partition, ByteBuffer batch, Appended appended) throws IOException {
        PartitionLane lane = lanes.get(partition);
        if (lane == null) {
            throw new IllegalArgumentException("no leader known for " + partition);
        }
        int records = batch.getInt(batch.position() + DefaultRecordBatch.RECORDS_COUNT_OFFSET);
        int sequence = lane.nextSequence;
        stamp(batch, producerId, producerEpoch, sequence);
        lane.nextSequence = DefaultRecordBatch.incrementSequence(sequence, records);
        // count the array held until the broker answers, not only the bytes sent from it
        int permits = Math.min(MEMORY_BYTES, batch.hasArray() ? batch.array().length : batch.remaining());
        try {
            while (!memory.tryAcquire(permits, 100, TimeUnit.MILLISECONDS)) {
                throwIfFailed();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while restoring into " + partition);
        }
        throwIfFailed();
        unacknowledged.incrementAndGet();
        lane.queue.add(new Outgoing(batch, sequence, permits, appended));
        lane.connection.client.wakeup();
    }

    /**
     * Waits until every batch given to {@link #send} is appended; throws the first failure. Each
     * batch has its own delivery timeout on the sender side; this only guards against a sender
     * that stopped acknowledging anything for longer than that.
     */
    void flush() throws IOException {
        long stall = TimeUnit.MILLISECONDS.toNanos(deliveryTimeoutMs + requestTimeoutMs);
        long deadline = System.nanoTime() + stall;
        long left = unacknowledged.get();
        synchronized (progress) {
            while (unacknowledged.get() > 0 && failure.get() == null) {
                if (unacknowledged.get() < left) {
                    left = unacknowledged.get();
                    deadline = System.nanoTime() + stall;
                }
                if (connections.stream().noneMatch(c -> c.sender.isAlive())) {
                    throw new SourceException("the sender stopped with "
                            + unacknowledged.get() + " batches unacknowledged", false);
                }
                try {
                    progress.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting for " + target);
                }
                if (System.nanoTime() > deadline && unacknowledged.get() > 0 && failure.get() == null) {
                    fail(new SourceException("no batch was acknowledged for "
                            + KafkaClients.describe(Duration.ofMillis(deliveryTimeoutMs + requestTimeoutMs)) + "; "
                            + unacknowledged.get() + " batches are left", true));
                }
            }
        }
        throwIfFailed();
    }

    /** Stops the sender threads and closes the connections; batches not yet acknowledged are abandoned. */
    @Override
    public void close() {
        closing = true;
        connections.forEach(c -> c.client.wakeup());
        for (Connection c : connections) {
            try {
                c.sender.join(requestTimeoutMs + 5000L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            c.closeClient();
        }
    }

    /**
     * Writes producer id, epoch and base sequence into the v2 batch that fills {@code batch} from
     * its position to its limit, sets base offset 0 and no leader epoch, clears the transactional
     * flag and recomputes the CRC-32C (which covers attributes to the end).
     */
    static void stamp(ByteBuffer batch, long producerId, short epoch, int baseSequence) {
        int start = batch.position();
        batch.putLong(start + BASE_OFFSET, 0L);
        batch.putInt(start + PARTITION_LEADER_EPOCH, RecordBatch.NO_PARTITION_LEADER_EPOCH);
        batch.putShort(start + ATTRIBUTES, (short) (batch.getShort(start + ATTRIBUTES) & ~TRANSACTIONAL_FLAG));
        batch.putLong(start + PRODUCER_ID, producerId);
        batch.putShort(start + PRODUCER_EPOCH, epoch);
        batch.putInt(start + BASE_SEQUENCE, baseSequence);
        long crc = Crc32C.compute(batch, ATTRIBUTES, batch.remaining() - ATTRIBUTES);
        ByteUtils.writeUnsignedInt(batch, start + CRC, crc);
    }

    private void throwIfFailed() throws SourceException {
        SourceException f = failure.get();
        if (f != null) {
            throw f;
        }
    }

    private void fail(SourceException e) {
        failure.compareAndSet(null, e);
        synchronized (progress) {
            progress.notifyAll();
        }
    }

    private void initProducerId(NetworkClient client, Node node) throws SourceException {
        long deadline = time.milliseconds() + requestTimeoutMs;
        while (true) {
            awaitReady(client, node, deadline);
            InitProducerIdRequest.Builder builder = new InitProducerIdRequest.Builder(new InitProducerIdRequestData()
                    .setTransactionalId(null).setTransactionTimeoutMs(Integer.MAX_VALUE));
            ClientRequest request = client.newClientRequest(node.idString(), builder, time.milliseconds(), true,
                    requestTimeoutMs, null);
            ClientResponse response;
            try {
                response = NetworkClientUtils.sendAndReceive(client, request, time);
            } catch (IOException e) {
                throw new SourceException("asking broker " + node.idString()
                        + " for a producer id failed: " + KafkaClients.rootMessage(e), true, e);
            }
            checkTransport(response, "InitProducerId");
            InitProducerIdResponseData data = ((InitProducerIdResponse) response.responseBody()).data();
            Errors error = Errors.forCode(data.errorCode());
            if (error == Errors.NONE) {
                producerId = data.producerId();
                producerEpoch = data.producerEpoch();
                return;
            }
            if (!(error.exception() instanceof org.apache.kafka.common.errors.RetriableException)
                    || time.milliseconds() > deadline) {
                throw new SourceException("broker " + node.idString()
                        + " refused an idempotent producer id: " + error.name() + " (" + error.message() + ")",
                        false);
            }
            time.sleep(100);
        }
    }

    private void awaitReady(NetworkClient client, Node node, long deadline) throws SourceException {
        try {
            if (!NetworkClientUtils.awaitReady(client, node, time, Math.max(1, deadline - time.milliseconds()))) {
                throw unreachable(node, requestTimeoutMs);
            }
        } catch (org.apache.kafka.common.errors.AuthenticationException e) {
            throw new SourceException("connecting to broker " + node.host() + ":"
                    + node.port() + ": authentication failed: " + KafkaClients.rootMessage(e), false, e);
        } catch (IOException e) {
            throw unreachable(node, requestTimeoutMs);
        }
    }

    private SourceException unreachable(Node node, long withinMs) {
        return new SourceException("broker " + node.idString() + " at " + node.host() + ":" + node.port()
                + " could not be reached within " + KafkaClients.describe(Duration.ofMillis(withinMs)), true);
    }

    private void checkTransport(ClientResponse response, String what) throws SourceException {
        String broker = "broker " + response.destination();
        if (response.authenticationException() != null) {
            throw new SourceException(broker + ": authentication failed: "
                    + KafkaClients.rootMessage(response.authenticationException()), false,
                    response.authenticationException());
        }
        if (response.versionMismatch() != null) {
            throw new SourceException(broker + " does not support the " + what
                    + " request this library sends: " + response.versionMismatch().getMessage(), false,
                    response.versionMismatch());
        }
        if (response.wasTimedOut()) {
            throw new SourceException(broker + " did not answer a " + what
                    + " request within the request timeout ("
                    + KafkaClients.describe(Duration.ofMillis(requestTimeoutMs)) + ")", true);
        }
        if (response.wasDisconnected() || response.responseBody() == null) {
            throw new SourceException("the connection to " + broker
                    + " was lost during a " + what + " request", true);
        }
    }

    /** One connection to each broker, with the sender thread that owns it and the partitions it writes. */
    private final class Connection {
        final Metrics metrics = new Metrics();
        final NetworkClient client;
        final Thread sender;
        final List<PartitionLane> lanes = new ArrayList<>();
        /** {@link #lanes} by their leader; rebuilt when a leader moves. */
        Map<Node, List<PartitionLane>> byLeader;
        final Map<Uuid, String> topicNames = new HashMap<>();
        final java.util.Set<Node> brokers = new java.util.LinkedHashSet<>();
        final Map<Node, Long> unreachableSince = new HashMap<>();

        Connection(ProducerConfig config, String threadName) {
            String clientId = config.getString(ProducerConfig.CLIENT_ID_CONFIG);
            this.client = ClientUtils.createNetworkClient(config, clientId, metrics, "backup-produce",
                    new LogContext("[backup produce " + clientId + "] "), new ApiVersions(), time, MAX_IN_FLIGHT,
                    requestTimeoutMs, new ManualMetadataUpdater(), new DefaultHostResolver());
            this.sender = new Thread(this::run, threadName);
            sender.setDaemon(true);
        }

        void closeClient() {
            try {
                client.close();
            } catch (RuntimeException ignored) {
                // closing after the work is done or failed
            } finally {
                metrics.close();
            }
        }

        void run() {
            try {
                while (failure.get() == null && !closing) {
                    long now = time.milliseconds();
                    refreshLeaders(now);
                    if (byLeader == null) {
                        byLeader = new LinkedHashMap<>();
                        for (PartitionLane lane : lanes) {
                            byLeader.computeIfAbsent(lane.leader, n -> new ArrayList<>()).add(lane);
                            topicNames.put(lane.topicId, lane.partition.topic());
                        }
                    }
                    for (var e : byLeader.entrySet()) {
                        sendTo(e.getKey(), e.getValue(), now);
                    }
                    client.poll(100, time.milliseconds());
                }
            } catch (SourceException e) {
                fail(e);
            } catch (RuntimeException | Error e) {
                fail(new SourceException("sending batches failed: " + KafkaClients.rootMessage(e), false, e));
            } finally {
                synchronized (progress) {
                    progress.notifyAll();
                }
            }
        }

        /** Sends as many Produce requests to {@code node} as it takes: one batch per partition per request. */
        void sendTo(Node node, List<PartitionLane> nodeLanes, long now) throws SourceException {
            while (true) {
                boolean work = false;
                for (PartitionLane lane : nodeLanes) {
                    if (lane.next(now) != null) {
                        work = true;
                        break;
                    }
                }
                if (!work) {
                    unreachableSince.remove(node);
                    return;
                }
                if (!client.ready(node, now)) {
                    if (client.authenticationException(node) != null) {
                        throw new SourceException("broker " + node.idString() + ": authentication failed: "
                                + KafkaClients.rootMessage(client.authenticationException(node)), false);
                    }
                    if (client.inFlightRequestCount(node.idString()) == 0) {
                        long since = unreachableSince.computeIfAbsent(node, n -> now);
                        if (now - since > deliveryTimeoutMs) {
                            throw unreachable(node, deliveryTimeoutMs);
                        }
                        if (now - since > requestTimeoutMs) {
                            // perhaps the leader moved to a broker that can be reached: look it up again
                            for (PartitionLane lane : nodeLanes) {
                                if (!lane.leaderStale && now >= lane.retryAt) {
                                    lane.leaderStale = true;
                                    lane.retryAt = now + retryBackoffMs;
                                }
                            }
                        }
                    }
                    return;
                }
                unreachableSince.remove(node);
                Map<TopicPartition, Outgoing> batches = new LinkedHashMap<>();
                Map<String, ProduceRequestData.TopicProduceData> topics = new LinkedHashMap<>();
                long bytes = 0;
                for (PartitionLane lane : nodeLanes) {
                    Outgoing next = lane.next(now);
                    if (next == null || (!batches.isEmpty() && bytes + next.batch.remaining() > maxRequestBytes)) {
                        continue;
                    }
                    lane.taken(next);
                    if (next.firstSent < 0) {
                        next.firstSent = now;
                    }
                    bytes += next.batch.remaining();
                    TopicPartition tp = lane.partition;
                    batches.put(tp, next);
                    topics.computeIfAbsent(tp.topic(), t -> new ProduceRequestData.TopicProduceData().setName(t)
                                    .setTopicId(lane.topicId).setPartitionData(new ArrayList<>()))
                            .partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(tp.partition())
                                    .setRecords(MemoryRecords.readableRecords(next.batch.duplicate())));
                }
                ProduceRequestData.TopicProduceDataCollection data = new ProduceRequestData.TopicProduceDataCollection();
                topics.values().forEach(data::add);
                ProduceRequest.Builder builder = ProduceRequest.builder(new ProduceRequestData().setAcks((short) -1)
                        .setTimeoutMs(requestTimeoutMs).setTopicData(data));
                ClientRequest request = client.newClientRequest(node.idString(), builder, now, true, requestTimeoutMs,
                        response -> completed(response, batches));
                client.send(request, now);
            }
        }

        /** Runs on the sender thread (inside poll) when a Produce request completed. */
        void completed(ClientResponse response, Map<TopicPartition, Outgoing> batches) {
            try {
                long now = time.milliseconds();
                if (response.authenticationException() != null || response.versionMismatch() != null) {
                    checkTransport(response, "Produce"); // throws: not retriable
                }
                if (response.wasTimedOut() || response.wasDisconnected() || response.responseBody() == null) {
                    Errors error = response.wasTimedOut() ? Errors.REQUEST_TIMED_OUT : Errors.NETWORK_EXCEPTION;
                    for (var e : batches.entrySet()) {
                        retryLater(lanes(e.getKey()), e.getValue(), error, "broker " + response.destination(), now);
                    }
                    return;
                }
                ProduceResponseData data = ((ProduceResponse) response.responseBody()).data();
                Set<TopicPartition> answered = new java.util.HashSet<>();
                for (ProduceResponseData.TopicProduceResponse t : data.responses()) {
                    String topic = t.name() == null || t.name().isEmpty() ? topicNames.get(t.topicId()) : t.name();
                    for (ProduceResponseData.PartitionProduceResponse p : t.partitionResponses()) {
                        TopicPartition tp = new TopicPartition(topic, p.index());
                        Outgoing o = batches.get(tp);
                        if (o == null || !answered.add(tp)) {
                            continue;
                        }
                        PartitionLane lane = lanes(tp);
                        Errors error = Errors.forCode(p.errorCode());
                        if (error == Errors.NONE) {
                            lane.appended();
                            o.appended.at(p.baseOffset());
                            memory.release(o.permits);
                            unacknowledged.decrementAndGet();
                            continue;
                        }
                        String detail = p.errorMessage() != null ? p.errorMessage() : error.message();
                        if (!p.recordErrors().isEmpty() && p.recordErrors().get(0).batchIndexErrorMessage() != null) {
                            detail += "; record " + p.recordErrors().get(0).batchIndex() + ": "
                                    + p.recordErrors().get(0).batchIndexErrorMessage();
                        }
                        // out of order after an earlier failure of the same partition: that one goes first
                        boolean earlierFailed = lane.recovering
                                || (!lane.again.isEmpty() && lane.again.peek().sequence != o.sequence);
                        boolean retriable = error.exception() instanceof org.apache.kafka.common.errors.RetriableException
                                || (error == Errors.OUT_OF_ORDER_SEQUENCE_NUMBER && earlierFailed);
                        if (!retriable) {
                            throw new SourceException("broker " + response.destination() + " refused the batch "
                                    + "of sequence " + o.sequence + " for partition " + tp.partition() + " of topic '"
                                    + tp.topic() + "': " + error.name() + " (" + detail + ")"
                                    + (lane.failing ? "; it had answered " + lane.lastError + " before" : ""), false);
                        }
                        LOG.debug("sequence {} of {}: {} (recovering {}, in flight {})", o.sequence, tp, error,
                                lane.recovering, lane.inFlight);
                        retryLater(lane, o, error, "broker " + response.destination() + " (" + detail + ")", now);
                    }
                }
                if (answered.size() != batches.size()) {
                    throw new SourceException("broker " + response.destination() + " answered " + answered.size()
                            + " of the " + batches.size() + " partitions it was sent", false);
                }
                synchronized (progress) {
                    progress.notifyAll();
                }
            } catch (SourceException e) {
                fail(e);
            } catch (RuntimeException e) {
                fail(new SourceException("handling a Produce response failed: " + KafkaClients.rootMessage(e),
                        false, e));
            }
        }

        private PartitionLane lanes(TopicPartition tp) {
            return KafkaBatchProducer.this.lanes.get(tp);
        }

        /** Puts a failed batch back to be sent again in order, or gives up once it is out of time. */
        private void retryLater(PartitionLane lane, Outgoing o, Errors error, String where, long now)
                throws SourceException {
            lane.inFlight--;
            if (now - o.firstSent > deliveryTimeoutMs) {
                throw new SourceException("partition " + lane.partition.partition() + " of topic '"
                        + lane.partition.topic() + "': " + where + " kept answering " + error.name() + " ("
                        + error.message() + ") for " + KafkaClients.describe(Duration.ofMillis(deliveryTimeoutMs))
                        + " (" + DELIVERY_TIMEOUTS + " request timeouts)", true);
            }
            lane.again.add(o);
            lane.lastError = error;
            if (!lane.failing) {
                LOG.info("partition {} of topic '{}': {} answered {}; sending again in order", lane.partition.partition(),
                        lane.partition.topic(), where, error.name());
            }
            lane.failing = true;
            lane.recovering = true;
            lane.retryAt = now + retryBackoffMs;
            if (error != Errors.OUT_OF_ORDER_SEQUENCE_NUMBER && error != Errors.NOT_ENOUGH_REPLICAS
                    && error != Errors.NOT_ENOUGH_REPLICAS_AFTER_APPEND) {
                lane.leaderStale = true; // a leader change, a lost or slow broker: look the leader up again
            }
        }

        /** Looks up the leaders of partitions whose leader may have moved, once their batches in flight are back. */
        private void refreshLeaders(long now) throws SourceException {
            List<PartitionLane> stale = null; // runs on every turn of the sender loop: nothing allocated when all is well
            for (PartitionLane l : lanes) {
                if (l.leaderStale && l.inFlight == 0) {
                    if (stale == null) {
                        stale = new ArrayList<>();
                    }
                    stale.add(l);
                }
            }
            if (stale == null || now < stale.get(0).retryAt) {
                return;
            }
            List<String> topics = stale.stream().map(l -> l.partition.topic()).distinct().toList();
            for (Node node : new ArrayList<>(brokers)) {
                org.apache.kafka.common.Cluster cluster;
                try {
                    if (!NetworkClientUtils.awaitReady(client, node, time, Math.min(requestTimeoutMs, 5000))) {
                        continue;
                    }
                    ClientResponse r = NetworkClientUtils.sendAndReceive(client, client.newClientRequest(
                            node.idString(), new org.apache.kafka.common.requests.MetadataRequest.Builder(topics, false),
                            time.milliseconds(), true, requestTimeoutMs, null), time);
                    if (!(r.responseBody() instanceof org.apache.kafka.common.requests.MetadataResponse m)) {
                        continue;
                    }
                    cluster = m.buildCluster();
                } catch (IOException | RuntimeException e) {
                    continue; // try the next broker
                }
                for (PartitionLane lane : stale) {
                    Node leader = cluster.leaderFor(lane.partition);
                    if (leader != null) {
                        if (!leader.equals(lane.leader)) {
                            LOG.info("partition {} of topic '{}': leader is now broker {}", lane.partition.partition(),
                                    lane.partition.topic(), leader.idString());
                            byLeader = null; // regroup the lanes by leader
                        }
                        lane.leader = leader;
                        brokers.add(leader);
                        lane.leaderStale = false;
                    }
                }
                cluster.nodes().forEach(brokers::add);
                return;
            }
            // no broker answered: try again after the back-off, within each batch's delivery timeout
            for (PartitionLane lane : stale) {
                lane.retryAt = now + retryBackoffMs;
                Outgoing first = lane.again.peek();
                if (first != null && now - first.firstSent > deliveryTimeoutMs) {
                    throw new SourceException("partition " + lane.partition.partition() + " of topic '"
                            + lane.partition.topic() + "': no broker of " + brokers.size() + " answered a metadata "
                            + "request after " + (lane.lastError == null ? "an error" : lane.lastError.name()), true);
                }
            }
        }
    }
}
