package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.SourceException;
import org.apache.kafka.clients.ApiVersions;
import org.apache.kafka.clients.ClientRequest;
import org.apache.kafka.clients.ClientResponse;
import org.apache.kafka.clients.ClientUtils;
import org.apache.kafka.clients.DefaultHostResolver;
import org.apache.kafka.clients.ManualMetadataUpdater;
import org.apache.kafka.clients.NetworkClient;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.metrics.Metrics;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.Records;
import org.apache.kafka.common.requests.FetchRequest;
import org.apache.kafka.common.requests.FetchResponse;
import org.apache.kafka.common.utils.LogContext;
import org.apache.kafka.common.utils.Time;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * Fetches record batches as the broker stores them, with Kafka's own network client (so the
 * consumer's security settings, SASL and TLS included, apply unchanged), without decoding a
 * record: what a follower replica does. This is what makes the backup faster than a consumer
 * loop: the consumer parses, checks and copies every key, value and header, which the backup
 * would only re-encode. One Fetch request goes to each partition leader per round, all rounds
 * without a fetch session (every request names its partitions), partitions rotated between rounds
 * so a large first batch never starves the others.
 *
 * <p>Uses kafka-clients' {@code NetworkClient} and request classes, which are public classes but
 * not Kafka's compatibility-guaranteed API: the version is pinned by the build and this class is
 * the only place that touches them.
 */
final class KafkaBatchFetcher implements AutoCloseable {
    /** What one partition's part of a Fetch response carried. */
    record PartitionFetch(TopicPartition partition, Errors error, MemoryRecords records,
                          List<FetchResponseData.AbortedTransaction> abortedTransactions) {
    }

    private final NetworkClient client;
    private final Metrics metrics = new Metrics();
    private final Time time = Time.SYSTEM;
    private final IsolationLevel isolation;
    private final int requestTimeoutMs;
    private final int maxWaitMs;
    private final int partitionMaxBytes;
    private final int maxBytes;
    private int rotation;

    KafkaBatchFetcher(Properties consumerProperties, IsolationLevel isolation, Duration requestTimeout) {
        ConsumerConfig config = new ConsumerConfig(KafkaClients.withCodecs(consumerProperties,
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
                org.apache.kafka.common.serialization.ByteArrayDeserializer.class));
        this.isolation = isolation;
        this.requestTimeoutMs = (int) Math.min(Integer.MAX_VALUE, requestTimeout.toMillis());
        this.maxWaitMs = Math.min(500, config.getInt(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG));
        this.partitionMaxBytes = config.getInt(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG);
        this.maxBytes = config.getInt(ConsumerConfig.FETCH_MAX_BYTES_CONFIG);
        String clientId = config.getString(ConsumerConfig.CLIENT_ID_CONFIG);
        this.client = ClientUtils.createNetworkClient(config, clientId, metrics, "backup-fetch",
                new LogContext("[backup fetch " + clientId + "] "), new ApiVersions(), time, 1, requestTimeoutMs,
                new ManualMetadataUpdater(), new DefaultHostResolver());
    }

