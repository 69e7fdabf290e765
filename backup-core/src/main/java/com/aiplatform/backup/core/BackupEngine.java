package com.aiplatform.backup.core;

import com.aiplatform.backup.api.ArchiverStatus;
import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.BackupException;
import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.api.BackupKind;
import com.aiplatform.backup.api.BackupListener;
import com.aiplatform.backup.api.BackupResult;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.Debris;
import com.aiplatform.backup.api.DrillReport;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.ListedBackup;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.api.PlacementReport;
import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.PrunePlan;
import com.aiplatform.backup.api.RestoreReport;
import com.aiplatform.backup.api.RpoReport;
import com.aiplatform.backup.api.SegmentEntry;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.api.VerifyReport;
import com.aiplatform.backup.spi.ArtifactSink;
import com.aiplatform.backup.spi.ArtifactSource;
import com.aiplatform.backup.spi.BackupContext;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.BackupSession;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.RestoreSession;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.spi.StorageKeys;
import com.aiplatform.backup.spi.StorageTarget;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

/**
 * The backup engine: the one class callers embed. Backs a source up through the streaming
 * pipeline (compress, encrypt, hash, store) and commits the manifest last; lists, describes,
 * verifies, restores and deletes backups. Thread-safe; close it to stop its threads.
 *
 * <pre>{@code
 * try (BackupEngine engine = BackupEngine.builder()
 *         .storage(new FileSystemStorageTarget("local", Path.of("/var/backups/platform")))
 *         .build()) {
 *     Manifest m = engine.backup(new DirectoryConfig("kafka-config", Path.of("/etc/kafka")));
 *     engine.restore(new DirectoryConfig("kafka-config", Path.of("/etc/kafka")), "latest",
 *             RestoreOptions.intoDirectory(Path.of("/tmp/kafka-restored")));
 * }
 * }</pre>
 */
