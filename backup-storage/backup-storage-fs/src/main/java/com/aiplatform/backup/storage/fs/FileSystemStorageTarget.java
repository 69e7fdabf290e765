package com.aiplatform.backup.storage.fs;

import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.StorageException;
import com.aiplatform.backup.spi.IncompleteUpload;
import com.aiplatform.backup.spi.ObjectUpload;
import com.aiplatform.backup.spi.StorageKeys;
import com.aiplatform.backup.spi.StorageObject;
import com.aiplatform.backup.spi.StorageObjectExistsException;
import com.aiplatform.backup.spi.StorageTarget;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link StorageTarget} in a local folder: each object is a file at its key's path below
 * the root ({@code <root>/src/backups/<id>/manifest.json}), so any copy can be checked with
 * {@code sha256sum} and copied with ordinary tools.
 *
 * <p>An upload is written to a hidden temporary file in the object's folder
 * ({@code .<name>.<random>.partial}, never listed or readable as an object), and flushed to
 * disk in the background every 32 MiB while it is written. Commit flushes
 * and fsyncs it, publishes it under its final name with a hard link (which, unlike a rename,
 * never replaces an existing object, so a second writer of the same key fails with
 * {@link StorageObjectExistsException}), removes the temporary name and fsyncs the folder.
 * An object is therefore visible only when complete and durable; a process killed
 * mid-upload leaves only temporary files, which {@link #deletePartialFilesOlderThan(Duration)}
 * removes. On file systems without hard links, publishing falls back to an atomic rename
 * guarded by a lock in this process (no protection against another process then).
 *
 * <p>The root folder is never created implicitly: an operation on a missing root fails with a
 * {@link StorageException} naming the target and the folder, so an unmounted disk is never
 * silently replaced by an empty folder on the disk below it. It is created by
 * {@link #initialize()}, or by the first write when the target was opened with
 * {@code createIfMissing}. A read-only root (a snapshot, a read-only mount) can be listed and
 * read: {@code check(Access.READ)} passes and only writes fail.
 *
 * <p>Folders are created with mode 0700 and files with 0600, set explicitly (not left to the
 * umask). Thread-safe; closing twice is safe. After {@link #close()} operations fail with
 * {@link IllegalStateException}.
 */
public final class FileSystemStorageTarget implements StorageTarget {
    private static final String PARTIAL_SUFFIX = ".partial";
    private static final int MAX_NAME_IN_TEMP = 80;
    private static final int BUFFER_SIZE = 64 * 1024;
    /** Bytes an upload writes between two early flushes to disk (32 MiB). */
    static final long WRITEBACK_BYTES = 33_554_432L;
    /**
     * Runs the early flushes of every upload in this process, one at a time, off the writing
     * threads: the disk writes a large object while it is still being produced, so the fsync at
     * commit has little left to do instead of all of it.
     */
    private static final ExecutorService WRITEBACK = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fs-storage-writeback");
        t.setDaemon(true);
        return t;
    });
    private static final int DIRECTORY_RACE_ATTEMPTS = 16;
    private static final Set<PosixFilePermission> FOLDER_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Guards the check-then-rename fallback of every target in this process. */
    private static final Object RENAME_LOCK = new Object();

    private final String name;
    private final Path root;
    private final boolean posix;
    private final boolean createIfMissing;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * A target storing objects below {@code root}, which must exist: a missing root is reported
     * by {@link #check(Access)} and by every operation, and created only by {@link #initialize()}.
     * Nothing is touched on disk here.
     *
     * @param name the configured name of this target, used in messages
     * @param root the folder holding the objects
     */
    public FileSystemStorageTarget(String name, Path root) {
        this(name, root, false);
    }

    /**
     * A target storing objects below {@code root}. Nothing is touched on disk here.
     *
     * @param name            the configured name of this target, used in messages
     * @param root            the folder holding the objects
     * @param createIfMissing true: the first write (or {@code check(Access.WRITE)}) creates a
     *                        missing root and its missing parents (mode 0700); false: a missing
     *                        root is an error until {@link #initialize()} creates it
     */
    public FileSystemStorageTarget(String name, Path root, boolean createIfMissing) {
        this.name = Objects.requireNonNull(name, "name");
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
        this.posix = this.root.getFileSystem().supportedFileAttributeViews().contains("posix");
        this.createIfMissing = createIfMissing;
    }

    @Override
    public String name() {
        return name;
    }

    /** The folder holding the objects. */
    public Path root() {
        return root;
    }

    @Override
    public ObjectUpload create(String key) throws IOException {
        Path file = pathOf(key);
        ensureOpen();
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw existing(key, file);
        }
        Path temp = createTempFile(key, file);
        FileChannel channel;
        try {
            channel = FileChannel.open(temp, StandardOpenOption.WRITE);
        } catch (IOException e) {
            deleteQuietly(temp);
            throw failure("creating", key, e);
        }
        return new FileUpload(key, file, temp, channel);
    }

    @Override
    public boolean createIfAbsent(String key, byte[] content) throws IOException {
        Path file = pathOf(key);
        Objects.requireNonNull(content, "content");
        ensureOpen();
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            requireNotFolder(key, file);
            return false;
        }
        Path temp = createTempFile(key, file);
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(content);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            return publish(key, temp, file);
        } catch (IOException e) {
            throw e instanceof StorageException ? e : failure("creating", key, e);
        } finally {
            deleteQuietly(temp);
        }
    }

    @Override
    public InputStream open(String key) throws IOException {
        return open(key, 0);
    }

    @Override
    public InputStream open(String key, long offset) throws IOException {
        Path file = pathOf(key);
        if (offset < 0) {
            throw new IllegalArgumentException("offset must be >= 0, not " + offset);
        }
        ensureOpen();
        if (Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS)) {
            throw missing(key, null);
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            requireRoot();
            throw missing(key, e);
        } catch (IOException e) {
            if (underAnObject(file)) {
                throw missing(key, e);
            }
            throw failure("opening", key, e);
        }
        try {
            channel.position(offset);
        } catch (IOException e) {
            channel.close();
            throw failure("opening", key, e);
        }
        return Channels.newInputStream(channel);
    }

    @Override
    public Optional<StorageObject> stat(String key) throws IOException {
        Path file = pathOf(key);
        ensureOpen();
        try {
            BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return attrs.isRegularFile()
                    ? Optional.of(new StorageObject(key, attrs.size(), attrs.lastModifiedTime().toInstant()))
                    : Optional.empty();
        } catch (NoSuchFileException e) {
            requireRoot();
            return Optional.empty();
        } catch (IOException e) {
            if (underAnObject(file)) {
                return Optional.empty();
            }
            throw failure("reading the size of", key, e);
        }
    }

    @Override
    public List<StorageObject> list(String prefix) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        ensureOpen();
        int slash = prefix.lastIndexOf('/');
        String folder = slash < 0 ? "" : prefix.substring(0, slash);
        if (slash >= 0 && !isValidKey(folder)) {
            return List.of(); // no valid key lies below an invalid folder
        }
        Path start = slash < 0 ? root : resolve(folder);
        requireRoot();
        if (!Files.isDirectory(start, LinkOption.NOFOLLOW_LINKS)) {
            return List.of();
        }
        List<StorageObject> found = new ArrayList<>();
        try {
            Files.walkFileTree(start, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                    if (dir.equals(start)) {
                        return FileVisitResult.CONTINUE;
                    }
                    String folderKey = keyOf(dir) + "/";
                    return folderKey.startsWith(prefix) || prefix.startsWith(folderKey)
                            ? FileVisitResult.CONTINUE : FileVisitResult.SKIP_SUBTREE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile() && !isPartial(file)) {
                        String key = keyOf(file);
                        if (key.startsWith(prefix) && isValidKey(key)) {
                            found.add(new StorageObject(key, attrs.size(), attrs.lastModifiedTime().toInstant()));
                        }
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE; // deleted while we walked
                    }
                    throw e;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                    if (e != null && !(e instanceof NoSuchFileException)) {
                        throw e;
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new StorageException("listing prefix '" + prefix + "' on storage target '" + name + "' ("
                    + root + ") failed: " + e, false, e);
        }
        found.sort(Comparator.comparing(StorageObject::key));
        return found;
    }

    @Override
    public boolean delete(String key) throws IOException {
        Path file = pathOf(key);
        ensureOpen();
        if (Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        boolean existed;
        try {
            existed = Files.deleteIfExists(file);
        } catch (IOException e) {
            if (underAnObject(file)) {
                return false;
            }
            throw failure("deleting", key, e);
        }
        if (!existed) {
            requireRoot();
        }
        if (existed) {
            syncDirectory(key, file.getParent());
            removeEmptyFolders(file.getParent());
        }
        return existed;
    }

    /** The same as {@code check(Access.WRITE)}. */
    @Override
    public List<Problem> check() {
        return check(Access.WRITE);
    }

    /**
     * {@code READ}: the root exists, is a folder and can be listed. {@code WRITE}: besides, a
     * file can be created in it (probed with a hidden temporary file, so a read-only mount or
     * a full disk's quota is seen here, not by the first upload). A missing root is created
     * for {@code WRITE} only when the target was opened with {@code createIfMissing}.
     */
    @Override
    public List<Problem> check(Access access) {
        Objects.requireNonNull(access, "access");
        List<Problem> problems = new ArrayList<>();
        if (closed.get()) {
            problems.add(new Problem("closed", "storage target '" + name + "' is closed"));
            return problems;
        }
        if (!Files.exists(root)) {
            if (access == Access.WRITE && createIfMissing) {
                try {
                    createRoot();
                } catch (IOException e) {
                    problems.add(new Problem("missing", "storage target '" + name + "': folder " + root
                            + " does not exist and cannot be created: " + describe(e)));
                    return problems;
                }
            } else {
                problems.add(new Problem("missing", missingRootMessage()));
                return problems;
            }
        }
        if (!Files.isDirectory(root)) {
            problems.add(new Problem("not-a-directory", "storage target '" + name + "': " + root
                    + " is not a folder"));
            return problems;
        }
        if (!Files.isReadable(root) || !Files.isExecutable(root)) {
            problems.add(new Problem("not-readable", "storage target '" + name + "': cannot read folder " + root
                    + " (permission denied)"));
            return problems;
        }
        if (access == Access.READ) {
            return problems;
        }
        Path probe = root.resolve("." + "probe." + randomHex() + PARTIAL_SUFFIX);
        try {
            Files.createFile(probe, fileAttributes(FILE_MODE));
            Files.delete(probe);
        } catch (IOException e) {
            problems.add(new Problem("not-writable", "storage target '" + name + "': cannot write to folder "
                    + root + ": " + describe(e)));
            deleteQuietly(probe);
        }
        return problems;
    }

    /**
     * Creates the root folder and its missing parents (mode 0700) when it does not exist.
     *
     * @return true when it was created, false when it existed already
     * @throws StorageException naming the target and the folder when it cannot be created, or
     *                          when the path exists and is not a folder
     */
    @Override
    public boolean initialize() throws IOException {
        ensureOpen();
        if (Files.isDirectory(root)) {
            return false;
        }
        if (Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            throw new StorageException("storage target '" + name + "': " + root + " exists and is not a folder",
                    false);
        }
        try {
            createRoot();
        } catch (IOException e) {
            throw new StorageException("storage target '" + name + "': cannot create folder " + root + ": "
                    + describe(e), false, e);
        }
        return true;
    }

    /** Marks the target closed; later operations fail. Safe to call twice. */
    @Override
    public void close() {
        closed.set(true);
    }

    /**
     * The hidden temporary files ({@code .<name>.<hex>.partial}) whose object key would start
     * with {@code prefix}: uploads in progress and those of killed processes.
     */
    @Override
    public List<IncompleteUpload> incompleteUploads(String prefix) throws IOException {
        Objects.requireNonNull(prefix, "prefix");
        ensureOpen();
        Path start = root;
        int slash = prefix.lastIndexOf('/');
        if (slash > 0 && isValidKey(prefix.substring(0, slash))) {
            start = resolve(prefix.substring(0, slash)); // walk only the folder the prefix names
        }
        if (!Files.isDirectory(start, LinkOption.NOFOLLOW_LINKS)) {
            return List.of();
        }
        List<IncompleteUpload> found = new ArrayList<>();
        try {
            Files.walkFileTree(start, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile() && isPartial(file)) {
                        String key = partialKey(file);
                        if (key != null && key.startsWith(prefix)) {
                            found.add(new IncompleteUpload(key, file.getFileName().toString(), attrs.size(),
                                    attrs.lastModifiedTime().toInstant()));
                        }
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw e;
                }
            });
        } catch (IOException e) {
            throw new StorageException("looking for incomplete uploads on storage target '" + name + "' (" + root
                    + ") failed: " + describe(e), false, e);
        }
        found.sort(Comparator.comparing(IncompleteUpload::key).thenComparing(IncompleteUpload::uploadId));
        return found;
    }

    /** Deletes an upload's temporary file (and folders left empty); a live upload then fails to commit. */
    @Override
    public boolean deleteIncompleteUpload(IncompleteUpload upload) throws IOException {
        ensureOpen();
        String id = upload.uploadId();
        StorageKeys.requireValid(upload.key());
        if (!isPartialName(id) || id.contains("/") || id.equals(".") || id.equals("..")) {
            throw new IllegalArgumentException("'" + id + "' is not an upload of storage target '" + name + "'");
        }
        int slash = upload.key().lastIndexOf('/');
        Path dir = slash < 0 ? root : resolve(upload.key().substring(0, slash));
        Path file = dir.resolve(id);
        try {
            if (!Files.deleteIfExists(file)) {
                return false;
            }
        } catch (IOException e) {
            throw failure("deleting the incomplete upload " + id + " of", upload.key(), e);
        }
        removeEmptyFolders(dir);
        return true;
    }

    /** The key a temporary file would have been published as ({@code .<name>.<hex>.partial}). */
    private String partialKey(Path file) {
        String fileName = file.getFileName().toString();
        String base = fileName.substring(1, fileName.length() - PARTIAL_SUFFIX.length());
        int dot = base.lastIndexOf('.');
        if (dot <= 0) {
            return null;
        }
        base = base.substring(0, dot);
        Path dir = file.getParent();
        String folder = dir.equals(root) ? "" : keyOf(dir) + "/";
        String key = folder + base;
        return isValidKey(key) ? key : null;
    }

    /**
     * Temporary files of uploads that were never committed or aborted (a killed process, a
     * power cut) whose last write is older than {@code age}. Pick an age well above the
     * longest pause a live upload can have between two writes.
     */
    public List<Path> partialFilesOlderThan(Duration age) throws IOException {
        Objects.requireNonNull(age, "age");
        ensureOpen();
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        Instant cutoff = Instant.now().minus(age);
        List<Path> found = new ArrayList<>();
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile() && isPartial(file)
                            && attrs.lastModifiedTime().toInstant().isBefore(cutoff)) {
                        found.add(file);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                    if (e instanceof NoSuchFileException) {
                        return FileVisitResult.CONTINUE;
                    }
                    throw e;
                }
            });
        } catch (IOException e) {
            throw new StorageException("looking for leftover partial files on storage target '" + name + "' ("
                    + root + ") failed: " + e, false, e);
        }
        found.sort(Comparator.naturalOrder());
        return found;
    }

    /**
     * Deletes what {@link #partialFilesOlderThan(Duration)} finds, and folders left empty.
     *
     * @return how many files were deleted
     */
    public int deletePartialFilesOlderThan(Duration age) throws IOException {
        int deleted = 0;
        for (Path file : partialFilesOlderThan(age)) {
            try {
                if (Files.deleteIfExists(file)) {
                    deleted++;
                    removeEmptyFolders(file.getParent());
                }
            } catch (IOException e) {
                throw new StorageException("deleting leftover partial file " + file + " on storage target '" + name
                        + "' failed: " + e, false, e);
            }
        }
        return deleted;
    }

    @Override
    public String toString() {
        return "FileSystemStorageTarget[" + name + " at " + root + "]";
    }

    // ---- paths and keys ----------------------------------------------------------------------

    /** Validates a key and returns its file; keys whose last segment looks like a temporary file are refused. */
    private Path pathOf(String key) {
        StorageKeys.requireValid(key);
        String last = key.substring(key.lastIndexOf('/') + 1);
        if (isPartialName(last)) {
            throw new IllegalArgumentException("storage key '" + key + "' is reserved: names starting with '.' and "
                    + "ending with '" + PARTIAL_SUFFIX + "' are temporary files of storage target '" + name + "'");
        }
        return resolve(key);
    }

    private Path resolve(String validKey) {
        Path p = root;
        for (String segment : validKey.split("/")) {
            p = p.resolve(segment);
        }
        return p;
    }

    private String keyOf(Path path) {
        Path rel = root.relativize(path);
        StringBuilder key = new StringBuilder();
        for (Path part : rel) {
            if (key.length() > 0) {
                key.append('/');
            }
            key.append(part);
        }
        return key.toString();
    }

    /** True when a folder on the way from the root to {@code file} is a file (an object). */
    private boolean underAnObject(Path file) {
        for (Path p = file.getParent(); p != null && p.startsWith(root) && !p.equals(root); p = p.getParent()) {
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isValidKey(String key) {
        try {
            StorageKeys.requireValid(key);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static boolean isPartial(Path file) {
        return isPartialName(file.getFileName().toString());
    }

    private static boolean isPartialName(String fileName) {
        return fileName.startsWith(".") && fileName.endsWith(PARTIAL_SUFFIX);
    }

    private static String randomHex() {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    // ---- folders and files ---------------------------------------------------------------------

    private void createRoot() throws IOException {
        if (Files.isDirectory(root)) {
            return;
        }
        List<Path> missing = new ArrayList<>();
        for (Path p = root; p != null && !Files.exists(p); p = p.getParent()) {
            missing.add(0, p);
        }
        for (Path dir : missing) {
            createFolder(dir);
        }
    }

    /** Creates one folder with mode 0700 unless it exists already (perhaps made by a racing thread). */
    private void createFolder(Path dir) throws IOException {
        try {
            Files.createDirectory(dir, fileAttributes(FOLDER_MODE));
        } catch (FileAlreadyExistsException e) {
            if (Files.isDirectory(dir)) {
                return;
            }
            throw e;
        }
        if (posix) {
            Files.setPosixFilePermissions(dir, FOLDER_MODE);
        }
        fsyncDirectory(dir.getParent());
    }

    /** Creates the folders from the root down to {@code dir}; the root itself only when {@code createIfMissing}. */
    private void ensureFolders(Path dir) throws IOException {
        if (createIfMissing) {
            createRoot();
        } else {
            requireRoot();
        }
        Path rel = root.relativize(dir);
        Path current = root;
        for (Path part : rel) {
            current = current.resolve(part);
            if (!Files.isDirectory(current, LinkOption.NOFOLLOW_LINKS)) {
                createFolder(current);
            }
        }
    }

    /**
     * Creates the hidden temporary file of an upload (mode 0600) next to {@code file}. A racing
     * {@link #delete} may remove the freshly created, still empty folder before the file exists
     * in it; that is retried.
     */
    private Path createTempFile(String key, Path file) throws IOException {
        Path dir = file.getParent();
        String base = file.getFileName().toString();
        if (base.length() > MAX_NAME_IN_TEMP) {
            base = base.substring(0, MAX_NAME_IN_TEMP);
        }
        IOException last = null;
        for (int attempt = 0; attempt < DIRECTORY_RACE_ATTEMPTS; attempt++) {
            Path temp = dir.resolve("." + base + "." + randomHex() + PARTIAL_SUFFIX);
            try {
                ensureFolders(dir);
                Files.createFile(temp, fileAttributes(FILE_MODE));
                if (posix) {
                    Files.setPosixFilePermissions(temp, FILE_MODE);
                }
                return temp;
            } catch (NoSuchFileException | FileAlreadyExistsException e) {
                last = e; // folder removed under us, or a name collision: try again
                if (underAnObject(file)) {
                    break; // a file is where a folder of the key should be
                }
            } catch (StorageException e) {
                throw e; // the root is missing
            } catch (IOException e) {
                last = e;
                break;
            }
        }
        if (underAnObject(file)) {
            throw new StorageException("cannot create object '" + key + "' on storage target '" + name
                    + "': a folder on its path is an object", false, last);
        }
        throw failure("creating", key, last);
    }

    /**
     * Publishes a complete, fsynced temporary file under its final name without replacing an
     * existing object, then fsyncs the folder. Returns false when the key exists already.
     */
    private boolean publish(String key, Path temp, Path file) throws IOException {
        try {
            Files.createLink(file, temp);
        } catch (FileAlreadyExistsException e) {
            requireNotFolder(key, file);
            return false;
        } catch (NoSuchFileException e) {
            throw failure("committing", key, e);
        } catch (UnsupportedOperationException | FileSystemException e) {
            // no hard links here (or not for this file): fall back to a guarded rename
            try {
                if (!renameIfAbsent(temp, file)) {
                    requireNotFolder(key, file);
                    return false;
                }
            } catch (IOException fallback) {
                fallback.addSuppressed(e);
                throw fallback instanceof StorageException ? fallback : failure("committing", key, fallback);
            }
        }
        deleteQuietly(temp);
        syncDirectory(key, file.getParent());
        return true;
    }

    /** Fallback for file systems without hard links: check-then-rename under a lock of this target. */
    private boolean renameIfAbsent(Path temp, Path file) throws IOException {
        synchronized (RENAME_LOCK) {
            if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
            return true;
        }
    }

    private void requireNotFolder(String key, Path file) throws StorageException {
        if (Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new StorageException("cannot store object '" + key + "' on storage target '" + name
                    + "': there is a folder of that name holding other objects", false);
        }
    }

    /** Removes folders left empty, from {@code dir} up to (not including) the root. */
    private void removeEmptyFolders(Path dir) {
        for (Path d = dir; d != null && d.startsWith(root) && !d.equals(root); d = d.getParent()) {
            try {
                Files.delete(d);
            } catch (DirectoryNotEmptyException | NoSuchFileException e) {
                return; // still in use, or removed by another thread
            } catch (IOException e) {
                return; // an empty folder left behind is harmless
            }
        }
    }

    private void syncDirectory(String key, Path dir) throws StorageException {
        try {
            fsyncDirectory(dir);
        } catch (IOException e) {
            throw failure("syncing the folder of", key, e);
        }
    }

    /**
     * Makes a folder's entries durable. Some platforms cannot open a folder at all (Windows)
     * and some file systems refuse fsync on one (EINVAL); there it is skipped. A folder
     * removed meanwhile (a racing delete of its last object) has nothing left to sync.
     */
    private void fsyncDirectory(Path dir) throws IOException {
        if (dir == null) {
            return;
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(dir, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            if (!posix) {
                return; // folders cannot be opened on this platform
            }
            throw e;
        }
        try (channel) {
            channel.force(true);
        } catch (IOException e) {
            String message = String.valueOf(e.getMessage());
            if (!message.contains("Invalid argument") && !message.contains("not supported")) {
                throw e;
            }
        }
    }

    private FileAttribute<?>[] fileAttributes(Set<PosixFilePermission> mode) {
        return posix ? new FileAttribute<?>[]{PosixFilePermissions.asFileAttribute(mode)} : new FileAttribute<?>[0];
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // left for deletePartialFilesOlderThan
        }
    }

    // ---- errors --------------------------------------------------------------------------------

    /** Fails with a {@link StorageException} (naming the target and the folder) when the root folder is missing. */
    private void requireRoot() throws StorageException {
        if (Files.isDirectory(root)) {
            return;
        }
        throw new StorageException(Files.exists(root)
                ? "storage target '" + name + "': " + root + " is not a folder"
                : missingRootMessage(), false);
    }

    private String missingRootMessage() {
        return "storage target '" + name + "': folder " + root + " does not exist (is its disk mounted?); a storage "
                + "folder is never created implicitly: create it with 'backupctl init --storage " + name
                + "' (FileSystemStorageTarget.initialize()), or set 'create: true' on the target to let the first "
                + "backup create it";
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("storage target '" + name + "' is closed");
        }
    }

    private StorageObjectExistsException existing(String key, Path file) throws StorageException {
        requireNotFolder(key, file);
        return new StorageObjectExistsException(key);
    }

    private StorageException missing(String key, IOException cause) {
        return new StorageException("object '" + key + "' does not exist on storage target '" + name + "' ("
                + root + ")", false, cause);
    }

    private StorageException failure(String doing, String key, IOException e) {
        return new StorageException(doing + " object '" + key + "' on storage target '" + name + "' (" + root
                + ") failed: " + describe(e), false, e);
    }

    private static String describe(IOException e) {
        if (e instanceof FileSystemException fse) {
            String reason = fse.getReason();
            return (fse.getFile() == null ? "" : fse.getFile() + ": ")
                    + (reason == null ? e.getClass().getSimpleName() : reason);
        }
        return String.valueOf(e.getMessage());
    }

    // ---- uploads -------------------------------------------------------------------------------

    /** Writes through a buffer into the temporary file; commit publishes it. */
    private final class FileUpload extends ObjectUpload {
        private final String key;
        private final Path file;
        private final Path temp;
        private final FileChannel channel;
        private final OutputStream out;
        private boolean committed;
        private boolean closed;
        private boolean failed;
        private long sinceWriteback;
        private Future<?> writeback;
        /** An early flush that failed: Linux may have dropped those pages, so commit must fail too. */
        private volatile IOException writebackFailure;

        FileUpload(String key, Path file, Path temp, FileChannel channel) {
            this.key = key;
            this.file = file;
            this.temp = temp;
            this.channel = channel;
            this.out = new BufferedOutputStream(Channels.newOutputStream(channel), BUFFER_SIZE);
        }

        @Override
        public synchronized void write(int b) throws IOException {
            ensureWritable();
            try {
                out.write(b);
            } catch (IOException e) {
                failed = true;
                throw failure("writing", key, e);
            }
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            ensureWritable();
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                failed = true;
                throw failure("writing", key, e);
            }
            sinceWriteback += len;
            if (sinceWriteback >= WRITEBACK_BYTES && (writeback == null || writeback.isDone())) {
                sinceWriteback = 0;
                writeback = WRITEBACK.submit(this::flushEarly);
            }
        }

        /** Waits for an early flush still running, so its outcome is known before commit decides. */
        private void awaitWriteback() throws IOException {
            if (writeback == null) {
                return;
            }
            try {
                writeback.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while committing " + key);
            } catch (ExecutionException e) {
                writebackFailure = new IOException("early flush failed: " + e.getCause(), e.getCause());
            }
        }

        /**
         * Asks the disk for what is written so far. A failure is kept for commit: after a failed
         * fsync, Linux may mark the lost pages clean, and a later fsync then succeeds without them.
         */
        private void flushEarly() {
            try {
                channel.force(false);
            } catch (ClosedChannelException e) {
                // committed or aborted meanwhile: nothing left to flush early
            } catch (IOException e) {
                writebackFailure = e;
            }
        }

        @Override
        public synchronized void flush() throws IOException {
            ensureWritable();
            try {
                out.flush();
            } catch (IOException e) {
                failed = true;
                throw failure("writing", key, e);
            }
        }

        private void ensureWritable() throws StorageException {
            if (committed || closed) {
                throw new StorageException("upload of object '" + key + "' to storage target '" + name + "' is "
                        + (committed ? "committed" : "closed") + "; no more writes", false);
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
            try {
                out.flush();
                awaitWriteback();
                channel.force(true);
                if (writebackFailure != null) {
                    throw writebackFailure;
                }
                channel.close();
            } catch (IOException e) {
                failed = true;
                throw failure("committing", key, e);
            }
            if (!publish(key, temp, file)) {
                throw new StorageObjectExistsException(key);
            }
            committed = true;
        }

        @Override
        public synchronized void close() throws IOException {
            if (closed || committed) {
                closed = true;
                return;
            }
            closed = true;
            try {
                channel.close();
            } finally {
                deleteQuietly(temp);
                removeEmptyFolders(temp.getParent());
            }
        }
    }
}
