package com.aiplatform.backup.core;

import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.BackupListener;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.SegmentSink;
import com.aiplatform.backup.spi.SegmentSpec;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageTarget;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;

/**
 * The continuous archive of one source on storage: {@code <source>/wal/<name>} data objects,
 * each followed by its record {@code <name>.json} (written last, carrying a digest of itself).
 * Partial flushes are {@code <name>.partial-<millis>} and are removed once superseded.
 */
final class ContinuousArchive implements SegmentSink {
    private static final Logger LOG = LoggerFactory.getLogger(ContinuousArchive.class);
    private static final String RECORD_SUFFIX = ".json";
    private static final String DIGEST_FIELD = "recordSha256";

    private final StorageTarget storage;
    private final String source;
    private final Compression compression;
    private final StreamEncryption encryption;
    private final Executor sealThreads;
    private final int zstdWorkers;
    private final BackupListener listener;

    ContinuousArchive(StorageTarget storage, String source, Compression compression, StreamEncryption encryption,
                      Executor sealThreads, int zstdWorkers, BackupListener listener) {
        this.storage = storage;
        this.source = source;
        this.compression = compression;
        this.encryption = encryption;
        this.sealThreads = sealThreads;
        this.zstdWorkers = zstdWorkers;
        this.listener = listener;
    }

    static String prefix(String source) {
        return source + "/wal/";
    }

    static String associatedData(String source, String objectName) {
        return StreamEncryption.associatedData(source, "wal", objectName);
    }

    @Override
    public OutputStream openSegment(SegmentSpec spec) throws IOException {
        Instant now = Instant.now();
        String objectName = spec.partial() ? spec.name() + ".partial-" + now.toEpochMilli() : spec.name();
        String key = prefix(source) + objectName;
        ObjectUpload upload = storage.create(key);
        ArtifactWriter writer;
        try {
            writer = new ArtifactWriter(objectName, compression, encryption, associatedData(source, objectName),
                    upload, sealThreads, zstdWorkers, n -> { });
        } catch (IOException | RuntimeException e) {
            upload.close();
            throw e;
        }
        return new OutputStream() {
            private boolean closed;

            @Override
            public void write(int b) throws IOException {
                writer.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                writer.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                if (closed) {
                    return;
                }
                closed = true;
                writer.close();
                ArtifactEntry a = writer.result();
                SegmentEntry entry = new SegmentEntry(spec.name(), spec.partial(), spec.startPosition(),
                        spec.endPosition(), spec.coveredUntil(), Instant.now(), a.rawSize(), a.storedSize(),
                        a.storedSha256(), a.compression(), a.cipher(), a.keyId(), key);
                writeRecord(key + RECORD_SUFFIX, entry);
                listener.onEvent(new BackupEvent.SegmentStored(source, entry));
                removeSuperseded(spec.name(), objectName);
            }
        };
    }

    @Override
    public List<SegmentEntry> stored() throws IOException {
        Map<String, SegmentEntry> byName = new LinkedHashMap<>();
        for (SegmentEntry e : allRecords()) {
            SegmentEntry current = byName.get(e.name());
            if (current == null || better(e, current)) {
                byName.put(e.name(), e);
            }
        }
        List<SegmentEntry> result = new ArrayList<>(byName.values());
        result.sort(Comparator.comparing(SegmentEntry::name));
        return result;
    }

    /** A complete segment beats any partial one; among partial ones the newest wins. */
    private static boolean better(SegmentEntry candidate, SegmentEntry current) {
        if (current.partial() != candidate.partial()) {
            return !candidate.partial();
        }
        return candidate.storedAt().isAfter(current.storedAt());
    }

    private List<SegmentEntry> allRecords() throws IOException {
        List<SegmentEntry> records = new ArrayList<>();
        for (StorageObject o : storage.list(prefix(source))) {
            if (!o.key().endsWith(RECORD_SUFFIX)) {
                continue;
            }
            try {
                records.add(readRecord(o.key()));
            } catch (IntegrityException e) {
                LOG.warn("leaving segment record {} out: {}", o.key(), e.getMessage());
            } catch (IOException e) {
                // a partial flush superseded (deleted) between listing and reading is simply gone
                if (storage.stat(o.key()).isPresent()) {
                    throw e;
                }
            }
        }
        return records;
    }

    /**
     * Deletes the partial flushes of {@code name} other than {@code keptObject}. Lists only that
     * name's {@code .partial-} objects: storing a segment costs the same however long the archive is.
     */
    private void removeSuperseded(String name, String keptObject) throws IOException {
        String partials = prefix(source) + name + ".partial-";
        for (StorageObject o : storage.list(partials)) {
            String key = o.key();
            if (key.endsWith(RECORD_SUFFIX) || key.equals(prefix(source) + keptObject)) {
                continue;
            }
            // record first, data second: an interruption leaves an unlisted data object, never a broken record
            storage.delete(key + RECORD_SUFFIX);
            storage.delete(key);
        }
    }

    private void writeRecord(String key, SegmentEntry entry) throws IOException {
        ObjectNode node = ManifestCodec.JSON.valueToTree(entry);
        node.put(DIGEST_FIELD, HexFormat.of().formatHex(
                Sha256.newDigest().digest(ManifestCodec.JSON.writeValueAsBytes(node))));
        try (ObjectUpload upload = storage.create(key)) {
            upload.write(ManifestCodec.JSON.writeValueAsBytes(node));
            upload.commit();
        }
    }

    private SegmentEntry readRecord(String key) throws IOException {
        byte[] bytes;
        try (InputStream in = storage.open(key)) {
            bytes = in.readNBytes(1 << 20);
        }
        try {
            JsonNode tree = ManifestCodec.JSON.readTree(bytes);
            if (!(tree instanceof ObjectNode node)) {
                throw new IntegrityException(key, key + " is not a JSON object");
            }
            JsonNode digest = node.remove(DIGEST_FIELD);
            String actual = HexFormat.of().formatHex(
                    Sha256.newDigest().digest(ManifestCodec.JSON.writeValueAsBytes(node)));
            if (digest == null || !actual.equals(digest.asText())) {
                throw new IntegrityException(key, "segment record " + key + " was edited or damaged");
            }
            SegmentEntry entry = ManifestCodec.JSON.treeToValue(node, SegmentEntry.class);
            if (!entry.storageKey().equals(key.substring(0, key.length() - RECORD_SUFFIX.length()))) {
                throw new IntegrityException(key, "segment record " + key + " describes another object");
            }
            return entry;
        } catch (com.fasterxml.jackson.core.JsonProcessingException | IllegalArgumentException e) {
            throw new IntegrityException(key, "segment record " + key + " is not readable: " + e.getMessage());
        }
    }
}
