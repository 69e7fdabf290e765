package com.aiplatform.backup.spi;

import java.io.IOException;

/**
 * A long-running continuous archiver (PostgreSQL WAL, MongoDB oplog): it stores numbered
 * segments until asked to stop, then flushes what it holds and returns. It resumes where the
 * stored segments end. Safe to close twice.
 */
public interface ArchiverSession extends AutoCloseable {
    /**
     * Archives until {@link ArchiveControl#stopRequested()}; then stores what it holds and returns.
     * An exception means the archiver stopped on a failure; what it stored before stays valid.
     */
    void run(SegmentSink sink, ArchiveControl control) throws IOException;

    @Override
    void close() throws IOException;
}
