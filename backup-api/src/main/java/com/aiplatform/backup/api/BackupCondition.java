package com.aiplatform.backup.api;

/**
 * Whether a committed backup can be counted on. Only {@link #OK} backups fill retention
 * buckets, count as recoverable points for RPO and are chosen by {@code latest} for a restore;
 * the others stay listed, marked, with the reason.
 */
public enum BackupCondition {
    /** Readable manifest, no failed check, and (for an incremental) a parent chain that is OK too. */
    OK,
    /** Its latest recorded check (verify or drill) failed. */
    KNOWN_BAD,
    /** An incremental whose parent chain holds a known-bad, damaged or missing backup. */
    BROKEN_CHAIN,
    /** Its manifest cannot be read: unparseable, edited (digest or seal mismatch), or from a newer format. */
    DAMAGED;

    /** The lower-case, dashed name used in listings and JSON ({@code known-bad}). */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
}
