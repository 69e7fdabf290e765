package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.api.SourceException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Creates the Kafka clients of one source (or restore target) with the configured timeouts and
 * security properties, and turns Kafka's failures into {@link SourceException}s whose messages
 * name the cluster and what was being done, never a secret.
 */
final class KafkaClients {
    private final KafkaConfig config;
    private final String bootstrapServers;
    private final String clientIdPrefix;

    KafkaClients(KafkaConfig config, String bootstrapServers, String role) {
        this.config = config;
        this.bootstrapServers = bootstrapServers;
        this.clientIdPrefix = "backup-" + role + "-" + config.name();
    }

    String bootstrapServers() {
        return bootstrapServers;
    }

    KafkaConfig config() {
        return config;
    }

    private Properties common(String suffix) throws SourceException {
        Properties p = new Properties();
        p.putAll(config.clientProperties());
        for (var e : config.secretProperties().entrySet()) {
            Secret secret = e.getValue();
            String value = secret.reveal();
            if (value == null) {
                throw new SourceException("secret for Kafka property " + e.getKey() + " is missing: "
                        + secret.origin() + " is not set", false);
            }
            p.put(e.getKey(), value);
        }
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, clientIdPrefix + "-" + suffix);
        int request = (int) Math.min(Integer.MAX_VALUE, config.requestTimeout().toMillis());
        p.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Integer.toString(request));
        p.putIfAbsent(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MS_CONFIG,
                Long.toString(Math.min(10_000, config.connectTimeout().toMillis())));
        p.putIfAbsent(AdminClientConfig.SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS_CONFIG,
                Long.toString(Math.max(10_000, config.connectTimeout().toMillis())));
        p.putIfAbsent(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        return p;
    }

    /** An admin client; construction failures (unresolvable host, bad property) are reported clearly. */
    Admin admin() throws SourceException {
        Properties p = common("admin");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
                Integer.toString((int) Math.min(Integer.MAX_VALUE, config.requestTimeout().toMillis())));
        return create("admin client", () -> Admin.create(p));
    }

    /**
     * A consumer with the settings the backup fetches with, never joining a group nor committing
     * (the backup itself fetches raw batches, {@link #fetcher}; the benchmark's consumer loop uses this).
     */
    KafkaConsumer<byte[], byte[]> consumer() throws SourceException {
        Properties p = consumerProperties();
        return create("consumer", () -> new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer()));
    }

    /** A raw record-batch fetcher with the consumer's settings (security, fetch sizes, timeouts). */
    KafkaBatchFetcher fetcher(IsolationLevel isolation) throws SourceException {
        Properties p = consumerProperties();
        return create("fetch client", () -> new KafkaBatchFetcher(p, isolation, config.requestTimeout()));
    }

    private Properties consumerProperties() throws SourceException {
        Properties p = common("reader");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, config.isolation().id());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
                Integer.toString((int) Math.min(Integer.MAX_VALUE, config.requestTimeout().toMillis())));
        p.putIfAbsent(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(8 << 20));
        p.putIfAbsent(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(64 << 20));
        p.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10000");
        p.putIfAbsent(ConsumerConfig.RECEIVE_BUFFER_CONFIG, Integer.toString(1 << 20));
        p.putIfAbsent(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, "1");
        return p;
    }

    /**
     * Connections per broker of the restore's writer: a broker works on one request per
     * connection at a time, so two let it append batches of different partitions on two threads.
     */
    static final int RESTORE_CONNECTIONS_PER_BROKER = 2;

    /**
     * The restore's writer: whole batches to the given partition leaders, with an idempotent
     * producer id, acks=all, and the producer settings of this source (SASL/TLS included).
     */
    KafkaBatchProducer batchProducer(Map<TopicPartition, Node> leaders, Map<String, Uuid> topicIds)
            throws SourceException {
        Properties p = common("writer");
        p.putIfAbsent(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(64 << 20));
        p.putIfAbsent(ProducerConfig.SEND_BUFFER_CONFIG, Integer.toString(1 << 20));
        return create("producer", () -> new KafkaBatchProducer(p, config.requestTimeout(), bootstrapServers, leaders,
                topicIds, RESTORE_CONNECTIONS_PER_BROKER, "kafka-restore-" + config.name() + "-sender"));
    }

    /** Constructs one client. */
    private interface ClientFactory<T> {
        T create() throws SourceException;
    }

    /** Builds a client; a construction failure (unresolvable host, bad property) names the client and the cluster. */
    private <T> T create(String what, ClientFactory<T> factory) throws SourceException {
        try {
            return factory.create();
        } catch (KafkaException e) {
            throw new SourceException("cannot create a Kafka " + what + " for " + bootstrapServers + ": "
                    + rootMessage(e), false, e);
        }
    }

    /**
     * The first request: the cluster id and its brokers within the connect timeout. An unreachable
     * cluster fails here with a message naming the servers: at once when every bootstrap address
     * refuses the connection (nothing listens there, {@link KafkaBootstrapProbe}), after the
     * connect timeout when the peer stays silent.
     */
    Cluster connect(Admin admin) throws SourceException {
        Duration timeout = config.connectTimeout();
        String what = "connecting to Kafka at " + bootstrapServers;
        try (KafkaBootstrapProbe probe = KafkaBootstrapProbe.start(bootstrapServers, timeout)) {
            DescribeClusterResult r = admin.describeCluster(new DescribeClusterOptions()
                    .timeoutMs((int) Math.min(Integer.MAX_VALUE, timeout.toMillis())));
            String clusterId = await(r.clusterId(), timeout.plusSeconds(2), what, "connect-timeout", probe);
            Collection<Node> nodes = await(r.nodes(), timeout.plusSeconds(2), what, "connect-timeout", probe);
            return new Cluster(clusterId, nodes.size());
        }
    }

    /** What {@link #connect} found. */
    record Cluster(String id, int brokers) {
    }

    /** Waits for an admin result within the request timeout. */
    <T> T await(KafkaFuture<T> future, String what) throws SourceException {
        return await(future, config.requestTimeout().plusSeconds(2), what, "request-timeout", null);
    }

    private <T> T await(KafkaFuture<T> future, Duration timeout, String what, String timeoutField,
                        KafkaBootstrapProbe probe) throws SourceException {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                long left = deadline - System.nanoTime();
                try {
                    return future.get(probe == null ? Math.max(0, left) : Math.max(0, Math.min(left, 50_000_000L)),
                            TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    java.net.ConnectException refused = probe == null ? null : probe.refused();
                    if (refused != null) {
                        future.cancel(true);
                        throw new SourceException(what + ": " + refused.getMessage() + " (nothing listens there: is "
                                + "the broker running, and are the bootstrap servers right?)", true, refused);
                    }
                    if (System.nanoTime() - deadline >= 0) {
                        throw e;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            SourceException s = new SourceException(what + " was interrupted", true);
            s.initCause(new InterruptedIOException());
            throw s;
        } catch (TimeoutException e) {
            throw timeout(what, timeoutField, e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            if (cause instanceof org.apache.kafka.common.errors.TimeoutException) {
                throw timeout(what, timeoutField, cause);
            }
            throw failure(what, cause);
        }
    }

    private SourceException timeout(String what, String field, Throwable cause) {
        Duration limit = field.equals("connect-timeout") ? config.connectTimeout() : config.requestTimeout();
        return new SourceException(what + ": no answer from " + bootstrapServers + " within "
                + describe(limit) + " (" + field + "); is the cluster reachable?", true, cause);
    }

    /** A Kafka failure while doing {@code what}, as a SourceException. */
    SourceException failure(String what, Throwable cause) {
        boolean retriable = cause instanceof RetriableException;
        String kind = cause instanceof AuthenticationException ? "authentication failed"
                : cause instanceof AuthorizationException ? "not authorized" : "failed";
        return new SourceException(what + " " + kind + ": " + rootMessage(cause), retriable, cause);
    }

    static String rootMessage(Throwable t) {
        Throwable c = t;
        String message = t.getMessage();
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
            if (c.getMessage() != null) {
                message = c.getMessage();
            }
        }
        return message == null ? t.getClass().getSimpleName() : message;
    }

    static String describe(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 == 0) {
            return (ms / 1000) + " s";
        }
        return ms + " ms";
    }

    static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    /**
     * A copy of {@code p} naming {@code codec} under both properties: the clients that send raw
     * requests need a valid client configuration, though they never (de)serialize a record.
     */
    static Properties withCodecs(Properties p, String keyProperty, String valueProperty, Class<?> codec) {
        Properties copy = new Properties();
        copy.putAll(p);
        copy.put(keyProperty, codec.getName());
        copy.put(valueProperty, codec.getName());
        return copy;
    }

    /** Closes quietly within a short bound, so a dead cluster never makes close hang. */
    static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            if (c instanceof Admin a) {
                a.close(Duration.ofSeconds(2));
            } else if (c instanceof KafkaConsumer<?, ?> k) {
                k.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(2)));
            } else {
                c.close();
            }
        } catch (Exception ignored) {
            // closing after a failure; the failure is what matters
        }
    }
}
