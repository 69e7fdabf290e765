package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Debris;
import com.aiplatform.backup.api.ListedBackup;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.PrunePlan;
import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageTarget;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Builds and carries out prune plans. */
final class Pruner {
    private static final Logger LOG = LoggerFactory.getLogger(Pruner.class);

    private Pruner() {
    }

    /** A continuous-archive segment and the time range of changes it holds: (from, to]. */
    private record Span(SegmentEntry segment, Instant from, Instant to) { }

    /** An interval of time whose archived changes a kept backup needs. */
    private record Need(Instant from, Instant to) { }

    /**
     * Plans a prune of {@code backups} (every committed one, damaged included; see
     * {@link RetentionPlanner#plan} for what happens to those that are not OK).
     */
    static PrunePlan plan(String source, List<ListedBackup> backups,
                          List<SegmentEntry> segments, List<Debris> debris, RetentionPolicy policy,
                          Duration debrisGrace, Instant now) {
        if (policy.keepsNothing()) {
            throw new IllegalArgumentException("the retention policy keeps nothing; refusing to delete every backup of '"
                    + source + "'");
        }
        List<RetentionPlanner.Candidate> candidates = backups.stream()
                .map(b -> new RetentionPlanner.Candidate(b.backupId(), b.time(),
                        b.manifest() == null ? null : b.manifest().parent(), b.verified(), b.condition(), b.reason()))
                .toList();
        List<RetentionPlanner.Decision> decisions = RetentionPlanner.plan(policy, candidates, now);
        Map<com.aiplatform.backup.api.BackupId, ListedBackup> byId = backups.stream()
                .collect(Collectors.toMap(ListedBackup::backupId, b -> b));
        List<PrunePlan.Entry> entries = decisions.stream()
                .map(d -> new PrunePlan.Entry(d.id(), d.time(), d.keep(), d.reasons(), byId.get(d.id()).condition()))
                .toList();
        List<Manifest> kept = decisions.stream().filter(RetentionPlanner.Decision::keep)
                .map(d -> byId.get(d.id()).manifest()).filter(java.util.Objects::nonNull)
                .sorted(Comparator.comparing(m -> m.consistentPoint().time())).toList();
        List<SegmentEntry> segmentsToDelete = unneededSegments(segments, kept, policy.pointInTimeWindow(), now);
        List<Debris> oldDebris = debris.stream().filter(d -> d.newest().isBefore(now.minus(debrisGrace))).toList();
        return new PrunePlan(source, entries, segmentsToDelete, oldDebris);
    }

    /**
     * Segments no kept backup needs: each kept backup needs the changes from its start to its
     * consistent point; one younger than the point-in-time window also needs everything up to the
     * next kept backup; the newest kept backup needs everything after it.
     */
    static List<SegmentEntry> unneededSegments(List<SegmentEntry> segments, List<Manifest> keptOldestFirst,
                                               Duration window, Instant now) {
        if (segments.isEmpty() || keptOldestFirst.isEmpty()) {
            return List.of();
        }
        List<Need> needs = new ArrayList<>();
        for (int i = 0; i < keptOldestFirst.size(); i++) {
            Manifest m = keptOldestFirst.get(i);
            boolean newest = i == keptOldestFirst.size() - 1;
            Instant to = m.consistentPoint().time();
            if (newest) {
                to = Instant.MAX;
            } else if (!m.consistentPoint().time().isBefore(now.minus(window))) {
                to = keptOldestFirst.get(i + 1).startedAt();
            }
            needs.add(new Need(m.startedAt(), to));
        }
        List<SegmentEntry> byName = new ArrayList<>(segments);
        byName.sort(Comparator.comparing(SegmentEntry::name));
        List<SegmentEntry> unneeded = new ArrayList<>();
        Instant previous = Instant.MIN;
        for (SegmentEntry s : byName) {
            // Changes in a segment were made after the previous segment's coveredUntil (the source
            // had not written past that segment then) and before this one was stored.
            Instant to = s.storedAt() != null && s.storedAt().isAfter(s.coveredUntil()) ? s.storedAt() : s.coveredUntil();
            Span span = new Span(s, previous, to);
            previous = s.coveredUntil();
            boolean needed = needs.stream().anyMatch(n -> span.from().isBefore(n.to())
                    && !span.to().isBefore(n.from()));
            if (!needed && !s.partial()) {
                unneeded.add(s);
            }
        }
        return unneeded;
    }

    /** Carries out a plan: manifests first, then artifacts; then old debris; then unneeded segments. */
    static void execute(PrunePlan plan, StorageTarget storage) throws IOException {
        for (PrunePlan.Entry e : plan.deletions()) {
            storage.delete(Catalog.manifestKey(plan.source(), e.backupId()));
            for (StorageObject o : storage.list(Catalog.backupPrefix(plan.source(), e.backupId()))) {
                storage.delete(o.key());
            }
            LOG.info("pruned backup {} of {}", e.backupId(), plan.source());
        }
        for (Debris d : plan.debris()) {
            for (String key : d.keys()) {
                storage.delete(key);
            }
            for (Debris.PartialUpload p : d.partials()) {
                storage.deleteIncompleteUpload(new com.aiplatform.backup.spi.IncompleteUpload(p.key(), p.uploadId(),
                        p.size(), p.lastModified()));
            }
            LOG.info("removed debris of {} of {}: {} object(s), {} partial upload(s), {} bytes",
                    d.backupId() == null ? "unfinished uploads" : "uncommitted backup " + d.backupId(),
                    plan.source(), d.keys().size(), d.partials().size(), d.bytes());
        }
        for (SegmentEntry s : plan.segments()) {
            storage.delete(s.storageKey() + ".json");
            storage.delete(s.storageKey());
        }
    }
}
