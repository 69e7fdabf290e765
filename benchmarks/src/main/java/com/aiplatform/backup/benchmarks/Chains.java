package com.aiplatform.backup.benchmarks;

import com.google.crypto.tink.StreamingAead;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The whole streaming path built from the libraries directly: zstd-1, then Tink streaming
 * AEAD, then SHA-256 over the ciphertext (what the catalog records), then the sink. Each
 * method returns the SHA-256 of the bytes that reached the sink and closes the sink.
 */
final class Chains {
    /** Size of the buffers handed from the compressing thread to the seal thread. */
    static final int HAND_OFF_BYTES = 1 << 20;
    /** Capacity of the queue between the two threads, in buffers. */
    static final int QUEUE_CAPACITY = 4;

    private Chains() {
    }

    /** Everything on the calling thread: zstd (with {@code workers}, 0 = none) → AEAD → SHA-256 → sink. */
    static byte[] oneThread(Input input, int workers, StreamingAead aead, OutputStream sink)
            throws IOException, GeneralSecurityException {
        MessageDigest sha = sha256();
        try (OutputStream z = Codecs.zstd(
                aead.newEncryptingStream(new DigestOutputStream(sink, sha), Codecs.AAD), 1, workers)) {
            input.writeTo(z);
        }
        return sha.digest();
    }

    /**
     * zstd-1 with {@code workers} on the calling thread; its output is cut into 1 MiB buffers
     * handed through a bounded queue to the seal thread (one thread of {@code sealer}), which
     * encrypts, hashes and writes to the sink. Buffers are recycled through a second queue,
     * so the compressor can be at most {@link #QUEUE_CAPACITY} + 1 buffers ahead.
     */
    static byte[] twoThreads(Input input, int workers, StreamingAead aead, OutputStream sink,
            ExecutorService sealer) throws IOException, GeneralSecurityException {
        HandOffOutputStream handOff = new HandOffOutputStream();
        Future<byte[]> sealing = sealer.submit(() -> seal(handOff, aead, sink));
        handOff.sealing = sealing;
        boolean done = false;
        try {
            try (OutputStream z = Codecs.zstd(handOff, 1, workers)) {
                input.writeTo(z);
            }
            byte[] digest = handOff.await();
            done = true;
            return digest;
        } finally {
            if (!done) {
                sealing.cancel(true);
            }
        }
    }

    private static byte[] seal(HandOffOutputStream handOff, StreamingAead aead, OutputStream sink)
            throws Exception {
        MessageDigest sha = sha256();
        try (OutputStream enc = aead.newEncryptingStream(new DigestOutputStream(sink, sha), Codecs.AAD)) {
            while (true) {
                ByteBuffer b = handOff.full.take();
                if (b == HandOffOutputStream.END) {
                    break;
                }
                enc.write(b.array(), 0, b.limit());
                b.clear();
                handOff.free.put(b);
            }
        }
        return sha.digest();
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** Collects writes into 1 MiB buffers and queues each full one for the seal thread. */
    private static final class HandOffOutputStream extends OutputStream {
        static final ByteBuffer END = ByteBuffer.allocate(0);
        private static final long POLL_MILLIS = 50;

        final BlockingQueue<ByteBuffer> full = new ArrayBlockingQueue<>(QUEUE_CAPACITY + 1);
        final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(QUEUE_CAPACITY + 2);
        volatile Future<byte[]> sealing;
        private ByteBuffer current;
        private boolean closed;

        HandOffOutputStream() {
            // QUEUE_CAPACITY queued, one being filled, one being sealed
            for (int i = 0; i < QUEUE_CAPACITY + 2; i++) {
                free.add(ByteBuffer.allocate(HAND_OFF_BYTES));
            }
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (current == null) {
                    current = takeFree();
                }
                int n = Math.min(len, current.remaining());
                current.put(b, off, n);
                off += n;
                len -= n;
                if (!current.hasRemaining()) {
                    current.flip();
                    queue(current);
                    current = null;
                }
            }
        }

        /** Queues what is buffered and the end marker; the compressor closes this stream. */
        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            if (current != null && current.position() > 0) {
                current.flip();
                queue(current);
            }
            current = null;
            queue(END);
        }

        /** Waits for the seal thread to finish and returns its digest or rethrows its failure. */
        byte[] await() throws IOException {
            try {
                return sealing.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the seal thread");
            } catch (ExecutionException | CancellationException e) {
                throw new IOException("seal thread failed", e.getCause() == null ? e : e.getCause());
            }
        }

        private ByteBuffer takeFree() throws IOException {
            try {
                ByteBuffer b;
                while ((b = free.poll(POLL_MILLIS, TimeUnit.MILLISECONDS)) == null) {
                    failIfSealerStopped();
                }
                return b;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for a free buffer");
            }
        }

        private void queue(ByteBuffer b) throws IOException {
            try {
                while (!full.offer(b, POLL_MILLIS, TimeUnit.MILLISECONDS)) {
                    failIfSealerStopped();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while handing off a buffer");
            }
        }

        private void failIfSealerStopped() throws IOException {
            if (sealing.isDone()) {
                await();
                throw new IOException("seal thread stopped before the end of the stream");
            }
        }
    }

    /**
     * A file sink that forces its bytes to the device before closing, so a chain that ends
     * here is timed until its data is durable.
     */
    static final class SyncedFileOutputStream extends OutputStream {
        private final FileOutputStream file;
        private boolean closed;

        SyncedFileOutputStream(Path path) throws IOException {
            this.file = new FileOutputStream(path.toFile());
        }

        @Override
        public void write(int b) throws IOException {
            file.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            file.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            try (file) {
                file.getFD().sync();
            }
        }
    }
}
