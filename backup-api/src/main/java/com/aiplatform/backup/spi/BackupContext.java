package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.Manifest;

import java.util.Optional;

/**
 * What the engine tells a backup session about the backup it is writing.
 *
 * @param backupId      id of the backup being written
 * @param previous      the newest committed backup of this source, for incrementals; may be empty
 * @param incremental   true when the caller asked for an incremental backup
 */
public record BackupContext(BackupId backupId, Optional<Manifest> previous, boolean incremental) {
}
