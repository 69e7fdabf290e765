package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.IntegrityException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The content of {@code metadata.json}: what the backup covers (topics, partitions, the cut),
 * topic settings, and consumer-group offsets. Field by field in FORMAT.md.
 *
 * @param formatVersion {@link #FORMAT}
 * @param kind          {@code full} or {@code incremental}
 * @param parent        the parent backup id of an incremental, else null
 * @param isolation     {@code read_committed} or {@code read_uncommitted}
 * @param clusterId     the source cluster's id
 * @param cutTime       when the cut (end offsets) was taken
 * @param topics        the topics backed up, by name
 * @param groups        committed consumer-group offsets on those topics, taken just before the cut
 */
record KafkaMetadata(int formatVersion, String kind, String parent, String isolation, String clusterId,
                     Instant cutTime, List<TopicMeta> topics, List<GroupOffset> groups) {
    static final int FORMAT = 1;
    static final String ARTIFACT = "metadata.json";

    KafkaMetadata {
        topics = List.copyOf(topics);
        groups = List.copyOf(groups);
    }

    /** Name of the artifact holding one partition's records. */
    static String recordsArtifact(String topic, int partition) {
        return "topics/" + topic + "/" + partition + ".records";
    }

    /**
     * One topic.
     *
     * @param name              topic name
     * @param partitionCount    partitions at backup time
     * @param replicationFactor replicas of partition 0
     * @param configs           topic configs set on the topic (not broker or default values)
     * @param partitions        what was read from each partition
     */
    record TopicMeta(String name, int partitionCount, int replicationFactor, Map<String, String> configs,
                     List<PartitionMeta> partitions) {
        TopicMeta {
            configs = Map.copyOf(new TreeMap<>(configs));
            partitions = List.copyOf(partitions);
        }
    }

    /**
     * One partition.
     *
     * @param partition     partition number
     * @param logStart      the source's log start offset when the cut was taken
     * @param start         first offset covered (log start for a full backup, the previous cut for an incremental)
     * @param cut           end offset (exclusive): high watermark or last stable offset at the cut
     * @param records       records stored
     * @param lastOffset    offset of the last record stored, -1 when none
     * @param recordsBefore records the parent chain holds for this partition (0 for a full backup)
     * @param lostFrom      first offset lost to retention (the previous cut, or where reading stood), -1 when none
     * @param lostTo        end (exclusive) of the lost range, -1 when none
     */
    record PartitionMeta(int partition, long logStart, long start, long cut, long records, long lastOffset,
                         long recordsBefore, long lostFrom, long lostTo) {
        boolean lost() {
            return lostFrom >= 0 && lostTo > lostFrom;
        }
    }

    /**
     * A consumer group's committed offset on one partition.
     *
     * @param metadata the commit's metadata string ({@code ""} when none)
     */
    record GroupOffset(String group, String topic, int partition, long offset, String metadata) {
    }

    /** Writes this as JSON (streamed; one topic or group per line). */
    void write(OutputStream out) throws IOException {
        Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
        w.write("{\n  \"formatVersion\": " + formatVersion + ",\n  \"kind\": " + Json.quote(kind)
                + ",\n  \"parent\": " + (parent == null ? "null" : Json.quote(parent))
                + ",\n  \"isolation\": " + Json.quote(isolation) + ",\n  \"clusterId\": "
                + (clusterId == null ? "null" : Json.quote(clusterId)) + ",\n  \"cutTime\": "
                + Json.quote(cutTime.toString()) + ",\n  \"topics\": [");
        for (int i = 0; i < topics.size(); i++) {
            TopicMeta t = topics.get(i);
            w.write(i == 0 ? "\n    " : ",\n    ");
            w.write("{\"name\": " + Json.quote(t.name()) + ", \"partitionCount\": " + t.partitionCount()
                    + ", \"replicationFactor\": " + t.replicationFactor() + ", \"configs\": {");
            int c = 0;
            for (var e : new TreeMap<>(t.configs()).entrySet()) {
                w.write((c++ == 0 ? "" : ", ") + Json.quote(e.getKey()) + ": " + Json.quote(e.getValue()));
            }
            w.write("}, \"partitions\": [");
            for (int p = 0; p < t.partitions().size(); p++) {
                PartitionMeta m = t.partitions().get(p);
                w.write((p == 0 ? "\n      " : ",\n      ") + "{\"partition\": " + m.partition() + ", \"logStart\": "
                        + m.logStart() + ", \"start\": " + m.start() + ", \"cut\": " + m.cut() + ", \"records\": "
                        + m.records() + ", \"lastOffset\": " + m.lastOffset() + ", \"recordsBefore\": "
                        + m.recordsBefore() + ", \"lostFrom\": " + m.lostFrom() + ", \"lostTo\": " + m.lostTo() + "}");
            }
            w.write("]}");
        }
        w.write("\n  ],\n  \"groups\": [");
        Map<String, List<GroupOffset>> byGroup = new TreeMap<>();
        for (GroupOffset g : groups) {
            byGroup.computeIfAbsent(g.group(), k -> new ArrayList<>()).add(g);
        }
        int gi = 0;
        for (var e : byGroup.entrySet()) {
            w.write((gi++ == 0 ? "\n    " : ",\n    ") + "{\"group\": " + Json.quote(e.getKey()) + ", \"offsets\": [");
            int oi = 0;
            for (GroupOffset o : e.getValue()) {
                w.write((oi++ == 0 ? "" : ", ") + "{\"topic\": " + Json.quote(o.topic()) + ", \"partition\": "
                        + o.partition() + ", \"offset\": " + o.offset() + ", \"metadata\": "
                        + Json.quote(o.metadata() == null ? "" : o.metadata()) + "}");
            }
            w.write("]}");
        }
        w.write("\n  ]\n}\n");
        w.flush();
    }

    /** Reads {@code metadata.json}; malformed content is an {@link IntegrityException}. */
    static KafkaMetadata read(InputStream in) throws IOException {
        String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        try {
            Map<String, Object> root = map(Json.parse(text), "document");
            int format = (int) num(root, "formatVersion");
            if (format != FORMAT) {
                throw new IntegrityException(ARTIFACT, ARTIFACT + " has formatVersion " + format
                        + "; this library reads " + FORMAT);
            }
            List<TopicMeta> topics = new ArrayList<>();
            for (Object o : list(root.get("topics"), "topics")) {
                Map<String, Object> t = map(o, "topic");
                Map<String, String> configs = new LinkedHashMap<>();
                map(t.get("configs"), "configs").forEach((k, v) -> configs.put(k, String.valueOf(v)));
                List<PartitionMeta> parts = new ArrayList<>();
                for (Object po : list(t.get("partitions"), "partitions")) {
                    Map<String, Object> p = map(po, "partition");
                    parts.add(new PartitionMeta((int) num(p, "partition"), num(p, "logStart"), num(p, "start"),
                            num(p, "cut"), num(p, "records"), num(p, "lastOffset"), num(p, "recordsBefore"),
                            num(p, "lostFrom"), num(p, "lostTo")));
                }
                topics.add(new TopicMeta(str(t, "name"), (int) num(t, "partitionCount"),
                        (int) num(t, "replicationFactor"), configs, parts));
            }
            List<GroupOffset> groups = new ArrayList<>();
            for (Object go : list(root.get("groups"), "groups")) {
                Map<String, Object> g = map(go, "group");
                String group = str(g, "group");
                for (Object oo : list(g.get("offsets"), "offsets")) {
                    Map<String, Object> o = map(oo, "offset");
                    groups.add(new GroupOffset(group, str(o, "topic"), (int) num(o, "partition"), num(o, "offset"),
                            String.valueOf(o.getOrDefault("metadata", ""))));
                }
            }
            Object parent = root.get("parent");
            Object cluster = root.get("clusterId");
            return new KafkaMetadata(format, str(root, "kind"), parent == null ? null : parent.toString(),
                    str(root, "isolation"), cluster == null ? null : cluster.toString(),
                    Instant.parse(str(root, "cutTime")), topics, groups);
        } catch (IllegalArgumentException | ClassCastException | java.time.format.DateTimeParseException e) {
            throw new IntegrityException(ARTIFACT, ARTIFACT + " is malformed: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o, String what) {
        if (!(o instanceof Map)) {
            throw new IllegalArgumentException(what + " is not an object");
        }
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o, String what) {
        if (!(o instanceof List)) {
            throw new IllegalArgumentException(what + " is not an array");
        }
        return (List<Object>) o;
    }

    private static long num(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Long l)) {
            throw new IllegalArgumentException("field " + key + " is not a whole number");
        }
        return l;
    }

    private static String str(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException("field " + key + " is not a string");
        }
        return s;
    }
}
