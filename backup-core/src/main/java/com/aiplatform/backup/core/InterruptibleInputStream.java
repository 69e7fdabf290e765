package com.aiplatform.backup.core;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;

/**
 * Fails a read once the reading thread is interrupted. Reads of local files through a
 * FileChannel do not notice an interrupt, so without this a verify or restore of a large
 * artifact would go on to its end after SIGINT/SIGTERM.
 */
final class InterruptibleInputStream extends FilterInputStream {
    private final String what;

    InterruptibleInputStream(InputStream in, String what) {
        super(in);
        this.what = what;
    }

    private void check() throws InterruptedIOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("interrupted while reading " + what);
        }
    }

    @Override
    public int read() throws IOException {
        check();
        return super.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        check();
        return super.read(b, off, len);
    }

    @Override
    public long skip(long n) throws IOException {
        check();
        return super.skip(n);
    }
}
