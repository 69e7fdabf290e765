package com.aiplatform.backup.api;

import java.time.Duration;

/**
 * Result of a restore.
 *
 * @param source      source name
 * @param backupId    backup restored
 * @param storedBytes bytes read from storage
 * @param rawBytes    bytes handed to the provider after decryption and decompression
 * @param duration    wall-clock time, verification included
 */
public record RestoreReport(String source, BackupId backupId, long storedBytes, long rawBytes, Duration duration) {
}
