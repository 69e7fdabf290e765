package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.spi.SourceConfig;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A Kafka source: which cluster, which topics and consumer groups, and how to talk to it.
 * Build with {@link #builder(String)}; every field is validated on construction and
 * {@link #toString()} never shows a secret.
 *
 * <pre>{@code
 * KafkaConfig events = KafkaConfig.builder("events")
 *         .bootstrapServers("10.0.0.5:9092")
 *         .topics(List.of("data-ingestion", "audit-.*"))
 *         .clientProperty("security.protocol", "SASL_SSL")
 *         .secretProperty("sasl.jaas.config", Secret.fromEnvironment("KAFKA_JAAS"))
 *         .build();
 * }</pre>
 *
 * @param name                 source name (its folder on every storage target)
 * @param bootstrapServers     {@code host:port[,host:port...]} of the cluster
 * @param topics               topic names or regular expressions: an entry made only of topic-name
 *                             characters ({@code [a-zA-Z0-9._-]}) is a name that must exist; anything
 *                             else is a regular expression matched against whole names (internal
 *                             topics starting with {@code __} never match an expression)
 * @param allConsumerGroups    true (the default): back up the committed offsets of every consumer
 *                             group on the selected topics; false: only {@code consumerGroups}
 * @param consumerGroups       the groups to back up when {@code allConsumerGroups} is false (may be empty)
 * @param isolation            read committed data only (default; aborted transactions left out, the cut
 *                             is the last stable offset) or everything up to the high watermark
 * @param connectTimeout       how long the cluster may take to answer the first request (default 15 s);
 *                             an unreachable cluster fails after this long
 * @param requestTimeout       limit on any later request, and on a partition read that makes no
 *                             progress (default 60 s)
 * @param partitionConcurrency how many partitions are read (backup) or written (restore) at once, each
 *                             an open artifact with a thread of its own (default 4)
 * @param clientProperties     extra Kafka client properties for every client this source opens
 *                             ({@code security.protocol}, {@code sasl.mechanism}, {@code ssl.truststore.location},
 *                             fetch tuning); no secrets here
 * @param secretProperties     Kafka client properties whose values are secrets ({@code sasl.jaas.config},
 *                             {@code ssl.keystore.password}); revealed only when a client is created
 */
public record KafkaConfig(String name, String bootstrapServers, List<String> topics, boolean allConsumerGroups,
                          List<String> consumerGroups, Isolation isolation, Duration connectTimeout,
                          Duration requestTimeout, int partitionConcurrency, Map<String, String> clientProperties,
                          Map<String, Secret> secretProperties) implements SourceConfig {

    /** Default of {@link #connectTimeout()}. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(15);
    /** Default of {@link #requestTimeout()}. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(60);
    /** Default of {@link #partitionConcurrency()}. */
    public static final int DEFAULT_PARTITION_CONCURRENCY = 4;

    static final Pattern TOPIC_NAME = Pattern.compile("[a-zA-Z0-9._-]{1,249}");
    private static final Pattern HOST_PORT = Pattern.compile("\\[?[A-Za-z0-9._:-]+]?:\\d{1,5}");
    /** Properties the provider sets itself; a client property may not override them. */
    static final Set<String> RESERVED_PROPERTIES = Set.of("bootstrap.servers", "key.deserializer",
            "value.deserializer", "key.serializer", "value.serializer", "enable.auto.commit", "isolation.level",
            "group.id", "group.instance.id", "auto.offset.reset", "enable.idempotence", "acks",
            "transactional.id");
    private static final Pattern SECRET_LOOKING = Pattern.compile(
            "(?i).*(password|jaas|secret|token|credential|user\\.info|keystore\\.key).*");

    /** Which records a backup reads. */
    public enum Isolation {
        /** Committed records only; aborted transactions are left out and the cut is the last stable offset. */
        READ_COMMITTED,
        /** Every record up to the high watermark, including those of open or aborted transactions. */
        READ_UNCOMMITTED;

        /** The configuration and Kafka name: {@code read_committed} or {@code read_uncommitted}. */
        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Parses {@code read_committed} or {@code read_uncommitted}; the error names the allowed values. */
        public static Isolation fromId(String id) {
            for (Isolation i : values()) {
                if (i.id().equalsIgnoreCase(id == null ? "" : id.trim().replace('-', '_'))) {
                    return i;
                }
            }
            throw new IllegalArgumentException("isolation '" + id + "' is not one of read_committed, read_uncommitted");
        }
    }

    public KafkaConfig {
        Objects.requireNonNull(name, "name");
        if (bootstrapServers == null || bootstrapServers.isBlank()) {
            throw new IllegalArgumentException("bootstrap-servers is required (host:port[,host:port...])");
        }
        bootstrapServers = bootstrapServers.trim();
        for (String server : bootstrapServers.split(",")) {
            if (!HOST_PORT.matcher(server.trim()).matches()) {
                throw new IllegalArgumentException("bootstrap-servers entry '" + server.trim()
                        + "' is not host:port");
            }
        }
        topics = List.copyOf(topics == null ? List.of() : topics);
        if (topics.isEmpty()) {
            throw new IllegalArgumentException("topics must name at least one topic or regular expression");
        }
        for (String t : topics) {
            if (t == null || t.isBlank()) {
                throw new IllegalArgumentException("topics must not contain an empty entry");
            }
            if (!TOPIC_NAME.matcher(t).matches()) {
                try {
                    Pattern.compile(t);
                } catch (PatternSyntaxException e) {
                    throw new IllegalArgumentException("topics entry '" + t + "' is neither a topic name nor a valid "
                            + "regular expression: " + e.getDescription());
                }
            }
        }
        consumerGroups = List.copyOf(consumerGroups == null ? List.of() : consumerGroups);
        for (String g : consumerGroups) {
            if (g == null || g.isEmpty()) {
                throw new IllegalArgumentException("consumer-groups must not contain an empty group id");
            }
        }
        isolation = isolation == null ? Isolation.READ_COMMITTED : isolation;
        connectTimeout = positive("connect-timeout", connectTimeout, DEFAULT_CONNECT_TIMEOUT);
        requestTimeout = positive("request-timeout", requestTimeout, DEFAULT_REQUEST_TIMEOUT);
        if (partitionConcurrency < 1 || partitionConcurrency > 256) {
            throw new IllegalArgumentException("partition-concurrency must be between 1 and 256, not "
                    + partitionConcurrency);
        }
        clientProperties = Map.copyOf(new TreeMap<>(clientProperties == null ? Map.of() : clientProperties));
        secretProperties = Map.copyOf(new TreeMap<>(secretProperties == null ? Map.of() : secretProperties));
        for (var e : clientProperties.entrySet()) {
            String key = e.getKey();
            if (RESERVED_PROPERTIES.contains(key)) {
                throw new IllegalArgumentException("client-properties." + key
                        + " is set by the provider and cannot be overridden"
                        + (key.equals("bootstrap.servers") ? "; use bootstrap-servers" : ""));
            }
            if (SECRET_LOOKING.matcher(key).matches()) {
                throw new IllegalArgumentException("client-properties." + key
                        + " holds a secret; give it through secret-properties-env (an environment variable name)");
            }
            Objects.requireNonNull(e.getValue(), "client-properties." + key);
        }
        for (var e : secretProperties.entrySet()) {
            if (RESERVED_PROPERTIES.contains(e.getKey())) {
                throw new IllegalArgumentException("secret-properties-env." + e.getKey()
                        + " is set by the provider and cannot be overridden");
            }
            if (clientProperties.containsKey(e.getKey())) {
                throw new IllegalArgumentException("property " + e.getKey()
                        + " is given both in client-properties and secret-properties-env");
            }
            Objects.requireNonNull(e.getValue(), "secret-properties-env." + e.getKey());
        }
    }

    private static Duration positive(String field, Duration value, Duration fallback) {
        Duration d = value == null ? fallback : value;
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(field + " must be positive, not " + d);
        }
        return d;
    }

    /** A builder with defaults: read_committed, every consumer group, 15 s connect and 60 s request timeouts. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    @Override
    public String toString() {
        Map<String, String> secrets = new TreeMap<>();
        secretProperties.forEach((k, v) -> secrets.put(k, v.toString()));
        return "KafkaConfig[name=" + name + ", bootstrap-servers=" + bootstrapServers + ", topics=" + topics
                + ", consumer-groups=" + (allConsumerGroups ? "all" : consumerGroups) + ", isolation="
                + isolation.id() + ", connect-timeout=" + connectTimeout + ", request-timeout=" + requestTimeout
                + ", partition-concurrency=" + partitionConcurrency + ", client-properties=" + clientProperties
                + ", secret-properties=" + secrets + "]";
    }

    /** Builder of {@link KafkaConfig}. */
    public static final class Builder {
        private final String name;
        private String bootstrapServers;
        private List<String> topics = new ArrayList<>();
        private boolean allConsumerGroups = true;
        private List<String> consumerGroups = List.of();
        private Isolation isolation = Isolation.READ_COMMITTED;
        private Duration connectTimeout;
        private Duration requestTimeout;
        private int partitionConcurrency = DEFAULT_PARTITION_CONCURRENCY;
        private final Map<String, String> clientProperties = new LinkedHashMap<>();
        private final Map<String, Secret> secretProperties = new LinkedHashMap<>();

        Builder(String name) {
            this.name = name;
        }

        /** {@code host:port[,host:port...]} of the cluster (required). */
        public Builder bootstrapServers(String bootstrapServers) {
            this.bootstrapServers = bootstrapServers;
            return this;
        }

        /** Topic names or regular expressions (required, at least one). */
        public Builder topics(List<String> topics) {
            this.topics = new ArrayList<>(topics);
            return this;
        }

        /** Adds one topic name or regular expression. */
        public Builder topic(String topic) {
            this.topics.add(topic);
            return this;
        }

        /** Back up the committed offsets of every consumer group (the default). */
        public Builder allConsumerGroups() {
            this.allConsumerGroups = true;
            this.consumerGroups = List.of();
            return this;
        }

        /** Back up only these consumer groups' offsets (an empty list backs up none). */
        public Builder consumerGroups(List<String> groups) {
            this.allConsumerGroups = false;
            this.consumerGroups = groups;
            return this;
        }

        public Builder isolation(Isolation isolation) {
            this.isolation = isolation;
            return this;
        }

        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = timeout;
            return this;
        }

        public Builder partitionConcurrency(int partitions) {
            this.partitionConcurrency = partitions;
            return this;
        }

        /** A Kafka client property for every client (no secrets: see {@link #secretProperty}). */
        public Builder clientProperty(String key, String value) {
            this.clientProperties.put(key, value);
            return this;
        }

        /** A Kafka client property whose value is a secret, revealed only when a client is created. */
        public Builder secretProperty(String key, Secret value) {
            this.secretProperties.put(key, value);
            return this;
        }

        public KafkaConfig build() {
            return new KafkaConfig(name, bootstrapServers, topics, allConsumerGroups, consumerGroups, isolation,
                    connectTimeout, requestTimeout, partitionConcurrency, clientProperties, secretProperties);
        }
    }
}
