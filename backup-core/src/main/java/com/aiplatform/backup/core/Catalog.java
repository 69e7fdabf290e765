package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.Debris;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.spi.IncompleteUpload;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageTarget;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The storage layout and the catalog read from it: {@code <source>/backups/<id>/manifest.json}
 * and {@code <source>/backups/<id>/<artifact>}. A backup exists if and only if its manifest does.
 */
final class Catalog {
    private static final Logger LOG = LoggerFactory.getLogger(Catalog.class);
    static final String LATEST = "latest";
    /** Results of verifications and drills of a backup: {@code <source>/backups/<id>/checks/<millis>-<kind>.json}. */
    static final String CHECKS = "checks";

    private final StorageTarget storage;

    Catalog(StorageTarget storage) {
        this.storage = storage;
    }

    static String backupPrefix(String source, BackupId id) {
        return source + "/backups/" + id.value() + "/";
    }

    static String manifestKey(String source, BackupId id) {
        return backupPrefix(source, id) + ManifestCodec.FILE;
    }

    static String artifactKey(String source, BackupId id, String artifact) {
        return backupPrefix(source, id) + artifact;
    }

    /** Ids of committed backups (those with a manifest object), oldest first, without reading them. */
    List<BackupId> committedIds(String source) throws IOException {
        List<BackupId> ids = new ArrayList<>();
        for (StorageObject o : storage.list(source + "/backups/")) {
            BackupId id = idOf(source, o.key());
            if (id != null && o.key().equals(manifestKey(source, id))) {
                ids.add(id);
            }
        }
        ids.sort(null);
        return ids;
    }

    /** Committed, readable manifests, oldest first. Unreadable or edited ones are logged and left out. */
    List<Manifest> list(String source, StreamEncryption encryption) throws IOException {
        List<Manifest> manifests = new ArrayList<>();
        for (BackupId id : committedIds(source)) {
            try {
                manifests.add(read(source, id, encryption));
            } catch (IntegrityException e) {
                LOG.warn("leaving backup {} of {} out of the list: {}", id, source, e.getMessage());
            }
        }
        // ids carry the start time to the second only; two backups in one second sort by their full start time
        manifests.sort(java.util.Comparator.comparing(Manifest::startedAt).thenComparing(Manifest::backupId));
        return manifests;
    }

    Manifest read(String source, BackupId id, StreamEncryption encryption) throws IOException {
        String key = manifestKey(source, id);
        try (InputStream in = storage.open(key)) {
            Manifest m = ManifestCodec.read(in, key, encryption);
            if (!m.backupId().equals(id) || !m.source().equals(source)) {
                throw new IntegrityException(ManifestCodec.FILE, key + " describes backup " + m.backupId()
                        + " of " + m.source() + ", not the backup stored under this key (was it moved or edited?)");
            }
            return m;
        }
    }

    /** Resolves an id or {@code latest}: the newest committed backup, which must then be readable. */
    BackupId resolve(String source, String idOrLatest) throws IOException {
        if (LATEST.equalsIgnoreCase(idOrLatest)) {
            List<BackupId> ids = committedIds(source);
            if (ids.isEmpty()) {
                throw new IllegalArgumentException("source '" + source + "' has no committed backup on storage '"
                        + storage.name() + "'");
            }
            BackupId newest = ids.get(ids.size() - 1);
            // ids carry the start to the second: among backups started in the same second, the
            // manifest's full start time decides
            String second = newest.value().substring(0, 16);
            List<BackupId> sameSecond = ids.stream().filter(i -> i.value().startsWith(second)).toList();
            if (sameSecond.size() > 1) {
                Instant latest = Instant.MIN;
                for (BackupId candidate : sameSecond) {
                    try {
                        Instant started = read(source, candidate, null).startedAt();
                        if (started.isAfter(latest)) {
                            latest = started;
                            newest = candidate;
                        }
                    } catch (IntegrityException e) {
                        LOG.warn("backup {} of {}: {}", candidate, source, e.getMessage());
                    }
                }
            }
            return newest;
        }
        if (!BackupId.isValid(idOrLatest)) {
            throw new IllegalArgumentException("'" + idOrLatest + "' is neither 'latest' nor a backup id "
                    + "(yyyyMMddTHHmmssZ-xxxxxx)");
        }
        BackupId id = new BackupId(idOrLatest);
        if (storage.stat(manifestKey(source, id)).isEmpty()) {
            throw new IllegalArgumentException("source '" + source + "' has no committed backup " + id
                    + " on storage '" + storage.name() + "'");
        }
        return id;
    }

