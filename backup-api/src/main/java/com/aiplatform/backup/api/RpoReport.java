package com.aiplatform.backup.api;

import java.time.Duration;
import java.time.Instant;

/**
 * Recovery point objective of one source, measured from what storage holds.
 *
 * @param source        source name
 * @param at            when it was measured
 * @param latestPoint   the newest recoverable point (a committed backup's consistent point, or the
 *                      end of the continuous archive after it); null when there is none
 * @param achieved      {@code at - latestPoint}: what would be lost if the source died now
 *                      (null when there is no recoverable point)
 * @param window        the span the worst gap was looked for in
 * @param worstGap      the largest gap between consecutive recoverable points in the window,
 *                      counting the gap up to {@code at}
 * @param worstGapEnd   where that gap ended (the point after it, or {@code at})
 * @param target        the RPO target, or null when the source has none ("rebuildable")
 * @param breached      whether {@code achieved} or {@code worstGap} exceeds the target
 */
public record RpoReport(String source, Instant at, Instant latestPoint, Duration achieved, Duration window,
                        Duration worstGap, Instant worstGapEnd, Duration target, boolean breached) {
}