public final class BackupEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackupEngine.class);
    private static final Pattern SOURCE_NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,99}");

    private final StorageTarget storage;
    private final Compression compression;
    private final Map<String, Compression> sourceCompression;
    private final StreamEncryption encryption;
    private final BackupListener listener;
    private final Map<String, BackupProvider<?>> providersByEngine;
    private final int zstdWorkers;
    private final ExecutorService sealThreads;
    private final Catalog catalog;
    private final java.time.Duration lockWait;
    private final java.time.Duration lockLease;

    private BackupEngine(Builder b) throws BackupException {
        this.storage = Objects.requireNonNull(b.storage, "storage is required");
        this.compression = b.compression;
        this.sourceCompression = Map.copyOf(b.sourceCompression);
        this.encryption = b.keys == null ? null : StreamEncryption.load(b.keys);
        this.listener = b.listener;
        this.zstdWorkers = b.zstdWorkers;
        this.lockWait = b.lockWait;
        this.lockLease = b.lockLease;
        Map<String, BackupProvider<?>> providers = new LinkedHashMap<>();
        for (BackupProvider<?> p : b.providers) {
            providers.put(p.engine(), p);
        }
        if (b.discoverProviders) {
            @SuppressWarnings("rawtypes")
            ServiceLoader<BackupProvider> loader = ServiceLoader.load(BackupProvider.class,
                    BackupEngine.class.getClassLoader());
            for (BackupProvider<?> p : loader) {
                providers.putIfAbsent(p.engine(), p);
            }
        }
        providers.putIfAbsent(DirectoryBackupProvider.ENGINE, new DirectoryBackupProvider());
        this.providersByEngine = Collections.unmodifiableMap(providers);
        AtomicInteger threadNumber = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "backup-seal-" + threadNumber.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.sealThreads = Executors.newCachedThreadPool(factory);
        this.catalog = new Catalog(storage);
    }

    /** A new builder; only {@link Builder#storage} is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder of a {@link BackupEngine}. */
    public static final class Builder {
        private StorageTarget storage;
        private Compression compression = Compression.ZSTD;
        private final Map<String, Compression> sourceCompression = new LinkedHashMap<>();
        private KeyProvider keys;
        private BackupListener listener = BackupListener.NONE;
        private final List<BackupProvider<?>> providers = new ArrayList<>();
        private boolean discoverProviders = true;
        private int zstdWorkers = Math.min(2, Runtime.getRuntime().availableProcessors());
        private java.time.Duration lockWait = java.time.Duration.ZERO;
        private java.time.Duration lockLease = SourceLock.DEFAULT_LEASE;

        Builder() {
        }

        /**
         * How long the lock of a source outlives its holder: the holder refreshes it every third
         * of this while it runs, and another process takes a lock over once this has passed
         * without a refresh (a lock whose holder ran on this host and is gone is taken over at
         * once). Default 3 minutes; at least 1 second. Pick it well above the longest pause a
         * live process may have (a stop-the-world pause, a storage outage).
         */
        public Builder lockLease(java.time.Duration lease) {
            if (lease == null || lease.compareTo(java.time.Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("lockLease must be at least 1 second, not " + lease);
            }
            this.lockLease = lease;
            return this;
        }

        /**
         * How long a backup or prune waits for another one of the same source to finish before
         * failing with {@link com.aiplatform.backup.api.SourceLockedException}; default zero (fail at once).
         */
        public Builder lockWait(java.time.Duration wait) {
            if (wait == null || wait.isNegative()) {
                throw new IllegalArgumentException("lockWait must be zero or positive, not " + wait);
            }
            this.lockWait = wait;
            return this;
        }

        /** The storage target backups are written to and read from (required). */
        public Builder storage(StorageTarget storage) {
            this.storage = Objects.requireNonNull(storage, "storage");
            return this;
        }

        /** Codec for new backups; default {@link Compression#ZSTD} at level 1. Restores read any codec. */
        public Builder compression(Compression compression) {
            this.compression = Objects.requireNonNull(compression, "compression");
            return this;
        }

        /**
         * Codec for new backups and archive segments of one source, instead of
         * {@link #compression(Compression)}: {@link Compression#NONE} or {@link Compression#LZ4} for
         * data that is already compressed (Kafka topics whose producers compress, for one), where
         * zstd would spend CPU for little.
         */
        public Builder compression(String source, Compression compression) {
            requireSourceName(source);
            this.sourceCompression.put(source, Objects.requireNonNull(compression, "compression"));
            return this;
        }

        /** Encrypts new backups and decrypts existing ones with this key; default none. Loaded at build. */
        public Builder encryption(KeyProvider keys) {
            this.keys = keys;
            return this;
        }

        /** Receives progress and completion events; default none. */
        public Builder listener(BackupListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** Registers a provider explicitly; it wins over one found by ServiceLoader for the same engine. */
        public Builder provider(BackupProvider<?> provider) {
            this.providers.add(Objects.requireNonNull(provider, "provider"));
            return this;
        }

        /** Whether to find providers on the class path with ServiceLoader; default true. */
        public Builder discoverProviders(boolean discover) {
            this.discoverProviders = discover;
            return this;
        }

        /** Native zstd worker threads per artifact; default 2 (or 1 on a one-core machine). */
        public Builder zstdWorkers(int workers) {
            if (workers < 1 || workers > 64) {
                throw new IllegalArgumentException("zstdWorkers must be between 1 and 64, not " + workers);
            }
            this.zstdWorkers = workers;
            return this;
        }

        /**
         * Builds the engine; loads the encryption key now so a missing key fails here.
         *
         * @throws BackupException when the key cannot be loaded
         */
        public BackupEngine build() throws BackupException {
            return new BackupEngine(this);
        }
    }

    /** The storage target this engine uses. */
    public StorageTarget storage() {
        return storage;
    }

    /** Backs up a source and returns the committed manifest. */
    public Manifest backup(SourceConfig source) throws IOException {
        return backup(source, false);
    }

    /**
     * Backs up a source, incrementally on its newest backup when {@code incremental} and the
     * provider supports it. The manifest is written last; if anything fails, no manifest is
     * written and the objects already stored are debris ({@link #debris}).
     */
    public Manifest backup(SourceConfig source, boolean incremental) throws IOException {
        String name = sourceName(source);
        BackupProvider<SourceConfig> provider = providerFor(source);
        requireAccess(storage, StorageTarget.Access.WRITE, "backup of '" + name + "'");
        List<Problem> problems = provider.check(source);
        if (!problems.isEmpty()) {
            throw new SourceException("backup of '" + name + "' cannot start: " + join(problems), false);
        }
        Optional<Manifest> previous = Optional.empty();
        if (incremental) {
            // the newest backup that can be counted on: an incremental on a known-bad one could never be restored
            previous = newestRecoverable(catalog.listAll(name, encryption));
        }
        Instant started = Instant.now();
        BackupId id = BackupId.generate(started);
        ProgressTracker progress = new ProgressTracker(listener, name, id);
        listener.onEvent(new BackupEvent.Started(name, id, "backup"));
        PipelineSink sink = new PipelineSink(name, id, progress);
        try (SourceLock lock = SourceLock.acquire(storage, name, "backup " + id, lockWait, lockLease);
             BackupSession session = provider.openBackup(source, new BackupContext(id, previous, incremental))) {
            BackupResult result = session.run(sink);
            List<ArtifactEntry> entries = sink.finish();
            Manifest manifest = new Manifest(Manifest.CURRENT_FORMAT, id, name, provider.engine(), result.kind(),
                    result.method(), result.parent(), started, Instant.now(), result.consistentPoint(), entries,
                    new TreeMap<>(result.metadata()), new TreeMap<>(result.contentSummary()));
            sink.checkInterrupted();
            lock.requireHeld();
            commitManifest(manifest);
            listener.onEvent(new BackupEvent.Completed(name, id, "backup", progress.elapsed(), progress.bytes()));
            LOG.info("backup {} of {} committed: {} artifacts, {} bytes stored", id, name, entries.size(),
                    manifest.storedBytes());
            return manifest;
        } catch (IOException | RuntimeException | Error e) {
            sink.abortAll();
            listener.onEvent(new BackupEvent.Failed(name, id, "backup", String.valueOf(e.getMessage())));
            LOG.warn("backup {} of {} failed, no manifest written: {}", id, name, e.getMessage());
            throw e;
        }
    }

    private void commitManifest(Manifest manifest) throws IOException {
        byte[] json = ManifestCodec.write(manifest, encryption);
        try (ObjectUpload upload = storage.create(Catalog.manifestKey(manifest.source(), manifest.backupId()))) {
            upload.write(json);
            upload.commit();
        }
    }

    /** Every problem the provider and storage (for writing) see before a backup, all at once. */
    public List<Problem> check(SourceConfig source) {
        List<Problem> problems = new ArrayList<>(providerFor(source).check(source));
        problems.addAll(storage.check(StorageTarget.Access.WRITE));
        return problems;
    }

    /** Names of the sources that have at least one object on storage. */
    public List<String> sources() throws IOException {
        return catalog.sources();
    }

    /**
     * Committed backups of a source with readable manifests, oldest first (uncommitted debris never
     * appears; damaged manifests are left out, see {@link #listAll(String)}).
     */
    public List<Manifest> list(String source) throws IOException {
        return catalog.list(requireSourceName(source), encryption);
    }

    /**
     * Every committed backup of a source, oldest first, with its condition: damaged manifests
     * (unreadable, edited) included with the reason, known-bad backups (latest verify or drill
     * failed) and incrementals on them marked.
     */
    public List<ListedBackup> listAll(String source) throws IOException {
        return catalog.listAll(requireSourceName(source), encryption);
    }

    /** Receives listed backups one at a time. */
    @FunctionalInterface
    public interface ListingVisitor {
        /** Called once per backup, oldest first. */
        void accept(ListedBackup backup) throws IOException;
    }

    /**
     * {@link #listAll(String)} streamed: manifests are read and handed over one at a time, so
     * memory stays flat however many backups a source has.
     */
    public void listAll(String source, ListingVisitor visitor) throws IOException {
        Objects.requireNonNull(visitor, "visitor");
        catalog.forEach(requireSourceName(source), encryption, visitor::accept);
    }

    private static Optional<Manifest> newestRecoverable(List<ListedBackup> oldestFirst) {
        for (int i = oldestFirst.size() - 1; i >= 0; i--) {
            if (oldestFirst.get(i).recoverable()) {
                return Optional.of(oldestFirst.get(i).manifest());
            }
        }
        return Optional.empty();
    }

    /**
     * Resolves an id, or {@code latest} to the newest backup that can be counted on, emitting
     * {@link BackupEvent.Skipped} for each newer one passed over (known-bad, damaged, broken chain).
     * An explicit id resolves to itself whatever its condition (a restore still verifies it first).
     */
    private BackupId resolveRecoverable(String source, String idOrLatest, String operation) throws IOException {
        if (!Catalog.LATEST.equalsIgnoreCase(idOrLatest)) {
            return catalog.resolve(source, idOrLatest);
        }
        List<ListedBackup> all = catalog.listAll(source, encryption);
        if (all.isEmpty()) {
            return catalog.resolve(source, idOrLatest); // the usual "no committed backup" error
        }
        List<ListedBackup> skipped = new ArrayList<>();
        for (int i = all.size() - 1; i >= 0; i--) {
            ListedBackup b = all.get(i);
            if (b.recoverable()) {
                for (ListedBackup s : skipped) {
                    LOG.warn("{} of {} latest: skipping backup {} ({}: {})", operation, source, s.backupId(),
                            s.condition().label(), s.reason());
                    listener.onEvent(new BackupEvent.Skipped(source, s.backupId(), operation, s.condition(),
                            s.reason()));
                }
                return b.backupId();
            }
            skipped.add(b);
        }
        ListedBackup newest = all.get(all.size() - 1);
        throw new IntegrityException(ManifestCodec.FILE, "source '" + source + "' has no recoverable backup on storage '"
                + storage.name() + "': all " + all.size() + " committed backup(s) are known-bad, damaged or on a "
                + "broken chain (newest " + newest.backupId() + " is " + newest.condition().label() + ": "
                + newest.reason() + ")");
    }

    /**
     * The newest recoverable backup (not known-bad, damaged or on a broken chain) whose consistent
     * point is at or before {@code time}: the base to restore from for a point-in-time target.
     */
    public Optional<Manifest> newestBackupAt(String source, Instant time) throws IOException {
        Manifest best = null;
        for (ListedBackup b : listAll(source)) {
            if (b.recoverable() && !b.manifest().consistentPoint().time().isAfter(time)) {
                best = b.manifest();
            }
        }
        return Optional.ofNullable(best);
    }

    /** The manifest of a backup given by id or {@code latest}; an edited manifest is refused. */
    public Manifest describe(String source, String idOrLatest) throws IOException {
        requireSourceName(source);
        return catalog.read(source, catalog.resolve(source, idOrLatest), encryption);
    }

    /**
     * Checks every stored artifact's presence, size and SHA-256 against the manifest, and the
     * manifest's own digest (and seal, when a key is configured). Needs no key otherwise, so
     * offline copies can be verified anywhere; when a keyset is configured, key ids the backup was
     * encrypted with that it does not hold are reported in {@link VerifyReport#missingKeyIds()}
     * (the bytes may be intact, but this keyset cannot restore them).
     */
    public VerifyReport verify(String source, String idOrLatest) throws IOException {
        requireSourceName(source);
        BackupId id = catalog.resolve(source, idOrLatest);
        Manifest manifest;
        try {
            manifest = catalog.read(source, id, encryption);
        } catch (IntegrityException e) {
            return new VerifyReport(source, id, List.of(
                    new VerifyReport.ArtifactCheck(e.artifact(), false, e.getMessage())));
        }
        ProgressTracker progress = new ProgressTracker(listener, source, id);
        listener.onEvent(new BackupEvent.Started(source, id, "verify"));
        // intact bytes are not enough when the configured keyset cannot decrypt them
        List<String> missingKeys = encryption == null ? List.of() : manifest.artifacts().stream()
                .filter(a -> !StreamEncryption.NONE.equals(a.cipher()) && a.keyId() != null)
                .map(ArtifactEntry::keyId).distinct().filter(k -> !encryption.keyIds().contains(k)).toList();
        VerifyReport report = new VerifyReport(source, id, checkAll(source, id, manifest.artifacts(), progress),
                missingKeys);
        catalog.recordCheck(source, id, "verify", report.ok(), report.ok() ? null : describeFailures(report), null);
        if (report.ok()) {
            listener.onEvent(new BackupEvent.Completed(source, id, "verify", progress.elapsed(), progress.bytes()));
        } else {
            listener.onEvent(new BackupEvent.Failed(source, id, "verify", describeFailures(report)));
        }
        return report;
    }

    /**
     * Hashes every artifact against its manifest entry, {@link #VERIFY_THREADS} at a time (the
     * hashing is CPU-bound on local storage, the reading latency-bound on remote storage); the
     * checks come back in manifest order. A storage error stops the others and is thrown.
     */
    private List<VerifyReport.ArtifactCheck> checkAll(String source, BackupId id, List<ArtifactEntry> entries,
                                                      ProgressTracker progress) throws IOException {
        VerifyReport.ArtifactCheck[] checks = new VerifyReport.ArtifactCheck[entries.size()];
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            int i;
            while (failure.get() == null && (i = next.getAndIncrement()) < checks.length) {
                ArtifactEntry entry = entries.get(i);
                progress.artifact(entry.name());
                try {
                    checks[i] = ArtifactReader.check(storage, Catalog.artifactKey(source, id, entry.name()), entry,
                            progress);
                } catch (IOException | RuntimeException | Error e) {
                    failure.compareAndSet(null, e);
                }
            }
        };
        int helpers = Math.min(VERIFY_THREADS, checks.length) - 1;
        List<Future<?>> running = new ArrayList<>();
        try {
            for (int h = 0; h < helpers; h++) {
                running.add(sealThreads.submit(worker));
            }
            worker.run(); // the caller checks too
            if (failure.get() != null) {
                running.forEach(f -> f.cancel(true)); // an interrupted or failed caller stops the helpers mid-artifact
            }
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (java.util.concurrent.CancellationException cancelled) {
                    // stopped because of the failure recorded above
                }
            }
        } catch (InterruptedException e) {
            failure.compareAndSet(null, e);
            running.forEach(f -> f.cancel(true));
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            failure.compareAndSet(null, e.getCause());
        }
        Throwable t = failure.get();
        if (t instanceof IOException io) {
            throw io;
        } else if (t instanceof RuntimeException re) {
            throw re;
        } else if (t instanceof Error err) {
            throw err;
        } else if (t instanceof InterruptedException) {
            throw new InterruptedIOException("interrupted while verifying backup " + id + " of '" + source
                    + "'");
        } else if (t != null) {
            throw new IOException("verifying backup " + id + " of '" + source + "' failed: " + t, t);
        }
        return List.of(checks);
    }

    /** Artifacts hashed at once by {@link #verify} (and so before every restore). */
    static final int VERIFY_THREADS = Math.max(2, Math.min(4, Runtime.getRuntime().availableProcessors()));

    /**
     * Restore option {@code one-pass=true}: skip the verification pass and read every artifact
     * once. Each stream is still hashed and checked at its end, and encrypted data is
     * authenticated segment by segment as it is read, so damage still fails the restore; but
     * the provider may have consumed bytes before that failure, so use it only with providers
     * that restore into a staging place and switch over at the end (directory, physical
     * PostgreSQL) or into a scratch target. The default reads twice: verify first, then restore.
     */
    public static final String ONE_PASS = "one-pass";

    /**
     * Restore option {@code append-chain=true}: apply only the backup asked for, an incremental,
     * onto a target that already holds its parent chain (a standby rolled forward, or a manual
     * step), instead of its whole chain. The provider checks that the target ends where the parent
     * chain left it. Without it an incremental is restored with its whole chain.
     */
    public static final String APPEND_CHAIN = "append-chain";

    /**
     * Restores a backup given by id or {@code latest}: the newest backup that is neither known-bad
     * nor damaged nor on a broken chain ({@link BackupEvent.Skipped} names each newer one passed
     * over; an explicit id is restored whatever its condition). An incremental backup is restored with its
     * whole chain, in order: the full backup it builds on, then each incremental up to it,
     * following {@link Manifest#parent()}; the provider gets every link in one session
     * ({@link RestoreSession#restoreChain}). The manifests and every artifact of every link are
     * verified before the first byte reaches the provider: a missing or unreadable link throws
     * {@link IntegrityException} naming its backup id, a mismatch one naming the artifact, a
     * missing key {@link com.aiplatform.backup.api.EncryptionKeyException} naming the key id.
     * Options {@link #ONE_PASS} and {@link #APPEND_CHAIN} are the engine's; the rest go to the provider.
     */
    public RestoreReport restore(SourceConfig source, String idOrLatest, RestoreOptions options) throws IOException {
        String name = sourceName(source);
        BackupProvider<SourceConfig> provider = providerFor(source);
        BackupId id = resolveRecoverable(name, idOrLatest, "restore");
        Map<String, String> providerOptions = new LinkedHashMap<>(options.options());
        boolean onePass = engineFlag(providerOptions, ONE_PASS);
        boolean appendChain = engineFlag(providerOptions, APPEND_CHAIN);
        options = new RestoreOptions(options.targetDirectory(), options.overwrite(), providerOptions);
        List<Manifest> chain = appendChain ? List.of(catalog.read(name, id, encryption)) : chainOf(name, id);
        for (Manifest link : chain) {
            if (!link.engine().equals(provider.engine())) {
                throw new IllegalArgumentException("backup " + link.backupId() + " of '" + name
                        + "' was made by engine '" + link.engine() + "', not '" + provider.engine() + "'");
            }
            requireKeys(link);
        }
        ProgressTracker progress = new ProgressTracker(listener, name, id);
        listener.onEvent(new BackupEvent.Started(name, id, "restore"));
        try {
            if (!onePass) {
                for (Manifest link : chain) {
                    VerifyReport report = verify(name, link.backupId().value());
                    if (!report.ok()) {
                        VerifyReport.ArtifactCheck first = report.failures().get(0);
                        throw new IntegrityException(first.name(), "backup " + link.backupId() + " of '" + name
                                + "'" + (link.backupId().equals(id) ? "" : " (in the chain of " + id + ")")
                                + " failed verification, nothing was restored: " + describeFailures(report));
                    }
                }
            }
            long[] stored = {0};
            List<ArtifactSource> links = new ArrayList<>();
            for (Manifest link : chain) {
                links.add(new LinkSource(name, link, progress, stored));
            }
            try (RestoreSession session = provider.openRestore(source, options)) {
                session.restoreChain(List.copyOf(links));
            }
            List<BackupId> ids = chain.stream().map(Manifest::backupId).toList();
            if (ids.size() > 1) {
                LOG.info("restored backup {} of {} with its chain: {}", id, name, ids);
            }
            listener.onEvent(new BackupEvent.Completed(name, id, "restore", progress.elapsed(), progress.bytes()));
            return new RestoreReport(name, id, stored[0], progress.bytes(), progress.elapsed(), ids);
        } catch (IOException | RuntimeException e) {
            listener.onEvent(new BackupEvent.Failed(name, id, "restore", String.valueOf(e.getMessage())));
            throw e;
        }
    }

    /** Removes an engine option from {@code options}: true when it was {@code true}. */
    private static boolean engineFlag(Map<String, String> options, String key) {
        String value = options.remove(key);
        if (value == null || value.trim().equalsIgnoreCase("false")) {
            return false;
        }
        if (value.trim().equalsIgnoreCase("true")) {
            return true;
        }
        throw new IllegalArgumentException("option " + key + " must be true or false, not '" + value + "'");
    }

    private void requireKeys(Manifest manifest) throws IOException {
        for (ArtifactEntry entry : manifest.artifacts()) {
            if (!StreamEncryption.NONE.equals(entry.cipher())) {
                if (encryption == null) {
                    throw new com.aiplatform.backup.api.EncryptionKeyException(entry.keyId(), "backup "
                            + manifest.backupId() + " is encrypted with key " + entry.keyId()
                            + " but no encryption key is configured");
                }
                encryption.requireKey(entry.keyId(), entry.name());
            }
        }
    }

    /**
     * The chain a backup needs, oldest first: the full backup, then each incremental up to
     * {@code id}, found by following {@link Manifest#parent()}. A parent that is missing, cannot
     * be read, belongs to another source or would close a loop is an {@link IntegrityException}
     * naming it: the backup cannot be restored.
     */
    private List<Manifest> chainOf(String source, BackupId id) throws IOException {
        java.util.ArrayDeque<Manifest> chain = new java.util.ArrayDeque<>();
        java.util.Set<BackupId> seen = new java.util.HashSet<>();
        Manifest m = catalog.read(source, id, encryption);
        chain.addFirst(m);
        seen.add(id);
        while (m.kind() == BackupKind.INCREMENTAL) {
            BackupId parent = m.parent();
            String what = "backup " + id + " of '" + source + "' cannot be restored, nothing was restored: ";
            if (parent == null) {
                throw new IntegrityException(ManifestCodec.FILE, what + "incremental backup " + m.backupId()
                        + " names no parent backup");
            }
            if (!seen.add(parent)) {
                throw new IntegrityException(ManifestCodec.FILE, what + "its chain of parents loops at backup "
                        + parent);
            }
            String link = m.backupId().equals(id) ? "it is an incremental on backup " + parent
                    : "its chain needs backup " + parent + " (the parent of " + m.backupId() + ")";
            if (storage.stat(Catalog.manifestKey(source, parent)).isEmpty()) {
                throw new IntegrityException(ManifestCodec.FILE, what + link + ", which is missing from storage '"
                        + storage.name() + "' (deleted, or never copied here)");
            }
            try {
                m = catalog.read(source, parent, encryption);
            } catch (IntegrityException e) {
                throw new IntegrityException(e.artifact(), what + link + ", whose manifest cannot be read: "
                        + e.getMessage(), e);
            }
            chain.addFirst(m);
        }
        return List.copyOf(chain);
    }

    /** One link of a restore: its artifacts, decrypted, decompressed and checked as they are read. */
    private final class LinkSource implements ArtifactSource {
        private final String name;
        private final Manifest manifest;
        private final ProgressTracker progress;
        private final long[] stored;

        LinkSource(String name, Manifest manifest, ProgressTracker progress, long[] stored) {
            this.name = name;
            this.manifest = manifest;
            this.progress = progress;
            this.stored = stored;
        }

        @Override
        public Manifest manifest() {
            return manifest;
        }

        @Override
        public InputStream open(String artifact) throws IOException {
            BackupId id = manifest.backupId();
            ArtifactEntry entry = manifest.artifact(artifact).orElseThrow(() -> new IllegalArgumentException(
                    "backup " + id + " has no artifact '" + artifact + "'"));
            progress.artifact(artifact);
            synchronized (stored) {
                stored[0] += entry.storedSize();
            }
            return ArtifactReader.openDecoded(storage, Catalog.artifactKey(name, id, artifact), entry,
                    encryption, StreamEncryption.associatedData(name, id.value(), artifact), progress);
        }

        @Override
        public List<SegmentEntry> segments() throws IOException {
            return archiveOf(name).stored();
        }

        @Override
        public InputStream openSegment(SegmentEntry segment) throws IOException {
            if (!segment.storageKey().startsWith(ContinuousArchive.prefix(name))) {
                throw new IllegalArgumentException("segment " + segment.name() + " is not in the archive of '"
                        + name + "'");
            }
            String objectName = segment.storageKey().substring(ContinuousArchive.prefix(name).length());
            progress.artifact(segment.name());
            synchronized (stored) {
                stored[0] += segment.storedSize();
            }
            return ArtifactReader.openDecoded(storage, segment.storageKey(), segment.asArtifact(),
                    encryption, ContinuousArchive.associatedData(name, objectName), progress);
        }
    }

    /** Deletes a backup: the manifest first, then its artifacts, so an interruption leaves only debris. */
    public void delete(String source, BackupId backupId) throws IOException {
        requireSourceName(source);
        storage.delete(Catalog.manifestKey(source, backupId));
        for (var o : storage.list(Catalog.backupPrefix(source, backupId))) {
            storage.delete(o.key());
        }
    }

    /** Leftovers of backups that never committed a manifest, oldest first. */
    public List<Debris> debris(String source) throws IOException {
        return catalog.debris(requireSourceName(source));
    }

    /**
     * What {@link #prune} would do: every committed backup with keep or delete and the rules that
     * keep it, the archive segments no kept backup needs, and debris older than {@code debrisGrace}.
     * Only backups in condition OK fill a rule; a known-bad one (or an incremental on one) is kept
     * as evidence only while the rules would keep it were it good, a damaged one is never deleted,
     * and the newest OK backup is always kept when one that is not OK is newer.
     */
    public PrunePlan planPrune(String source, RetentionPolicy policy, java.time.Duration debrisGrace)
            throws IOException {
        requireSourceName(source);
        return Pruner.plan(source, catalog.listAll(source, encryption),
                archiveOf(source).stored(), catalog.debris(source), policy, debrisGrace, Instant.now());
    }

    /**
     * Applies a retention policy under the source's lock: plans, then deletes manifests first
     * and their artifacts second, old debris, and segments no kept backup needs. An interrupted
     * prune leaves debris, never a listed backup that cannot be restored; running it again
     * converges on the plan.
     *
     * @throws com.aiplatform.backup.api.SourceLockedException when a backup or prune of the source is running
     */
    public PrunePlan prune(String source, RetentionPolicy policy, java.time.Duration debrisGrace) throws IOException {
        try (SourceLock lock = SourceLock.acquire(storage, requireSourceName(source), "prune", lockWait, lockLease)) {
            PrunePlan plan = planPrune(source, policy, debrisGrace);
            Pruner.execute(plan, storage);
            return plan;
        }
    }

    /**
     * Measures a source's RPO now: the achieved RPO (now minus the newest recoverable point,
     * continuous archive included; known-bad, damaged and broken-chain backups are not recoverable points) and the worst gap between recoverable points over
     * {@code window}. Emits {@link BackupEvent.RpoBreach} when a target is exceeded.
     *
     * @param target the RPO target; empty for the platform default of the source's engine
     *               (PostgreSQL 15 min, MongoDB 1 h, Weaviate 24 h; others none)
     */
    public RpoReport rpo(String source, Optional<java.time.Duration> target, java.time.Duration window)
            throws IOException {
        requireSourceName(source);
        List<ListedBackup> all = catalog.listAll(source, encryption);
        // only backups that can be counted on are recoverable points
        List<Manifest> backups = all.stream().filter(ListedBackup::recoverable).map(ListedBackup::manifest).toList();
        String engine = all.stream().map(ListedBackup::manifest).filter(Objects::nonNull).reduce((a, b) -> b)
                .map(Manifest::engine).orElse(null);
        java.time.Duration effective = target.orElseGet(() -> engine == null ? null
                : RpoCalculator.defaultTarget(engine).orElse(null));
        RpoReport report = RpoCalculator.report(source, backups, archiveOf(source).stored(), effective, window,
                Instant.now());
        if (report.breached()) {
            listener.onEvent(new BackupEvent.RpoBreach(source, report));
        }
        return report;
    }

    /** The platform plan's RPO target for an engine (PostgreSQL 15 min, MongoDB 1 h, Weaviate 24 h). */
    public static Optional<java.time.Duration> defaultRpoTarget(String engine) {
        return RpoCalculator.defaultTarget(engine);
    }

    /**
     * A restore drill: restores a backup into a scratch target given by {@code scratch}, times
     * it, asks the provider to summarise the restored copy and compares that with the summary
     * recorded at backup time. The result is recorded with the backup (it counts for
     * keep-at-least-verified and for RTO estimates). A failed restore is a failed drill, not an
     * exception.
     */
    public DrillReport drill(SourceConfig source, String idOrLatest, RestoreOptions scratch) throws IOException {
        String name = sourceName(source);
        BackupProvider<SourceConfig> provider = providerFor(source);
        BackupId id = resolveRecoverable(name, idOrLatest, "drill");
        Manifest manifest = catalog.read(name, id, encryption);
        Instant started = Instant.now();
        long t0 = System.nanoTime();
        List<String> differences = new ArrayList<>();
        long raw = 0;
        boolean compared = false;
        try {
            RestoreReport restored = restore(source, id.value(), scratch);
            raw = restored.rawBytes();
            Optional<Map<String, Long>> summary = provider.summarizeRestored(source, manifest, scratch);
            if (summary.isPresent()) {
                compared = true;
                differences.addAll(compareSummaries(manifest.contentSummary(), summary.get()));
            }
        } catch (IOException | RuntimeException e) {
            differences.add("restore failed: " + e.getMessage());
        }
        java.time.Duration duration = java.time.Duration.ofNanos(System.nanoTime() - t0);
        long rate = duration.isZero() ? 0 : (long) (raw / (duration.toNanos() / 1e9));
        DrillReport report = new DrillReport(name, id, started, duration, raw, rate, compared, differences.isEmpty(),
                differences);
        catalog.recordCheck(name, id, "drill", report.passed(),
                report.passed() ? null : String.join("; ", differences), ManifestCodec.toJson(report));
        return report;
    }

    /** Drills recorded for a source, oldest first. */
    public List<DrillReport> drills(String source) throws IOException {
        return catalog.drills(requireSourceName(source));
    }

    /**
     * Estimated time to restore the newest recoverable backup of a source: its size divided by the median
     * throughput of the recorded drills. Empty without a backup or a drill.
     */
    public Optional<java.time.Duration> rtoEstimate(String source) throws IOException {
        List<Manifest> backups = newestRecoverable(listAll(source)).stream().toList();
        long[] rates = drills(source).stream().filter(DrillReport::passed).mapToLong(DrillReport::bytesPerSecond)
                .filter(r -> r > 0).sorted().toArray();
        if (backups.isEmpty() || rates.length == 0) {
            return Optional.empty();
        }
        long median = rates[rates.length / 2];
        long bytes = backups.get(backups.size() - 1).rawBytes();
        return Optional.of(java.time.Duration.ofMillis(Math.max(1, bytes * 1000 / median)));
    }

    private static List<String> compareSummaries(Map<String, Long> recorded, Map<String, Long> restored) {
        List<String> differences = new ArrayList<>();
        for (Map.Entry<String, Long> e : new java.util.TreeMap<>(recorded).entrySet()) {
            Long actual = restored.get(e.getKey());
            if (actual == null) {
                differences.add(e.getKey() + ": " + e.getValue() + " at backup time, missing after restore");
            } else if (!actual.equals(e.getValue())) {
                differences.add(e.getKey() + ": " + e.getValue() + " at backup time, " + actual + " after restore");
            }
        }
        for (String key : new java.util.TreeSet<>(restored.keySet())) {
            if (!recorded.containsKey(key)) {
                differences.add(key + ": not at backup time, " + restored.get(key) + " after restore");
            }
        }
        return differences;
    }

    /**
     * Copies a committed backup to another storage target (a remote or offline tier): every
     * artifact is hashed while it is copied and must match its manifest before the copy is
     * committed there, and the manifest is written last, so the copy exists only when whole.
     * Artifacts already on the destination from an interrupted copy are checked and kept.
     *
     * @return the manifest, as now stored on {@code destination}
     * @throws IntegrityException when an artifact does not match its manifest; nothing is committed for it
     */
    public Manifest copy(String source, String idOrLatest, StorageTarget destination) throws IOException {
        requireSourceName(source);
        requireAccess(storage, StorageTarget.Access.READ, "copy of '" + source + "' from storage '" + storage.name() + "'");
        requireAccess(destination, StorageTarget.Access.WRITE, "copy of '" + source + "' to storage '"
                + destination.name() + "'");
        BackupId id = catalog.resolve(source, idOrLatest);
        Manifest manifest = catalog.read(source, id, encryption);
        String manifestKey = Catalog.manifestKey(source, id);
        if (destination.stat(manifestKey).isPresent()) {
            return new Catalog(destination).read(source, id, encryption);
        }
        for (ArtifactEntry entry : manifest.artifacts()) {
            String key = Catalog.artifactKey(source, id, entry.name());
            if (destination.stat(key).isPresent()) {
                VerifyReport.ArtifactCheck existing = ArtifactReader.check(destination, key, entry, n -> { });
                if (!existing.ok()) {
                    throw new IntegrityException(entry.name(), "copy of backup " + id + " to storage '"
                            + destination.name() + "': an object " + key + " is there already and does not match: "
                            + existing.reason());
                }
                continue;
            }
            copyVerified(key, entry, destination);
        }
        try (InputStream in = storage.open(manifestKey); ObjectUpload upload = destination.create(manifestKey)) {
            in.transferTo(upload);
            upload.commit();
        }
        Manifest copied = new Catalog(destination).read(source, id, encryption);
        LOG.info("copied backup {} of {} to storage '{}'", id, source, destination.name());
        return copied;
    }

    /**
     * Places a source's backups on another storage tier by rule: the tier holds the backups the
     * policy keeps for one of {@code rules} ({@code daily}, {@code weekly}, {@code monthly},
     * {@code yearly}, {@code hourly}, {@code last}, {@code within}, {@code verified}; empty = every
     * kept backup) and the parents they need. Missing ones are copied (verified, manifest last);
     * backups on the tier that no longer qualify are removed from it, manifest first, under the
     * tier's lock for the source.
     */
    public PlacementReport place(String source, RetentionPolicy policy, StorageTarget tier,
                                 java.util.Set<String> rules) throws IOException {
        requireSourceName(source);
        if (tier.name().equals(storage.name())) {
            throw new IllegalArgumentException("storage '" + tier.name() + "' is the primary target, not a tier");
        }
        requireAccess(tier, StorageTarget.Access.WRITE, "placement of '" + source + "' on storage '" + tier.name() + "'");
        PrunePlan plan = planPrune(source, policy, java.time.Duration.ofDays(36500));
        Map<BackupId, Manifest> manifests = new java.util.HashMap<>();
        for (Manifest m : catalog.list(source, encryption)) {
            manifests.put(m.backupId(), m);
        }
        java.util.LinkedHashSet<BackupId> held = new java.util.LinkedHashSet<>();
        for (PrunePlan.Entry e : plan.backups()) {
            boolean byRule = e.keep() && e.condition() == com.aiplatform.backup.api.BackupCondition.OK
                    && (rules.isEmpty() || e.reasons().stream()
                    .anyMatch(r -> rules.contains(r.split(" ", 2)[0].replace(",", ""))));
            if (byRule) {
                for (BackupId id = e.backupId(); id != null && manifests.containsKey(id); id = manifests.get(id).parent()) {
                    held.add(id);
                }
            }
        }
        List<BackupId> copied = new ArrayList<>();
        List<BackupId> removed = new ArrayList<>();
        try (SourceLock lock = SourceLock.acquire(tier, source, "placement", lockWait, lockLease)) {
            Catalog tierCatalog = new Catalog(tier);
            java.util.Set<BackupId> present = new java.util.HashSet<>(tierCatalog.committedIds(source));
            for (BackupId id : held) {
                if (!present.contains(id)) {
                    copy(source, id.value(), tier);
                    copied.add(id);
                }
            }
            for (BackupId id : present) {
                if (!held.contains(id)) {
                    tier.delete(Catalog.manifestKey(source, id));
                    for (var o : tier.list(Catalog.backupPrefix(source, id))) {
                        tier.delete(o.key());
                    }
                    removed.add(id);
                }
            }
        }
        return new PlacementReport(source, tier.name(), List.copyOf(held), copied, removed);
    }

    private void copyVerified(String key, ArtifactEntry entry, StorageTarget destination) throws IOException {
        java.security.MessageDigest digest = Sha256.newDigest();
        long count = 0;
        byte[] buffer = new byte[256 * 1024];
        try (InputStream in = storage.open(key); ObjectUpload upload = destination.create(key)) {
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
                upload.write(buffer, 0, n);
                count += n;
            }
            String actual = java.util.HexFormat.of().formatHex(digest.digest());
            if (count != entry.storedSize() || !actual.equals(entry.storedSha256())) {
                throw new IntegrityException(entry.name(), "artifact " + entry.name() + " does not match its manifest "
                        + "while copying to storage '" + destination.name() + "' (" + count + " bytes, SHA-256 "
                        + actual + "); the copy was not committed");
            }
            upload.commit();
        }
    }

    /** Removes the lock of a source whatever its state (same as {@code unlock(source, true)}); true when there was one. */
    public boolean breakLock(String source) throws IOException {
        return unlock(source, true).isPresent();
    }

    /** Who holds the lock of a source on this engine's storage, and whether it is stale; empty when unlocked. */
    public Optional<com.aiplatform.backup.api.LockInfo> lockInfo(String source) throws IOException {
        return SourceLock.inspect(storage, requireSourceName(source));
    }

    /**
     * Removes the lock of a source: a stale one (its process gone from this host, or its lease
     * expired), or with {@code force} a live one too.
     *
     * @return the holder removed; empty when the source was not locked
     * @throws com.aiplatform.backup.api.SourceLockedException naming the holder when it is live and not forced
     */
    public Optional<com.aiplatform.backup.api.LockInfo> unlock(String source, boolean force) throws IOException {
        return SourceLock.unlock(storage, requireSourceName(source), force);
    }

    /** Segments of a source's continuous archive (complete ones and the newest partial flush per name), oldest first. */
    public List<SegmentEntry> segments(String source) throws IOException {
        return archiveOf(requireSourceName(source)).stored();
    }

    /**
     * Starts the source's continuous archiver (PostgreSQL WAL, ...) on a thread of its own. It
     * runs until {@link Archiver#stop()} or a failure; see {@link Archiver#status()}.
     *
     * @throws IllegalArgumentException when the source's engine has no archiver
     */
    public Archiver startArchiver(SourceConfig source) throws IOException {
        String name = sourceName(source);
        BackupProvider<SourceConfig> provider = providerFor(source);
        if (!provider.supportsArchiving()) {
            throw new IllegalArgumentException("source '" + name + "' (engine " + provider.engine()
                    + ") has no continuous archiver");
        }
        requireAccess(storage, StorageTarget.Access.WRITE, "archiver of '" + name + "'");
        List<Problem> problems = provider.check(source);
        if (!problems.isEmpty()) {
            throw new SourceException("archiver of '" + name + "' cannot start: " + join(problems), false);
        }
        Archiver archiver = new Archiver(name, provider.openArchiver(source), archiveOf(name));
        archiver.thread.start();
        return archiver;
    }

    /** The codec new artifacts of {@code source} are written with. */
    private Compression compressionOf(String source) {
        return sourceCompression.getOrDefault(source, compression);
    }

    private ContinuousArchive archiveOf(String source) {
        return new ContinuousArchive(storage, source, compressionOf(source), encryption, sealThreads, zstdWorkers,
                listener);
    }

    /** A running continuous archiver. {@link #stop()} asks it to store what it holds and waits for it. */
    public final class Archiver implements AutoCloseable {
        private final String source;
        private final com.aiplatform.backup.spi.ArchiverSession session;
        private final Thread thread;
        private final java.util.concurrent.CountDownLatch stop = new java.util.concurrent.CountDownLatch(1);
        private final List<String> warnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        private volatile String position;
        private volatile long lagBytes = -1;
        private volatile Instant lastStored;
        private volatile Instant coveredUntil;
        private volatile String failure;

        private Archiver(String source, com.aiplatform.backup.spi.ArchiverSession session, ContinuousArchive archive) {
            this.source = source;
            this.session = session;
            com.aiplatform.backup.spi.ArchiveControl control = new com.aiplatform.backup.spi.ArchiveControl() {
                @Override
                public boolean stopRequested() {
                    return stop.getCount() == 0;
                }

                @Override
                public boolean awaitStop(java.time.Duration timeout) throws InterruptedException {
                    return stop.await(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
                }

                @Override
                public void reportPosition(String at, long lag) {
                    position = at;
                    lagBytes = lag;
                }

                @Override
                public void reportWarning(String message) {
                    warnings.add(message);
                    LOG.warn("archiver of {}: {}", source, message);
                    listener.onEvent(new BackupEvent.ArchiverWarning(source, message));
                }
            };
            com.aiplatform.backup.spi.SegmentSink sink = new com.aiplatform.backup.spi.SegmentSink() {
                @Override
                public OutputStream openSegment(com.aiplatform.backup.spi.SegmentSpec spec) throws IOException {
                    OutputStream out = archive.openSegment(spec);
                    return new java.io.FilterOutputStream(out) {
                        @Override
                        public void write(byte[] b, int off, int len) throws IOException {
                            out.write(b, off, len);
                        }

                        @Override
                        public void close() throws IOException {
                            super.close();
                            lastStored = Instant.now();
                            if (coveredUntil == null || spec.coveredUntil().isAfter(coveredUntil)) {
                                coveredUntil = spec.coveredUntil();
                            }
                        }
                    };
                }

                @Override
                public List<SegmentEntry> stored() throws IOException {
                    return archive.stored();
                }
            };
            this.thread = new Thread(() -> {
                try (session) {
                    session.run(sink, control);
                } catch (Exception | Error e) {
                    failure = e.getMessage() == null ? e.toString() : e.getMessage();
                    LOG.error("archiver of {} stopped: {}", source, failure, e);
                    listener.onEvent(new BackupEvent.Failed(source, null, "archive", failure));
                }
            }, "backup-archiver-" + source);
            thread.setDaemon(true);
        }

        /** Asks the archiver to store what it holds and stop, and waits until it has. */
        public void stop() throws InterruptedException {
            stop.countDown();
            thread.join();
        }

        /** Waits for the archiver to end by itself (a failure) for up to {@code timeout}; true when it ended. */
        public boolean awaitTermination(java.time.Duration timeout) throws InterruptedException {
            thread.join(Math.max(1, timeout.toMillis()));
            return !thread.isAlive();
        }

        /** What the archiver is doing now. */
        public ArchiverStatus status() {
            return new ArchiverStatus(source, thread.isAlive(), position, lagBytes, lastStored, coveredUntil,
                    warnings, failure);
        }

        /** Same as {@link #stop()}. */
        @Override
        public void close() throws InterruptedException {
            stop();
        }
    }

    /** The provider registered for an engine name ({@code directory}, {@code postgres}, ...). */
    public Optional<BackupProvider<?>> provider(String engine) {
        return Optional.ofNullable(providersByEngine.get(engine));
    }

    /** Stops the engine's threads. Safe to call twice; does not close the storage target. */
    @Override
    public void close() {
        sealThreads.shutdownNow();
    }

    @SuppressWarnings("unchecked")
    private BackupProvider<SourceConfig> providerFor(SourceConfig source) {
        Objects.requireNonNull(source, "source");
        for (BackupProvider<?> p : providersByEngine.values()) {
            if (p.configType().isInstance(source)) {
                return (BackupProvider<SourceConfig>) p;
            }
        }
        throw new IllegalArgumentException("no provider handles sources of type " + source.getClass().getName()
                + "; known engines: " + providersByEngine.keySet());
    }

    private static String sourceName(SourceConfig source) {
        return requireSourceName(Objects.requireNonNull(source, "source").name());
    }

    private static String requireSourceName(String name) {
        if (name == null || !SOURCE_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("source name '" + name
                    + "' must match [a-z0-9][a-z0-9._-]* (it is a folder name on storage)");
        }
        return name;
    }

    /**
     * Fails with a {@link StorageException} naming the target and every problem when it cannot
     * be used for {@code access} (missing, read-only, ...).
     */
    private static void requireAccess(StorageTarget target, StorageTarget.Access access, String operation)
            throws StorageException {
        List<Problem> problems = target.check(access);
        if (!problems.isEmpty()) {
            throw new StorageException(operation + " cannot start: storage target '" + target.name() + "' is not "
                    + (access == StorageTarget.Access.WRITE ? "writable" : "readable") + ": " + join(problems), false);
        }
    }

    private static String join(List<Problem> problems) {
        return String.join("; ", problems.stream().map(Problem::toString).toList());
    }

    private static String describeFailures(VerifyReport report) {
        return String.join("; ", report.failures().stream().map(c -> c.name() + ": " + c.reason()).toList());
    }

    /** The sink handed to backup sessions: one pipeline per artifact, all aborted on failure. */
    private final class PipelineSink implements ArtifactSink {
        private final String source;
        private final BackupId id;
        private final ProgressTracker progress;
        private final Map<String, ArtifactWriter> writers = new LinkedHashMap<>();
        /** The thread running the backup: interrupting it stops every artifact stream, on any thread. */
        private final Thread owner = Thread.currentThread();
        private boolean closed;

        PipelineSink(String source, BackupId id, ProgressTracker progress) {
            this.source = source;
            this.id = id;
            this.progress = progress;
        }

        /**
         * Fails once the backup's thread is interrupted. Needed because reading and writing local
         * files through a FileChannel does not notice an interrupt: a provider copying a file
         * would otherwise go on to the end of its data.
         */
        void checkInterrupted() throws InterruptedIOException {
            if (owner.isInterrupted() || Thread.currentThread().isInterrupted()) {
                throw new InterruptedIOException("backup " + id + " of '" + source + "' was interrupted");
            }
        }

        @Override
        public synchronized OutputStream openArtifact(String artifact) throws IOException {
            if (closed) {
                throw new IllegalStateException("backup " + id + " is finished; no more artifacts");
            }
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedIOException("backup " + id + " was interrupted");
            }
            StorageKeys.requireValid(artifact);
            if (artifact.startsWith(Catalog.CHECKS + "/")) {
                throw new IllegalArgumentException("artifact names under '" + Catalog.CHECKS + "/' are reserved");
            }
            if (artifact.equals(ManifestCodec.FILE)) {
                throw new IllegalArgumentException("artifact name '" + ManifestCodec.FILE + "' is reserved");
            }
            if (writers.containsKey(artifact)) {
                throw new IllegalArgumentException("artifact '" + artifact + "' was written twice in backup " + id);
            }
            ObjectUpload upload = storage.create(Catalog.artifactKey(source, id, artifact));
            progress.artifact(artifact);
            ArtifactWriter writer;
            try {
                writer = new ArtifactWriter(artifact, compressionOf(source), encryption,
                        StreamEncryption.associatedData(source, id.value(), artifact), upload, sealThreads,
                        zstdWorkers, progress);
            } catch (IOException | RuntimeException e) {
                upload.close();
                throw e;
            }
            writers.put(artifact, writer);
            return new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    checkInterrupted();
                    writer.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    checkInterrupted();
                    writer.write(b, off, len);
                }

                @Override
                public void flush() {
                    writer.flush();
                }

                @Override
                public void close() throws IOException {
                    if (owner.isInterrupted()) {
                        writer.abort();
                        checkInterrupted();
                    }
                    writer.close();
                }
            };
        }

        synchronized List<ArtifactEntry> finish() throws IOException {
            closed = true;
            List<ArtifactEntry> entries = new ArrayList<>();
            for (ArtifactWriter w : writers.values()) {
                if (!w.isDone()) {
                    throw new IllegalStateException("the provider did not close artifact '" + w.name()
                            + "' before its session returned");
                }
                ArtifactEntry entry = w.result();
                entries.add(entry);
                listener.onEvent(new BackupEvent.ArtifactDone(source, id, entry));
            }
            return entries;
        }

        synchronized void abortAll() {
            closed = true;
            writers.values().forEach(ArtifactWriter::abort);
        }
    }
}
