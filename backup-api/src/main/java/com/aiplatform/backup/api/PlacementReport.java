package com.aiplatform.backup.api;

import java.util.List;

/**
 * What placing a source's backups on a storage tier did: which backups the tier holds by its
 * rules, which were copied there (verified), and which were removed from it.
 *
 * @param source  source name
 * @param tier    storage target name
 * @param held    backups the tier holds after placement, newest first
 * @param copied  backups copied to the tier in this run
 * @param removed backups removed from the tier in this run (no longer held by its rules)
 */
public record PlacementReport(String source, String tier, List<BackupId> held, List<BackupId> copied,
                              List<BackupId> removed) {
    public PlacementReport {
        held = List.copyOf(held);
        copied = List.copyOf(copied);
        removed = List.copyOf(removed);
    }
}