    /** Records the outcome of a verification or drill; a read-only target only logs a warning. */
    void recordCheck(String source, BackupId id, String kind, boolean ok, String reportJson) {
        Instant now = Instant.now();
        String key = backupPrefix(source, id) + CHECKS + "/" + now.toEpochMilli() + "-" + kind + ".json";
        String json = "{\"kind\":\"" + kind + "\",\"ok\":" + ok + ",\"time\":\"" + now + "\""
                + (reportJson == null ? "" : ",\"report\":" + reportJson) + "}";
        try (var upload = storage.create(key)) {
            upload.write(json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            upload.commit();
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not record the {} result of backup {} of {}: {}", kind, id, source, e.getMessage());
        }
    }

    /** Every recorded drill of the source's committed backups, oldest first. */
    List<com.aiplatform.backup.api.DrillReport> drills(String source) throws IOException {
        List<com.aiplatform.backup.api.DrillReport> reports = new ArrayList<>();
        for (StorageObject o : storage.list(source + "/backups/")) {
            if (!o.key().endsWith("-drill.json") || !o.key().contains("/" + CHECKS + "/")) {
                continue;
            }
            try (InputStream in = storage.open(o.key())) {
                var node = ManifestCodec.JSON.readTree(in.readNBytes(1 << 20));
                if (node.has("report")) {
                    reports.add(ManifestCodec.JSON.treeToValue(node.get("report"),
                            com.aiplatform.backup.api.DrillReport.class));
                }
            } catch (IOException | RuntimeException e) {
                LOG.warn("unreadable drill record {}: {}", o.key(), e.getMessage());
            }
        }
        reports.sort(java.util.Comparator.comparing(com.aiplatform.backup.api.DrillReport::startedAt));
        return reports;
    }

    /** Whether the newest recorded verification or drill of a backup passed (false when none). */
    boolean lastCheckPassed(String source, BackupId id) {
        try {
            List<StorageObject> checks = storage.list(backupPrefix(source, id) + CHECKS + "/");
            if (checks.isEmpty()) {
                return false;
            }
            StorageObject newest = checks.get(checks.size() - 1);
            try (InputStream in = storage.open(newest.key())) {
                return new String(in.readNBytes(4096), java.nio.charset.StandardCharsets.UTF_8).contains("\"ok\":true");
            }
        } catch (IOException e) {
            LOG.warn("could not read the checks of backup {} of {}: {}", id, source, e.getMessage());
            return false;
        }
    }

    /** Source names that have any object on storage. */
    List<String> sources() throws IOException {
        TreeSet<String> names = new TreeSet<>();
        for (StorageObject o : storage.list("")) {
            int slash = o.key().indexOf('/');
            if (slash > 0) {
                names.add(o.key().substring(0, slash));
            }
        }
        return List.copyOf(names);
    }

    /** Backups with objects but no manifest: leftovers of failed or killed runs. */
    List<Debris> debris(String source) throws IOException {
        Map<BackupId, List<StorageObject>> byId = new TreeMap<>();
        for (StorageObject o : storage.list(source + "/backups/")) {
            BackupId id = idOf(source, o.key());
            if (id != null) {
                byId.computeIfAbsent(id, k -> new ArrayList<>()).add(o);
            }
        }
        Map<BackupId, List<Debris.PartialUpload>> partialsById = new TreeMap<>();
        List<Debris.PartialUpload> otherPartials = new ArrayList<>();
        for (IncompleteUpload u : storage.incompleteUploads(source + "/")) {
            Debris.PartialUpload p = new Debris.PartialUpload(u.key(), u.uploadId(), u.size(), u.lastModified());
            BackupId id = idOf(source, u.key());
            if (id != null) {
                partialsById.computeIfAbsent(id, k -> new ArrayList<>()).add(p);
                byId.computeIfAbsent(id, k -> new ArrayList<>());
            } else {
                otherPartials.add(p);
            }
        }
        List<Debris> result = new ArrayList<>();
        byId.forEach((id, objects) -> {
            boolean committed = objects.stream().anyMatch(o -> o.key().equals(manifestKey(source, id)));
            List<Debris.PartialUpload> partials = partialsById.getOrDefault(id, List.of());
            if (!committed || !partials.isEmpty()) {
                List<StorageObject> leftovers = committed ? List.of() : objects;
                result.add(debris(source, id, leftovers, partials));
            }
        });
        if (!otherPartials.isEmpty()) {
            result.add(debris(source, null, List.of(), otherPartials));
        }
        return result;
    }

    private static Debris debris(String source, BackupId id, List<StorageObject> objects,
                                 List<Debris.PartialUpload> partials) {
        Instant newest = Instant.EPOCH;
        long bytes = 0;
        for (StorageObject o : objects) {
            newest = o.lastModified().isAfter(newest) ? o.lastModified() : newest;
            bytes += o.size();
        }
        for (Debris.PartialUpload p : partials) {
            newest = p.lastModified().isAfter(newest) ? p.lastModified() : newest;
            bytes += p.size();
        }
        return new Debris(source, id, objects.stream().map(StorageObject::key).toList(), newest, partials, bytes);
    }

    private static BackupId idOf(String source, String key) {
        String prefix = source + "/backups/";
        if (!key.startsWith(prefix)) {
            return null;
        }
        String rest = key.substring(prefix.length());
        int slash = rest.indexOf('/');
        if (slash < 0) {
            return null;
        }
        String id = rest.substring(0, slash);
        return BackupId.isValid(id) ? new BackupId(id) : null;
    }
}
