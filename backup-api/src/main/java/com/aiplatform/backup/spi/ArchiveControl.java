package com.aiplatform.backup.spi;

import java.time.Duration;

/** How the engine steers a running archiver, and how the archiver reports its state. */
public interface ArchiveControl {
    /** True once the caller asked the archiver to flush and stop. */
    boolean stopRequested();

    /**
     * Waits up to {@code timeout} or until a stop is requested, whichever comes first.
     *
     * @return true when a stop was requested
     */
    boolean awaitStop(Duration timeout) throws InterruptedException;

    /**
     * Reports the archiver's position and lag (bytes the source has that are not yet stored),
     * for monitoring. Cheap; call as often as convenient.
     */
    void reportPosition(String position, long lagBytes);

    /** Reports a problem found while archiving (a gap, a timeline switch) without stopping. */
    void reportWarning(String message);
}