    /**
     * One round: a Fetch request to the leader of each partition in {@code positions}, at that
     * position. Partitions whose leader could not be reached come back with
     * {@link Errors#NETWORK_EXCEPTION} or {@link Errors#REQUEST_TIMED_OUT}, so the caller can
     * refresh leaders and retry within its own deadline.
     */
    List<PartitionFetch> fetch(Map<TopicPartition, Long> positions, Map<TopicPartition, Node> leaders,
                               Map<String, Uuid> topicIds) throws IOException {
        Map<Node, LinkedHashMap<TopicPartition, FetchRequest.PartitionData>> byLeader = new LinkedHashMap<>();
        List<TopicPartition> order = new ArrayList<>(positions.keySet());
        if (!order.isEmpty()) {
            java.util.Collections.rotate(order, -(rotation++ % order.size()));
        }
        List<PartitionFetch> result = new ArrayList<>();
        for (TopicPartition tp : order) {
            Node leader = leaders.get(tp);
            if (leader == null || leader.isEmpty()) {
                result.add(new PartitionFetch(tp, Errors.LEADER_NOT_AVAILABLE, MemoryRecords.EMPTY, List.of()));
                continue;
            }
            byLeader.computeIfAbsent(leader, n -> new LinkedHashMap<>()).put(tp, new FetchRequest.PartitionData(
                    topicIds.getOrDefault(tp.topic(), Uuid.ZERO_UUID), positions.get(tp), -1L, partitionMaxBytes,
                    Optional.empty()));
        }
        Map<String, LinkedHashMap<TopicPartition, FetchRequest.PartitionData>> pending = new HashMap<>();
        Map<Uuid, String> names = new HashMap<>();
        topicIds.forEach((name, id) -> names.put(id, name));
        long deadline = time.milliseconds() + requestTimeoutMs;
        for (var e : byLeader.entrySet()) {
            Node node = e.getKey();
            if (!awaitReady(node, deadline)) {
                e.getValue().keySet().forEach(tp -> result.add(
                        new PartitionFetch(tp, Errors.NETWORK_EXCEPTION, MemoryRecords.EMPTY, List.of())));
                continue;
            }
            FetchRequest.Builder builder = FetchRequest.Builder.forConsumer(ApiKeys.FETCH.latestVersion(), maxWaitMs,
                    1, e.getValue()).isolationLevel(isolation).setMaxBytes(maxBytes);
            ClientRequest request = client.newClientRequest(node.idString(), builder, time.milliseconds(), true,
                    requestTimeoutMs, null);
            client.send(request, time.milliseconds());
            pending.put(request.destination() + "/" + request.correlationId(), e.getValue());
        }
        while (!pending.isEmpty()) {
            long now = time.milliseconds();
            if (now > deadline + 1000) {
                for (var asked : pending.values()) {
                    asked.keySet().forEach(tp -> result.add(
                            new PartitionFetch(tp, Errors.REQUEST_TIMED_OUT, MemoryRecords.EMPTY, List.of())));
                }
                break;
            }
            for (ClientResponse response : client.poll(Math.max(1, Math.min(200, deadline + 1000 - now)), now)) {
                String key = response.destination() + "/" + response.requestHeader().correlationId();
                LinkedHashMap<TopicPartition, FetchRequest.PartitionData> asked = pending.remove(key);
                if (asked == null) {
                    continue;
                }
                if (response.authenticationException() != null) {
                    throw new SourceException("fetching from " + response.destination() + ": authentication failed: "
                            + KafkaClients.rootMessage(response.authenticationException()), false,
                            response.authenticationException());
                }
                if (response.versionMismatch() != null) {
                    throw new SourceException("broker " + response.destination() + " does not support the Fetch "
                            + "request this library sends: " + response.versionMismatch().getMessage(), false,
                            response.versionMismatch());
                }
                if (response.wasDisconnected() || response.wasTimedOut() || response.responseBody() == null) {
                    Errors error = response.wasTimedOut() ? Errors.REQUEST_TIMED_OUT : Errors.NETWORK_EXCEPTION;
                    asked.keySet().forEach(tp -> result.add(new PartitionFetch(tp, error, MemoryRecords.EMPTY,
                            List.of())));
                    continue;
                }
                FetchResponse body = (FetchResponse) response.responseBody();
                if (body.error() != Errors.NONE) {
                    asked.keySet().forEach(tp -> result.add(new PartitionFetch(tp, body.error(), MemoryRecords.EMPTY,
                            List.of())));
                    continue;
                }
                Map<TopicPartition, FetchResponseData.PartitionData> data = body.responseData(names,
                        response.requestHeader().apiVersion());
                for (TopicPartition tp : asked.keySet()) {
                    FetchResponseData.PartitionData pd = data.get(tp);
                    if (pd == null) {
                        result.add(new PartitionFetch(tp, Errors.UNKNOWN_SERVER_ERROR, MemoryRecords.EMPTY, List.of()));
                        continue;
                    }
                    Errors error = Errors.forCode(pd.errorCode());
                    Records records = error == Errors.NONE ? FetchResponse.recordsOrFail(pd) : MemoryRecords.EMPTY;
                    if (!(records instanceof MemoryRecords memory)) {
                        throw new SourceException("broker " + response.destination() + " answered partition " + tp
                                + " with records of type " + records.getClass().getSimpleName(), false);
                    }
                    List<FetchResponseData.AbortedTransaction> aborted = pd.abortedTransactions() == null
                            ? List.of() : pd.abortedTransactions();
                    result.add(new PartitionFetch(tp, error, memory, aborted));
                }
            }
        }
        return result;
    }

    private boolean awaitReady(Node node, long deadline) throws IOException {
        if (client.isReady(node, time.milliseconds())) {
            return true;
        }
        long wait = Math.max(1, deadline - time.milliseconds());
        try {
            return org.apache.kafka.clients.NetworkClientUtils.awaitReady(client, node, time, wait);
        } catch (org.apache.kafka.common.errors.AuthenticationException e) {
            throw new SourceException("connecting to broker " + node.host() + ":" + node.port()
                    + ": authentication failed: " + KafkaClients.rootMessage(e), false, e);
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        try {
            client.close();
        } catch (RuntimeException ignored) {
            // closing after the work is done or failed
        } finally {
            metrics.close();
        }
    }
}
