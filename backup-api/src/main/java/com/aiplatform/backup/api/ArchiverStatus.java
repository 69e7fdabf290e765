package com.aiplatform.backup.api;

import java.time.Instant;
import java.util.List;

/**
 * State of a running (or stopped) continuous archiver.
 *
 * @param source        source name
 * @param running       whether it is still running
 * @param position      the last position it reported, or null
 * @param lagBytes      bytes the source has that are not stored yet, as last reported; -1 when unknown
 * @param lastStored    when the last segment (or partial flush) was stored, or null
 * @param coveredUntil  the newest recoverable point stored, or null
 * @param warnings      problems it reported and went on (gaps, timeline switches), oldest first
 * @param failure       why it stopped, when it stopped on a failure; else null
 */
public record ArchiverStatus(String source, boolean running, String position, long lagBytes, Instant lastStored,
                             Instant coveredUntil, List<String> warnings, String failure) {
    public ArchiverStatus {
        warnings = List.copyOf(warnings);
    }
}
