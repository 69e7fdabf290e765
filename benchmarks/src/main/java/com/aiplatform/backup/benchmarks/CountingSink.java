package com.aiplatform.backup.benchmarks;

import java.io.OutputStream;

/** A null sink that only counts what it is given, so the output size can be consumed. */
final class CountingSink extends OutputStream {
    private long count;

    @Override
    public void write(int b) {
        count++;
    }

    @Override
    public void write(byte[] b, int off, int len) {
        count += len;
    }

    long count() {
        return count;
    }
}
