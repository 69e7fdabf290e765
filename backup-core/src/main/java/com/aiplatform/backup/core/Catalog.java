package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupCondition;
import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.Debris;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.ListedBackup;
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

    /** Receives listed backups one at a time. */
    @FunctionalInterface
    interface Visitor {
        void accept(ListedBackup backup) throws IOException;
    }

    /**
     * Every committed backup with its condition, oldest first, read one manifest at a time (only
     * the ids, and the ids of backups that are not OK, are held): a manifest that cannot be read is
     * {@link BackupCondition#DAMAGED} with the reason, one whose latest check failed
     * {@link BackupCondition#KNOWN_BAD}, an incremental whose parent is either (or missing)
     * {@link BackupCondition#BROKEN_CHAIN}.
     */
    void forEach(String source, StreamEncryption encryption, Visitor visitor) throws IOException {
        List<BackupId> ids = committedIds(source);
        java.util.Set<BackupId> committed = new java.util.HashSet<>(ids);
        Map<BackupId, String> unusable = new java.util.HashMap<>();
        int i = 0;
        while (i < ids.size()) {
            // ids carry the start to the second: backups started in the same second are ordered by
            // their full start time, so read them together (a handful at most)
            String second = ids.get(i).value().substring(0, 16);
            List<ListedBackup> group = new ArrayList<>();
            for (; i < ids.size() && ids.get(i).value().startsWith(second); i++) {
                group.add(describe(source, ids.get(i), encryption));
            }
            // a damaged manifest's full start time is unknown: it goes last in its second, so that
            // 'latest' rather says it skipped one too many than silently picks an older backup
            group.sort(java.util.Comparator.comparing((ListedBackup b) -> b.manifest() == null)
                    .thenComparing(b -> b.manifest() == null ? Instant.MIN : b.manifest().startedAt())
                    .thenComparing(ListedBackup::backupId));
            for (ListedBackup b : group) {
                if (!b.recoverable()) {
                    unusable.put(b.backupId(), "is " + b.condition().label());
                }
            }
            for (ListedBackup b : group) {
                ListedBackup listed = b;
                BackupId parent = b.manifest() == null ? null : b.manifest().parent();
                if (b.recoverable() && parent != null) {
                    if (!committed.contains(parent)) {
                        listed = withCondition(b, BackupCondition.BROKEN_CHAIN, "its parent " + parent
                                + " is not on storage");
                    } else if (unusable.containsKey(parent)) {
                        listed = withCondition(b, BackupCondition.BROKEN_CHAIN, "its parent " + parent + " "
                                + unusable.get(parent));
                    }
                }
                if (!listed.recoverable()) {
                    unusable.put(listed.backupId(), "is " + listed.condition().label()
                            + (listed.condition() == BackupCondition.BROKEN_CHAIN ? " (" + listed.reason() + ")" : ""));
                }
                visitor.accept(listed);
            }
        }
    }

    /** {@link #forEach} into a list, oldest first. */
    List<ListedBackup> listAll(String source, StreamEncryption encryption) throws IOException {
        List<ListedBackup> all = new ArrayList<>();
        forEach(source, encryption, all::add);
        return all;
    }

    private ListedBackup describe(String source, BackupId id, StreamEncryption encryption) throws IOException {
        ListedBackup.Check check = latestCheck(source, id);
        Manifest manifest;
        try {
            manifest = read(source, id, encryption);
        } catch (IntegrityException e) {
            LOG.warn("backup {} of {} is damaged: {}", id, source, e.getMessage());
            return new ListedBackup(source, id, null, BackupCondition.DAMAGED, e.getMessage(), check);
        }
        if (check != null && !check.passed()) {
            return new ListedBackup(source, id, manifest, BackupCondition.KNOWN_BAD, "its latest " + check.kind()
                    + " (" + check.time() + ") failed" + (check.reason() == null ? "" : ": " + check.reason()), check);
        }
        return new ListedBackup(source, id, manifest, BackupCondition.OK, null, check);
    }

    private static ListedBackup withCondition(ListedBackup b, BackupCondition condition, String reason) {
        return new ListedBackup(b.source(), b.backupId(), b.manifest(), condition, reason, b.lastCheck());
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

    /**
     * Records the outcome of a verification or drill; a read-only target only logs a warning.
     *
     * @param reason what failed, or null
     */
    void recordCheck(String source, BackupId id, String kind, boolean ok, String reason, String reportJson) {
        Instant now = Instant.now();
        String key = backupPrefix(source, id) + CHECKS + "/" + now.toEpochMilli() + "-" + kind + ".json";
        try (var upload = storage.create(key)) {
            com.fasterxml.jackson.databind.node.ObjectNode node = ManifestCodec.JSON.createObjectNode();
            node.put("kind", kind).put("ok", ok).put("time", now.toString());
            if (reason != null) {
                node.put("reason", reason);
            }
            if (reportJson != null) {
                node.set("report", ManifestCodec.JSON.readTree(reportJson));
            }
            upload.write(ManifestCodec.JSON.writeValueAsBytes(node));
            upload.commit();
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not record the {} result of backup {} of {}: {}", kind, id, source, e.getMessage());
        }
    }

    /**
     * The newest recorded verification or drill of a backup, or null when none. An unreadable
     * record counts as a failed check (it says it could not be read), never as a passed one.
     */
    ListedBackup.Check latestCheck(String source, BackupId id) {
        String prefix = backupPrefix(source, id) + CHECKS + "/";
        try {
            List<StorageObject> checks = storage.list(prefix);
            if (checks.isEmpty()) {
                return null;
            }
            StorageObject newest = checks.get(checks.size() - 1);
            String name = newest.key().substring(prefix.length());
            try (InputStream in = storage.open(newest.key())) {
                var node = ManifestCodec.JSON.readTree(in.readNBytes(1 << 20));
                String kind = node.path("kind").asText(name.replaceAll("^[0-9]+-|\\.json$", ""));
                Instant time = node.hasNonNull("time") ? Instant.parse(node.get("time").asText()) : newest.lastModified();
                boolean ok = node.path("ok").asBoolean(false);
                String reason = node.hasNonNull("reason") ? node.get("reason").asText() : null;
                if (reason == null && !ok && node.path("report").has("differences")) {
                    List<String> differences = new ArrayList<>();
                    node.get("report").get("differences").forEach(d -> differences.add(d.asText()));
                    reason = String.join("; ", differences);
                }
                return new ListedBackup.Check(kind, ok, time, reason);
            } catch (IOException | RuntimeException e) {
                return new ListedBackup.Check(name, false, newest.lastModified(), "the check record " + newest.key()
                        + " cannot be read: " + e.getMessage());
            }
        } catch (IOException e) {
            LOG.warn("could not read the checks of backup {} of {}: {}", id, source, e.getMessage());
            return null;
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
        ListedBackup.Check check = latestCheck(source, id);
        return check != null && check.passed();
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
