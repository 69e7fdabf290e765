package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.Secret;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.Settings;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code kafka} provider: a lossless, streaming export of topics, their settings and the
 * consumer groups' positions, and its restore.
 *
 * <h2>Backup</h2>
 * Partitions are fetched by hand (no consumer group joins, nothing is committed), as record
 * batches exactly as the broker stores them, none decoded on the way; each batch's CRC-32C is
 * checked as a consumer checks it, and a batch damaged in the broker's log stops the backup,
 * naming the partition and offsets, instead of being stored to fail at restore time. The backup
 * first reads the consumer groups' committed offsets, then takes the <em>cut</em>: every selected
 * partition's end offset (the last stable offset under {@code read_committed}, the default, so
 * aborted transactions are left out; the high watermark otherwise). Each partition is read from
 * its start up to exactly its cut, so records produced while the backup runs are never half
 * included. Artifacts:
 * <ul>
 *   <li>{@code topics/<topic>/<partition>.records}: the records, in the binary format of
 *       FORMAT.md (version 2: Kafka's own record batches, holding offset, timestamp and type, key,
 *       value, headers in order, null kept apart from empty; control batches and aborted
 *       transactions left out);</li>
 *   <li>{@code metadata.json} (written last): partition counts, replication factors, topic configs
 *       set on the topics, the cut and log start per partition, committed group offsets.</li>
 * </ul>
 * The manifest's content summary counts records per partition ({@code <topic>-<partition>}), its
 * consistent point is the cut ({@code orders[0=120 1=98]}), and its metadata holds
 * {@code cut.<topic>.<partition>} and {@code chain-records.<topic>.<partition>} for the next
 * incremental.
 *
 * <h2>Incremental</h2>
 * An incremental backup starts each partition at the previous backup's cut and names that backup
 * as its parent. When retention deleted offsets past the previous cut before they could be read,
 * the backup says so instead of pretending: metadata {@code lost.<topic>.<partition>} (the range)
 * and {@code data-lost} (the partitions), plus a warning in the log.
 *
 * <h2>Restore</h2>
 * A restore of an incremental applies its whole chain in one session (the engine hands over the
 * links, full backup first, each verified): every link's metadata and the target are checked
 * before anything is written (each incremental continues the link before it; target topics empty
 * or absent), topics are created as the last backup has them, each link's records are appended in
 * order, and the last backup's group offsets are translated through the link whose records answer
 * them, so the result is the same as one full backup taken at the end. The engine's option
 * {@code append-chain=true} applies one incremental alone onto a target that holds its parent
 * chain already; then every target partition must end exactly where that chain left it (so a
 * skipped or repeated step is refused before anything is written). Options:
 * <ul>
 *   <li>{@code target-bootstrap-servers}: the cluster to restore into (default: the source's own);
 *       the source's client and secret properties are used for it;</li>
 *   <li>{@code rename.<topic>=<new>}: restore a topic under another name;</li>
 *   <li>{@code allow-non-empty=true} (or {@link RestoreOptions#overwrite()}): append to target topics
 *       that hold records (refused by default, naming the topics);</li>
 *   <li>{@code replication-factor=N}: replication factor of created topics (default: as recorded);</li>
 *   <li>{@code consumer-groups=false}: leave consumer-group offsets alone.</li>
 * </ul>
 * Missing topics are created with the recorded partition count and configs; every record is
 * appended to its original partition with its key, value, headers and timestamp (acks=all, an
 * idempotent producer id; compressed and large stored batches are sent as they are, without
 * decoding a record, see FORMAT.md). Retriable broker errors (a leader change, too few in-sync
 * replicas, a lost connection) are retried in order, as Kafka's producer does, for up to three
 * request timeouts; a refused batch, or one out of time, fails the restore naming the partition,
 * and the target is reported as partially restored. Topics with
 * {@code message.timestamp.type=LogAppendTime} get new timestamps from the target broker: that is
 * what LogAppendTime means. Records of committed
 * transactions are restored as plain records. Then each consumer group's committed offset
 * {@code o} is translated to the new offset of the first restored record whose old offset is at
 * least {@code o} (or to the new end), so the group resumes at the same record even across
 * compaction gaps. In an incremental applied alone, a group whose offset lies before that backup's start (it
 * lagged behind the previous cut) is placed by a gap-free bound: at or before its record, never
 * after (at-least-once); exact when that range has no offset gaps.
 *
 * <p>Configuration ({@code type: kafka}): {@code bootstrap-servers}, {@code topics} (names or
 * regular expressions), {@code consumer-groups} ({@code all}, {@code none} or a list),
 * {@code isolation}, {@code connect-timeout}, {@code request-timeout}, {@code partition-concurrency},
 * {@code client-properties} (a map), {@code secret-properties-env} (a map from property to the
 * environment variable holding its value). The engine's codec applies on top of the stored
 * batches; for topics whose producers compress, {@code compression: none} in the source's block
 * (or {@code BackupEngine.Builder.compression(source, codec)}) saves that CPU for a little more
 * storage (on lz4-produced topics zstd on top saves ~18 % of it).
 */
public final class KafkaBackupProvider implements BackupProvider<KafkaConfig> {
    /** The engine name: {@code type: kafka} in configuration. */
    public static final String ENGINE = "kafka";

    private static final Set<String> FIELDS = Set.of("name", "type", "bootstrap-servers", "topics",
            "consumer-groups", "isolation", "connect-timeout", "request-timeout", "partition-concurrency",
            "client-properties", "secret-properties-env");

    @Override
    public String engine() {
        return ENGINE;
    }

    @Override
    public Class<KafkaConfig> configType() {
        return KafkaConfig.class;
    }

    @Override
    public KafkaConfig parseConfig(String name, Settings settings) {
        settings.rejectUnknown(FIELDS);
        KafkaConfig.Builder b = KafkaConfig.builder(name)
                .bootstrapServers(settings.requireString("bootstrap-servers"))
                .topics(settings.strings("topics"));
        if (settings.strings("topics").isEmpty()) {
            throw new IllegalArgumentException("missing required field " + settings.field("topics")
                    + " (topic names or regular expressions)");
        }
        Object groups = settings.raw("consumer-groups").orElse("all");
        if (groups instanceof List<?>) {
            b.consumerGroups(settings.strings("consumer-groups"));
        } else if ("all".equalsIgnoreCase(groups.toString().trim())) {
            b.allConsumerGroups();
        } else if ("none".equalsIgnoreCase(groups.toString().trim())) {
            b.consumerGroups(List.of());
        } else {
            throw new IllegalArgumentException(settings.field("consumer-groups")
                    + " must be all, none or a list of group ids, not '" + groups + "'");
        }
        settings.string("isolation").ifPresent(v -> {
            try {
                b.isolation(KafkaConfig.Isolation.fromId(v));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(settings.field("isolation") + ": " + e.getMessage());
            }
        });
        b.connectTimeout(settings.duration("connect-timeout", KafkaConfig.DEFAULT_CONNECT_TIMEOUT));
        b.requestTimeout(settings.duration("request-timeout", KafkaConfig.DEFAULT_REQUEST_TIMEOUT));
        long concurrency = settings.number("partition-concurrency", KafkaConfig.DEFAULT_PARTITION_CONCURRENCY);
        if (concurrency < 1 || concurrency > 256) {
            throw new IllegalArgumentException(settings.field("partition-concurrency")
                    + " must be between 1 and 256, not " + concurrency);
        }
        b.partitionConcurrency((int) concurrency);
        map(settings, "client-properties").forEach(b::clientProperty);
        map(settings, "secret-properties-env").forEach((k, v) -> b.secretProperty(k, Secret.fromEnvironment(v)));
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(settings.where() + ": " + e.getMessage());
        }
    }

    private static Map<String, String> map(Settings settings, String key) {
        Object raw = settings.raw(key).orElse(Map.of());
        if (!(raw instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(settings.field(key) + " must be a map of Kafka property to value");
        }
        Map<String, String> result = new LinkedHashMap<>();
        m.forEach((k, v) -> {
            if (v == null || v instanceof Map || v instanceof List) {
                throw new IllegalArgumentException(settings.field(key + "." + k) + " must be a single value");
            }
            result.put(String.valueOf(k), String.valueOf(v));
        });
        return result;
    }

    /**
     * Connects within the connect timeout and checks that every named topic exists and that
     * something is selected.
     */
    @Override
    public List<Problem> check(KafkaConfig config) {
        return KafkaBackup.check(config);
    }

    @Override
    public BackupSession openBackup(KafkaConfig config, BackupContext context) {
        KafkaBackup backup = new KafkaBackup(config, context);
        return new BackupSession() {
            @Override
            public BackupResult run(ArtifactSink sink) throws IOException {
                return backup.run(sink);
            }

            @Override
            public void close() {
            }
        };
    }

    /**
     * Opens a restore; options are validated here, so a typo fails before anything is read.
     *
     * @throws IllegalArgumentException naming the option when one is unknown or invalid
     */
    @Override
    public RestoreSession openRestore(KafkaConfig config, RestoreOptions options) {
        KafkaRestore restore = new KafkaRestore(config, options);
        return new RestoreSession() {
            @Override
            public void restore(ArtifactSource source) throws IOException {
                restore.run(source);
            }

            @Override
            public void restoreChain(List<ArtifactSource> chain) throws IOException {
                restore.run(chain);
            }

            @Override
            public void close() {
            }
        };
    }
}
