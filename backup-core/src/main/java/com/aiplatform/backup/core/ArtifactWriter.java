package com.aiplatform.backup.core;

import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.BackupException;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.ObjectUpload;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongConsumer;

/**
 * The backup pipeline of one artifact. The provider writes raw bytes into this stream, which
 * compresses them on the caller's thread (zstd with native workers) and hands compressed
 * chunks through a bounded queue to a seal thread that encrypts, hashes, counts and uploads.
 * Memory is bounded by {@code QUEUE_DEPTH + 2} chunks whatever the artifact's size.
 *
 * <p>{@link #close()} finishes the artifact: codec trailer, final AEAD segment, commit of the
 * stored object. {@link #abort()} discards it; nothing becomes visible.
 */
final class ArtifactWriter extends OutputStream {
    static final int CHUNK = 1 << 20;
    static final int QUEUE_DEPTH = 4;
    private static final Chunk END = new Chunk(new byte[0], 0);

    private final String name;
    private final Compression compression;
    private final String cipher;
    private final String keyId;
    private final ObjectUpload upload;
    private final LongConsumer progress;
    private final OutputStream compressor;
    private final BlockingQueue<Chunk> filled = new ArrayBlockingQueue<>(QUEUE_DEPTH);
    private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(QUEUE_DEPTH + 2);
    private final CompletableFuture<ArtifactEntry> sealed = new CompletableFuture<>();
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile boolean aborted;
    private byte[] current;
    private int fill;
    private long rawBytes;

    /**
     * @param encryption   null when not encrypting
     * @param zstdWorkers  native zstd worker threads (1 = compress on the caller's thread only)
     */
    ArtifactWriter(String name, Compression compression, StreamEncryption encryption, String associatedData,
                   ObjectUpload upload, Executor sealExecutor, int zstdWorkers, LongConsumer progress)
            throws IOException {
        this.name = name;
        this.compression = compression;
        this.cipher = encryption == null ? StreamEncryption.NONE : StreamEncryption.CIPHER;
        this.keyId = encryption == null ? null : encryption.keyId();
        this.upload = upload;
        this.progress = progress;
        HashingOutputStream hashed = new HashingOutputStream(upload);
        OutputStream sealing = encryption == null
                ? new NonClosing(hashed)
                : encryption.encrypt(new NonClosing(hashed), associatedData);
        sealExecutor.execute(() -> seal(sealing, hashed));
        this.compressor = Codecs.compress(compression, new Handoff(), zstdWorkers);
    }

    String name() {
        return name;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (finished.get()) {
            throw new IOException("artifact " + name + " is closed");
        }
        compressor.write(b, off, len);
        rawBytes += len;
        progress.accept(len);
    }

    @Override
    public void flush() {
        // Chunks are handed over when full; flushing mid-stream would only shrink them.
    }

    /** Finishes and commits the artifact. Throws if any stage failed. */
    @Override
    public void close() throws IOException {
        if (!finished.compareAndSet(false, true)) {
            return;
        }
        try {
            compressor.close(); // writes the codec trailer into the hand-off, which sends END
            result();
        } catch (IOException | RuntimeException e) {
            abort();
            throw e;
        }
    }

    /** Discards the artifact; its upload is aborted and nothing becomes visible. Safe to call twice. */
    void abort() {
        finished.set(true);
        aborted = true;
        filled.clear();
        filled.offer(END);
        try {
            upload.close();
        } catch (IOException ignored) {
            // the upload is being thrown away
        }
    }

    /** The manifest entry, once {@link #close()} returned normally. */
    ArtifactEntry result() throws IOException {
        try {
            ArtifactEntry entry = sealed.get();
            return new ArtifactEntry(name, rawBytes, entry.storedSize(), entry.storedSha256(),
                    compression.id(), cipher, keyId);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while storing artifact " + name);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            throw new StorageException("storing artifact " + name + " failed: " + cause, false, cause);
        }
    }

    boolean isDone() {
        return finished.get() && sealed.isDone();
    }

    /** Runs on the seal thread: encrypt, hash and upload every chunk, then commit. */
    private void seal(OutputStream sealing, HashingOutputStream hashed) {
        try {
            while (true) {
                Chunk chunk = filled.take();
                if (chunk == END) {
                    break;
                }
                sealing.write(chunk.data(), 0, chunk.length());
                free.offer(chunk.data());
            }
            if (aborted) {
                throw new BackupException("artifact " + name + " was aborted", false);
            }
            sealing.close(); // final AEAD segment (no-op close of the upload through NonClosing)
            upload.commit();
            sealed.complete(new ArtifactEntry(name, rawBytes, hashed.count(), hashed.hex(),
                    compression.id(), cipher, keyId));
        } catch (Throwable t) {
            aborted = true;
            try {
                upload.close();
            } catch (IOException | RuntimeException ignored) {
                // already failing
            }
            if (t instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            sealed.completeExceptionally(t);
        }
    }

    /** A buffer of compressed bytes and how much of it is filled. */
    private record Chunk(byte[] data, int length) { }

    /** Receives compressed bytes on the caller's thread and queues full chunks for the seal thread. */
    private final class Handoff extends OutputStream {
        private boolean closed;

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (current == null) {
                    current = takeFree();
                    fill = 0;
                }
                int n = Math.min(len, current.length - fill);
                System.arraycopy(b, off, current, fill, n);
                fill += n;
                off += n;
                len -= n;
                if (fill == current.length) {
                    send(new Chunk(current, fill));
                    current = null;
                }
            }
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            if (current != null && fill > 0) {
                send(new Chunk(current, fill));
                current = null;
            }
            send(END);
        }

        private byte[] takeFree() throws IOException {
            byte[] chunk = free.poll();
            return chunk != null ? chunk : new byte[CHUNK];
        }

        private void send(Chunk chunk) throws IOException {
            try {
                while (!filled.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
                    failIfSealFailed();
                }
                failIfSealFailed();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                abort();
                throw new InterruptedIOException("interrupted while storing artifact " + name);
            }
        }

        private void failIfSealFailed() throws IOException {
            if (sealed.isCompletedExceptionally()) {
                result(); // rethrows the seal thread's failure
            }
            if (aborted) {
                throw new BackupException("artifact " + name + " was aborted", false);
            }
        }
    }

    /** Lets the AEAD stream finish without closing (and so aborting) the upload. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            out.flush();
        }
    }
}
