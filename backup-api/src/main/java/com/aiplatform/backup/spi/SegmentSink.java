package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.SegmentEntry;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;

/**
 * Where a continuous archiver stores segments. Each segment streams through the same
 * pipeline as backup artifacts; closing the stream normally stores it (data first, then its
 * record). Storing a complete segment removes the partial flushes of the same name; storing a
 * partial flush removes older partial flushes of that name.
 */
public interface SegmentSink {
    /** Opens a segment for writing; {@code close()} stores it, an exception thrown before close discards it. */
    OutputStream openSegment(SegmentSpec spec) throws IOException;

    /** Segments already stored for this source (complete ones, and the newest partial per name), oldest first. */
    List<SegmentEntry> stored() throws IOException;
}
