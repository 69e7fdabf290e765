package com.aiplatform.backup.core;

import com.aiplatform.backup.api.Compression;
import com.github.luben.zstd.ZstdInputStreamNoFinalizer;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import net.jpountz.lz4.LZ4FrameInputStream;
import net.jpountz.lz4.LZ4FrameOutputStream;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Compression stages. zstd runs at level 1 with two native workers (PERFORMANCE.md: level 1
 * is the right default and the only level safe to run with workers on incompressible data);
 * lz4 uses 4 MiB frame blocks; gzip runs at level 1.
 */
final class Codecs {
    static final int ZSTD_LEVEL = 1;
    private static final int BUFFER = 64 * 1024;

    private Codecs() {
    }

    /** Wraps {@code out}; closing the result finishes the codec's trailer and closes {@code out}. */
    static OutputStream compress(Compression compression, OutputStream out, int zstdWorkers) throws IOException {
        switch (compression) {
            case ZSTD: {
                ZstdOutputStreamNoFinalizer zstd = new ZstdOutputStreamNoFinalizer(out, ZSTD_LEVEL);
                if (zstdWorkers > 1) {
                    zstd.setWorkers(zstdWorkers);
                }
                return zstd;
            }
            case LZ4:
                return new LZ4FrameOutputStream(out, LZ4FrameOutputStream.BLOCKSIZE.SIZE_4MB);
            case GZIP:
                // Level 1: the format any gunzip reads, at 3x the speed of the default level 6.
                return new GZIPOutputStream(out, BUFFER) {
                    {
                        def.setLevel(java.util.zip.Deflater.BEST_SPEED);
                    }
                };
            case NONE:
                return new FilterOutputStream(out) {
                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        out.write(b, off, len);
                    }
                };
            default:
                throw new IllegalArgumentException("unknown compression " + compression);
        }
    }

    /** Wraps {@code in} with the decoder of {@code compression}. */
    static InputStream decompress(Compression compression, InputStream in) throws IOException {
        switch (compression) {
            case ZSTD:
                return new ZstdInputStreamNoFinalizer(in);
            case LZ4:
                return new LZ4FrameInputStream(in);
            case GZIP:
                return new GZIPInputStream(in, BUFFER);
            case NONE:
                return in;
            default:
                throw new IllegalArgumentException("unknown compression " + compression);
        }
    }
}
