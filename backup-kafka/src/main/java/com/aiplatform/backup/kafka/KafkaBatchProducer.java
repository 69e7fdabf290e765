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

/**
 * Appends whole record batches to partition leaders with Kafka's own network client (so the
 * producer's security settings, SASL and TLS included, apply unchanged): the restore's
 * counterpart of {@link KafkaBatchFetcher}. A batch restored as the broker stored it is sent
 * without decoding a record; the producer only stamps its own idempotent producer id, epoch and
 * sequence into the batch header and recomputes the header's CRC-32C. This is what makes the
 * restore faster than a producer loop, which decodes every record and encodes it again.
 *
 * <p>Guarantees: acks=all; an idempotent producer id from the cluster, sequences consecutive per
 * partition, at most {@value #MAX_IN_FLIGHT} requests in flight per broker (so the broker keeps
 * each partition's batches in order and would drop a duplicate). Nothing is retried: the first
 * error (a broker's refusal, a lost connection, a timeout) stops the producer and is thrown by
 * {@link #send} and {@link #flush}; the caller reports the target as partially restored.
 * Memory is bounded: batches given to {@link #send} wait for room within {@value #MEMORY_BYTES}
 * bytes not yet acknowledged.
 *
 * <p>Thread use: {@link #send} from any number of threads (each partition from one thread, in
 * order); one sender thread owns the network client. Uses kafka-clients' {@code NetworkClient}
 * and request classes, public classes outside Kafka's compatibility guarantee: the version is
 * pinned by the build, and this class and the fetcher are the only places that touch them.
 */
final class KafkaBatchProducer implements AutoCloseable {
    /** Called on the sender thread when the broker appended a batch at {@code baseOffset}. */
    interface Appended {
        void at(long baseOffset);
    }

    static final int MAX_IN_FLIGHT = 5;
    static final int MEMORY_BYTES = 64 << 20;
    // record batch v2 header layout (Kafka protocol, DefaultRecordBatch)
    private static final int BASE_OFFSET = 0;
    private static final int PARTITION_LEADER_EPOCH = 12;
    private static final int CRC = 17;
    private static final int ATTRIBUTES = 21;
    private static final int PRODUCER_ID = 43;
    private static final int PRODUCER_EPOCH = 51;
    private static final int BASE_SEQUENCE = 53;
    private static final short TRANSACTIONAL_FLAG = 0x10;

    private record Outgoing(TopicPartition partition, ByteBuffer batch, int permits, Appended appended) {
    }

    /** The queue and counters of one target partition. */
    private static final class PartitionLane {
        final TopicPartition partition;
        final Uuid topicId;
        final Connection connection;
        final ConcurrentLinkedQueue<Outgoing> queue = new ConcurrentLinkedQueue<>();
        int nextSequence; // send() side, one thread per partition
        int inFlight;     // the connection's sender thread only

        PartitionLane(TopicPartition partition, Uuid topicId, Connection connection) {
            this.partition = partition;
            this.topicId = topicId;
            this.connection = connection;
        }
    }

    private final Time time = Time.SYSTEM;
    private final int requestTimeoutMs;
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
        ProducerConfig config = new ProducerConfig(withSerializers(producerProperties));
        this.requestTimeoutMs = (int) Math.min(Integer.MAX_VALUE, requestTimeout.toMillis());
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
                PartitionLane lane = new PartitionLane(tp, topicIds.getOrDefault(tp.topic(), Uuid.ZERO_UUID), c);
                lanes.put(tp, lane);
                c.lanesByLeader.computeIfAbsent(leader, x -> new ArrayList<>()).add(lane);
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

