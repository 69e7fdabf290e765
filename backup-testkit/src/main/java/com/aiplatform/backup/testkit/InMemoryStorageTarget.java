package com.aiplatform.backup.testkit;

import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.IncompleteUpload;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.StorageKeys;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageObjectExistsException;
import com.aiplatform.backup.spi.StorageTarget;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link StorageTarget} that keeps objects in memory, for tests of the engine and of
 * anything else that writes to storage. It has the visibility semantics of a real target
 * (an upload is invisible until committed, keys are never overwritten, {@link
 * #createIfAbsent} is atomic) and adds what a test needs:
 * <ul>
 *   <li>leak detection: every stream it hands out is tracked until closed, and
 *       {@link #assertNoOpenStreams()} fails listing each leaked stream with the stack trace
 *       of where it was opened (see also {@link InMemoryStorageExtension});</li>
 *   <li>fault injection: {@link #failWritesAfter(Long)}, {@link #failReadsAfter(Long)},
 *       {@link #failCommits(boolean)}, cleared by {@link #resetFaults()};</li>
 *   <li>tampering: {@link #overwriteForTest(String, byte[])} replaces stored bytes, bypassing
 *       immutability, so integrity checks can be tested.</li>
 * </ul>
 * Objects are whole byte arrays, which is fine for tests but not meant for large backups.
 * Thread-safe.
 */
public final class InMemoryStorageTarget implements StorageTarget {
    private final String name;
    private final Clock clock;
    private final ConcurrentHashMap<String, Stored> objects = new ConcurrentHashMap<>();
    private final Map<Object, OpenedAt> openResources = new ConcurrentHashMap<>();
    private final AtomicLong openCounter = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean readOnly;
    private final Map<String, MemoryUpload> uploads = new ConcurrentHashMap<>();
    private final AtomicLong uploadCounter = new AtomicLong();

    private volatile Long failWritesAfter;
    private volatile Long failReadsAfter;
    private volatile boolean failCommits;

    /** A target named {@code memory}. */
    public InMemoryStorageTarget() {
        this("memory");
    }

    /** A target with the given name, stamping objects with the system clock. */
    public InMemoryStorageTarget(String name) {
        this(name, Clock.systemUTC());
    }

    /** A target with the given name, stamping objects' {@code lastModified} from {@code clock}. */
    public InMemoryStorageTarget(String name, Clock clock) {
        this.name = Objects.requireNonNull(name, "name");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public ObjectUpload create(String key) throws IOException {
        StorageKeys.requireValid(key);
        ensureOpen();
        ensureWritable(key);
        if (objects.containsKey(key)) {
            throw new StorageObjectExistsException(key);
        }
        return new MemoryUpload(key);
    }

    @Override
    public boolean createIfAbsent(String key, byte[] content) throws IOException {
        StorageKeys.requireValid(key);
        Objects.requireNonNull(content, "content");
        ensureOpen();
        ensureWritable(key);
        Long limit = failWritesAfter;
        if (limit != null && content.length > limit) {
            throw injectedWriteFailure(key, limit);
        }
        if (failCommits) {
            throw injectedCommitFailure(key);
        }
        return objects.putIfAbsent(key, new Stored(content.clone(), clock.instant())) == null;
    }

    @Override
    public InputStream open(String key) throws IOException {
        return open(key, 0);
    }

    @Override
    public InputStream open(String key, long offset) throws IOException {
        StorageKeys.requireValid(key);
        if (offset < 0) {
            throw new IllegalArgumentException("offset must be >= 0, not " + offset);
        }
        ensureOpen();
        Stored stored = objects.get(key);
        if (stored == null) {
            throw new StorageException("object '" + key + "' does not exist on storage target '"
                    + name + "'", false);
        }
        int from = (int) Math.min(offset, stored.content.length);
        return new MemoryInputStream(key, stored.content, from);
    }

    @Override
    public Optional<StorageObject> stat(String key) throws IOException {
        StorageKeys.requireValid(key);
        ensureOpen();
        Stored stored = objects.get(key);
        return stored == null ? Optional.empty() : Optional.of(stored.describe(key));
    }

    @Override
    public List<StorageObject> list(String prefix) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        ensureOpen();
        List<StorageObject> result = new ArrayList<>();
        for (Map.Entry<String, Stored> e : objects.entrySet()) {
            if (e.getKey().startsWith(prefix)) {
                result.add(e.getValue().describe(e.getKey()));
            }
        }
        result.sort((a, b) -> a.key().compareTo(b.key()));
        return result;
    }

    @Override
    public boolean delete(String key) throws IOException {
        StorageKeys.requireValid(key);
        ensureOpen();
        ensureWritable(key);
        return objects.remove(key) != null;
    }

    /** Uploads created and neither committed nor closed (in memory only live ones can be). */
    @Override
    public List<IncompleteUpload> incompleteUploads(String prefix) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        ensureOpen();
        List<IncompleteUpload> result = new ArrayList<>();
        for (MemoryUpload u : uploads.values()) {
            IncompleteUpload described = u.describe();
            if (described != null && described.key().startsWith(prefix)) {
                result.add(described);
            }
        }
        result.sort((a, b) -> a.key().compareTo(b.key()) != 0 ? a.key().compareTo(b.key())
                : a.uploadId().compareTo(b.uploadId()));
        return result;
    }

    @Override
    public boolean deleteIncompleteUpload(IncompleteUpload upload) throws IOException {
        ensureOpen();
        MemoryUpload u = uploads.get(upload.uploadId());
        if (u == null || !u.key.equals(upload.key())) {
            return false;
        }
        return u.discard();
    }

    @Override
    public List<Problem> check() {
        return check(Access.WRITE);
    }

    @Override
    public List<Problem> check(Access access) {
        Objects.requireNonNull(access, "access");
        if (closed.get()) {
            return List.of(new Problem("closed", "storage target '" + name + "' is closed"));
        }
        return access == Access.WRITE && readOnly
                ? List.of(new Problem("not-writable", "storage target '" + name + "' is read-only"))
                : List.of();
    }

    /**
     * While true, the target behaves like a read-only mount: reads work, every write
     * ({@link #create}, {@link #createIfAbsent}, {@link #delete}) fails with a
     * {@link StorageException} and {@code check(WRITE)} reports {@code not-writable}.
     */
    public void readOnly(boolean readOnly) {
        this.readOnly = readOnly;
    }

    /** Closes the target; later operations fail with {@link IllegalStateException}. Safe to call twice. */
    @Override
    public void close() {
        closed.set(true);
    }

    // ---- test helpers -------------------------------------------------------------------

    /**
     * Fails with an {@link AssertionError} if any stream or upload handed out by this target
     * is still open, naming each with the stack trace of the code that opened it. A committed
     * upload counts as closed.
     */
    public void assertNoOpenStreams() {
        List<OpenedAt> open = new ArrayList<>(openResources.values());
        if (open.isEmpty()) {
            return;
        }
        open.sort((a, b) -> Long.compare(a.sequence, b.sequence));
        StringBuilder message = new StringBuilder()
                .append(open.size()).append(" stream(s) of storage target '").append(name)
                .append("' were not closed:");
        for (OpenedAt o : open) {
            StringWriter trace = new StringWriter();
            o.where.printStackTrace(new PrintWriter(trace));
            message.append(System.lineSeparator()).append("- ").append(o.description)
                    .append(", ").append(trace);
        }
        AssertionError error = new AssertionError(message.toString().stripTrailing());
        for (OpenedAt o : open) {
            error.addSuppressed(o.where);
        }
        throw error;
    }

    /** Descriptions of the streams and uploads that are open now ({@code "InputStream of 'a/b'"}). */
    public List<String> openStreams() {
        List<OpenedAt> open = new ArrayList<>(openResources.values());
        open.sort((a, b) -> Long.compare(a.sequence, b.sequence));
        return open.stream().map(o -> o.description).toList();
    }

    /**
     * From now on, every upload (and {@link #createIfAbsent}) fails with a
     * {@link StorageException} as soon as more than {@code bytes} bytes have been written to
     * it. {@code null} clears the fault.
     */
    public void failWritesAfter(Long bytes) {
        if (bytes != null && bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, not " + bytes);
        }
        this.failWritesAfter = bytes;
    }

    /**
     * From now on, every stream opened for reading fails with a {@link StorageException} once
     * {@code bytes} bytes have been read from it. {@code null} clears the fault.
     */
    public void failReadsAfter(Long bytes) {
        if (bytes != null && bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, not " + bytes);
        }
        this.failReadsAfter = bytes;
    }

    /** While true, {@link ObjectUpload#commit()} and {@link #createIfAbsent} fail and store nothing. */
    public void failCommits(boolean fail) {
        this.failCommits = fail;
    }

    /** Clears every injected fault. */
    public void resetFaults() {
        failWritesAfter = null;
        failReadsAfter = null;
        failCommits = false;
    }

    /**
     * Replaces (or creates) an object's bytes, bypassing immutability, to simulate corruption
     * or tampering. Streams opened earlier keep reading the old bytes.
     */
    public void overwriteForTest(String key, byte[] content) {
        StorageKeys.requireValid(key);
        objects.put(key, new Stored(content.clone(), clock.instant()));
    }

    /** A copy of an object's bytes, or empty when it does not exist. */
    public Optional<byte[]> contentOf(String key) {
        Stored stored = objects.get(StorageKeys.requireValid(key));
        return stored == null ? Optional.empty() : Optional.of(stored.content.clone());
    }

    /** The keys of every complete object, sorted. */
    public SortedSet<String> keys() {
        return new TreeSet<>(objects.keySet());
    }

    // ---- internals ----------------------------------------------------------------------

    private void ensureWritable(String key) throws StorageException {
        if (readOnly) {
            throw new StorageException("cannot write object '" + key + "' to storage target '" + name
                    + "': it is read-only", false);
        }
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("storage target '" + name + "' is closed");
        }
    }

    private void track(Object resource, String description) {
        openResources.put(resource, new OpenedAt(openCounter.incrementAndGet(), description,
                new Throwable(description + " opened here")));
    }

    private void untrack(Object resource) {
        openResources.remove(resource);
    }

    private StorageException injectedWriteFailure(String key, long limit) {
        return new StorageException("injected failure: writing object '" + key + "' to storage target '"
                + name + "' failed after " + limit + " bytes", false);
    }

    private StorageException injectedCommitFailure(String key) {
        return new StorageException("injected failure: committing object '" + key
                + "' to storage target '" + name + "' failed", false);
    }

    private record Stored(byte[] content, Instant lastModified) {
        StorageObject describe(String key) {
            return new StorageObject(key, content.length, lastModified);
        }
    }

    private record OpenedAt(long sequence, String description, Throwable where) {
    }

    /** Buffers the bytes; commit stores them if the key is still free. */
    private final class MemoryUpload extends ObjectUpload {
        private final String key;
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        private boolean committed;
        private boolean closed;
        private boolean failed;
        private final String uploadId = "upload-" + uploadCounter.incrementAndGet();
        private Instant lastWrite = clock.instant();

        MemoryUpload(String key) {
            this.key = key;
            track(this, "ObjectUpload of '" + key + "'");
            uploads.put(uploadId, this);
        }

        synchronized IncompleteUpload describe() {
            return committed || closed ? null : new IncompleteUpload(key, uploadId, buffer.size(), lastWrite);
        }

        /** Throws the upload away as a target removing leftovers would: a later commit fails. */
        synchronized boolean discard() {
            if (committed || closed) {
                return false;
            }
            failed = true;
            buffer.reset();
            uploads.remove(uploadId);
            return true;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            ensureWritable(1);
            buffer.write(b);
            lastWrite = clock.instant();
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            ensureWritable(len);
            buffer.write(b, off, len);
            lastWrite = clock.instant();
        }

        private void ensureWritable(int len) throws IOException {
            if (committed || closed) {
                throw new StorageException("upload of object '" + key + "' to storage target '" + name
                        + "' is " + (committed ? "committed" : "closed") + "; no more writes", false);
            }
            Long limit = failWritesAfter;
            if (limit != null && buffer.size() + (long) len > limit) {
                failed = true;
                throw injectedWriteFailure(key, limit);
            }
        }

        @Override
        public synchronized void commit() throws IOException {
            if (committed) {
                return;
            }
            if (closed) {
                throw new StorageException("upload of object '" + key + "' to storage target '" + name
                        + "' was closed without commit; it cannot be committed now", false);
            }
            if (failed) {
                throw new StorageException("upload of object '" + key + "' to storage target '" + name
                        + "' cannot be committed: an earlier write failed", false);
            }
            if (failCommits) {
                throw injectedCommitFailure(key);
            }
            Stored previous = objects.putIfAbsent(key, new Stored(buffer.toByteArray(), clock.instant()));
            if (previous != null) {
                throw new StorageObjectExistsException(key);
            }
            committed = true;
            buffer.reset();
            untrack(this);
            uploads.remove(uploadId);
        }

        @Override
        public synchronized void close() {
            uploads.remove(uploadId);
            if (!closed) {
                closed = true;
                buffer.reset();
                untrack(this);
            }
        }
    }

    /** Reads a snapshot of the stored bytes; may fail after a configured number of bytes. */
    private final class MemoryInputStream extends InputStream {
        private final String key;
        private final ByteArrayInputStream in;
        private final Long failAfter;
        private long read;
        private boolean closed;

        MemoryInputStream(String key, byte[] content, int from) {
            this.key = key;
            this.in = new ByteArrayInputStream(content, from, content.length - from);
            this.failAfter = failReadsAfter;
            track(this, "InputStream of '" + key + "'");
        }

        @Override
        public synchronized int read() throws IOException {
            ensureReadable(1);
            int b = in.read();
            if (b >= 0) {
                read++;
            }
            return b;
        }

        @Override
        public synchronized int read(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                ensureReadable(0);
                return 0;
            }
            int allowed = ensureReadable(len);
            int n = in.read(b, off, allowed);
            if (n > 0) {
                read += n;
            }
            return n;
        }

        @Override
        public synchronized long skip(long n) throws IOException {
            ensureReadable(0);
            long skipped = in.skip(n);
            read += skipped;
            return skipped;
        }

        @Override
        public synchronized int available() throws IOException {
            ensureReadable(0);
            return in.available();
        }

        /** Returns how many of {@code len} bytes may be read before the injected failure. */
        private int ensureReadable(int len) throws IOException {
            if (closed) {
                throw new IOException("stream of object '" + key + "' from storage target '" + name
                        + "' is closed");
            }
            if (failAfter == null || len == 0) {
                return len;
            }
            long left = failAfter - read;
            if (left <= 0 && in.available() > 0) {
                throw new StorageException("injected failure: reading object '" + key
                        + "' from storage target '" + name + "' failed after " + failAfter + " bytes", false);
            }
            return (int) Math.max(1, Math.min(len, left));
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                untrack(this);
            }
        }
    }
}
