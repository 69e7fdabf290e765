package com.aiplatform.backup.api;

import java.time.Instant;
import java.util.List;

/**
 * What a prune keeps and deletes for one source, with the reasons: printed by a dry run,
 * carried out by a real run (manifests first, so an interruption leaves debris, never a
 * broken backup).
 *
 * @param source   source name
 * @param backups  every committed backup, newest first
 * @param segments continuous-archive segments to delete (no longer needed by any kept backup)
 * @param debris   leftovers of uncommitted backups older than the grace period, to delete
 */
public record PrunePlan(String source, List<Entry> backups, List<SegmentEntry> segments, List<Debris> debris) {
    public PrunePlan {
        backups = List.copyOf(backups);
        segments = List.copyOf(segments);
        debris = List.copyOf(debris);
    }

    /** Backups the plan deletes. */
    public List<Entry> deletions() {
        return backups.stream().filter(e -> !e.keep()).toList();
    }

    /**
     * The decision for one backup.
     *
     * @param backupId backup id
     * @param time     its consistent point
     * @param keep     kept or deleted
     * @param reasons  the rules that keep it; empty when deleted
     * @param condition whether it can be counted on; only {@link BackupCondition#OK} backups fill
     *                  retention buckets (the others are kept only as evidence, or, when damaged, never
     *                  deleted by prune; the reasons say which)
     */
    public record Entry(BackupId backupId, Instant time, boolean keep, List<String> reasons,
                        BackupCondition condition) {
        public Entry {
            reasons = List.copyOf(reasons);
            condition = condition == null ? BackupCondition.OK : condition;
        }

        /** An entry for a backup in condition {@link BackupCondition#OK}. */
        public Entry(BackupId backupId, Instant time, boolean keep, List<String> reasons) {
            this(backupId, time, keep, reasons, BackupCondition.OK);
        }
    }
}