    private static Properties withSerializers(Properties p) {
        Properties copy = new Properties();
        copy.putAll(p);
        copy.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG,
                org.apache.kafka.common.serialization.ByteArraySerializer.class.getName());
        copy.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG,
                org.apache.kafka.common.serialization.ByteArraySerializer.class.getName());
        return copy;
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
        stamp(batch, producerId, producerEpoch, lane.nextSequence);
        lane.nextSequence = DefaultRecordBatch.incrementSequence(lane.nextSequence, records);
        int permits = Math.min(MEMORY_BYTES, batch.remaining());
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
        lane.queue.add(new Outgoing(partition, batch, permits, appended));
        lane.connection.client.wakeup();
    }

    /** Waits until every batch given to {@link #send} is appended; throws the first failure. */
    void flush() throws IOException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(requestTimeoutMs) * 2;
        synchronized (progress) {
            while (unacknowledged.get() > 0 && failure.get() == null) {
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
                    fail(new SourceException("" + unacknowledged.get()
                            + " batches were not acknowledged within twice the request timeout ("
                            + KafkaClients.describe(Duration.ofMillis(requestTimeoutMs)) + ")", true));
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
                throw unreachable(node);
            }
        } catch (org.apache.kafka.common.errors.AuthenticationException e) {
            throw new SourceException("connecting to broker " + node.host() + ":"
                    + node.port() + ": authentication failed: " + KafkaClients.rootMessage(e), false, e);
        } catch (IOException e) {
            throw unreachable(node);
        }
    }

    private SourceException unreachable(Node node) {
        return new SourceException("broker " + node.idString() + " at " + node.host()
                + ":" + node.port() + " could not be reached within the request timeout ("
                + KafkaClients.describe(Duration.ofMillis(requestTimeoutMs)) + ")", true);
    }

    private void checkTransport(ClientResponse response, String what) throws SourceException {
        String broker = "broker " + response.destination();
        if (response.authenticationException() != null) {
            throw new SourceException("" + broker + ": authentication failed: "
                    + KafkaClients.rootMessage(response.authenticationException()), false,
                    response.authenticationException());
        }
        if (response.versionMismatch() != null) {
            throw new SourceException("" + broker + " does not support the " + what
                    + " request this library sends: " + response.versionMismatch().getMessage(), false,
                    response.versionMismatch());
        }
        if (response.wasTimedOut()) {
            throw new SourceException("" + broker + " did not answer a " + what
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
        final Map<Node, List<PartitionLane>> lanesByLeader = new LinkedHashMap<>();
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
                    for (Node node : lanesByLeader.keySet()) {
                        sendTo(node, now);
                    }
                    client.poll(100, time.milliseconds());
                }
            } catch (SourceException e) {
                fail(e);
            } catch (RuntimeException | Error e) {
                fail(new SourceException("sending batches failed: "
                        + KafkaClients.rootMessage(e), false, e));
            } finally {
                synchronized (progress) {
                    progress.notifyAll();
                }
            }
        }

        /** Sends as many Produce requests to {@code node} as it takes: one batch per partition per request. */
        void sendTo(Node node, long now) throws SourceException {
            List<PartitionLane> nodeLanes = lanesByLeader.get(node);
            while (true) {
                boolean work = false;
                for (PartitionLane lane : nodeLanes) {
                    if (!lane.queue.isEmpty() && lane.inFlight < MAX_IN_FLIGHT) {
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
                        throw new SourceException("broker " + node.idString()
                                + ": authentication failed: " + KafkaClients.rootMessage(client.authenticationException(node)),
                                false);
                    }
                    if (client.inFlightRequestCount(node.idString()) == 0) {
                        long since = unreachableSince.computeIfAbsent(node, n -> now);
                        if (now - since > requestTimeoutMs) {
                            throw unreachable(node);
                        }
                    }
                    return;
                }
                unreachableSince.remove(node);
                Map<TopicPartition, Outgoing> batches = new LinkedHashMap<>();
                Map<String, ProduceRequestData.TopicProduceData> topics = new LinkedHashMap<>();
                long bytes = 0;
                for (int i = 0; i < nodeLanes.size(); i++) {
                    PartitionLane lane = nodeLanes.get(i);
                    Outgoing next = lane.inFlight < MAX_IN_FLIGHT ? lane.queue.peek() : null;
                    if (next == null || (!batches.isEmpty() && bytes + next.batch.remaining() > maxRequestBytes)) {
                        continue;
                    }
                    lane.queue.poll();
                    lane.inFlight++;
                    bytes += next.batch.remaining();
                    TopicPartition tp = lane.partition;
                    batches.put(tp, next);
                    topics.computeIfAbsent(tp.topic(), t -> new ProduceRequestData.TopicProduceData().setName(t)
                                    .setTopicId(lane.topicId).setPartitionData(new ArrayList<>()))
                            .partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(tp.partition())
                                    .setRecords(MemoryRecords.readableRecords(next.batch)));
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
                checkTransport(response, "Produce");
                ProduceResponseData data = ((ProduceResponse) response.responseBody()).data();
                Map<Uuid, String> names = new HashMap<>();
                batches.forEach((tp, o) -> names.put(lanes.get(tp).topicId, tp.topic()));
                Set<TopicPartition> answered = new java.util.HashSet<>();
                for (ProduceResponseData.TopicProduceResponse t : data.responses()) {
                    String topic = t.name() == null || t.name().isEmpty() ? names.get(t.topicId()) : t.name();
                    for (ProduceResponseData.PartitionProduceResponse p : t.partitionResponses()) {
                        TopicPartition tp = new TopicPartition(topic, p.index());
                        Outgoing o = batches.get(tp);
                        if (o == null) {
                            continue;
                        }
                        Errors error = Errors.forCode(p.errorCode());
                        if (error != Errors.NONE) {
                            String detail = p.errorMessage() != null ? p.errorMessage() : error.message();
                            if (!p.recordErrors().isEmpty() && p.recordErrors().get(0).batchIndexErrorMessage() != null) {
                                detail += "; record " + p.recordErrors().get(0).batchIndex() + ": "
                                        + p.recordErrors().get(0).batchIndexErrorMessage();
                            }
                            throw new SourceException("broker " + response.destination()
                                    + " refused a batch for partition " + tp.partition() + " of topic '" + tp.topic()
                                    + "': " + error.name() + " (" + detail + ")",
                                    error.exception() instanceof org.apache.kafka.common.errors.RetriableException);
                        }
                        answered.add(tp);
                        lanes.get(tp).inFlight--;
                        o.appended.at(p.baseOffset());
                        memory.release(o.permits);
                        unacknowledged.decrementAndGet();
                    }
                }
                if (answered.size() != batches.size()) {
                    throw new SourceException("broker " + response.destination()
                            + " answered " + answered.size() + " of the " + batches.size() + " partitions it was sent", false);
                }
                synchronized (progress) {
                    progress.notifyAll();
                }
            } catch (SourceException e) {
                fail(e);
            } catch (RuntimeException e) {
                fail(new SourceException("handling a Produce response failed: "
                        + KafkaClients.rootMessage(e), false, e));
            }
        }
    }
}
