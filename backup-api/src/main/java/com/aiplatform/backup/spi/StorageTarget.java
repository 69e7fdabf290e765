package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.Problem;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/**
 * A place that stores immutable objects by key ({@code source/backups/id/artifact}).
 * Keys use {@code /} separators. Objects become visible only when complete: a failed or
 * aborted upload is never listed or readable. Streams only; nothing takes a whole backup
 * as a byte array. Implementations are thread-safe and safe to close twice.
 */
public interface StorageTarget extends AutoCloseable {
    /** The configured name of this target. */
    String name();

    /**
     * Starts writing a new object. Nothing is visible until {@link ObjectUpload#commit()};
     * closing without commit aborts and leaves no visible object.
     *
     * @throws StorageObjectExistsException if an object with this key exists already
     */
    ObjectUpload create(String key) throws IOException;

    /**
     * Creates a small object only if no object has the key yet, atomically: of two callers
     * racing, exactly one gets true. Used for locks.
     */
    boolean createIfAbsent(String key, byte[] content) throws IOException;

    /** Opens a complete object for reading. */
    InputStream open(String key) throws IOException;

    /** Opens a complete object for reading from {@code offset}. */
    InputStream open(String key, long offset) throws IOException;

    /** Size and time of an object, or empty when it does not exist. */
    Optional<StorageObject> stat(String key) throws IOException;

    /** Complete objects whose key starts with {@code prefix}, sorted by key. */
    List<StorageObject> list(String prefix) throws IOException;

    /** Deletes an object; true when it existed. */
    boolean delete(String key) throws IOException;

    /**
     * Uploads whose key starts with {@code prefix} that were started and neither committed nor
     * aborted, sorted by key: live ones and those of killed processes (pick them by age). The
     * default, for targets whose uploads leave nothing behind, is none.
     */
    default List<IncompleteUpload> incompleteUploads(String prefix) throws IOException {
        return List.of();
    }

    /**
     * Removes an incomplete upload and its data; a live upload removed this way fails to
     * commit. True when it existed. The default does nothing.
     */
    default boolean deleteIncompleteUpload(IncompleteUpload upload) throws IOException {
        return false;
    }

    /**
     * Every problem that would stop writing to this target (missing, not writable), all at
     * once; the same as {@code check(Access.WRITE)}.
     */
    List<Problem> check();

    /** What an operation needs of a storage target. */
    enum Access {
        /** Listing, reading, verifying, restoring: the target must exist and be readable. */
        READ,
        /** Backing up, pruning, copying onto it: the target must exist (or be creatable) and be writable. */
        WRITE
    }

    /**
     * Every problem that would stop an operation needing {@code access}, all at once: a
     * read-only target passes {@code READ}; a missing one fails both (code {@code missing}).
     * Checking has no side effect except that a target configured to be created on first
     * use may create itself for {@code WRITE}. The default (for implementations written
     * before this method) checks writing for both.
     */
    default List<Problem> check(Access access) {
        return check();
    }

    /**
     * Prepares a target that does not exist yet (creates its folder, bucket, ...); an existing
     * target is left as it is. Targets are never created implicitly otherwise, so an unmounted
     * disk is never silently replaced by an empty local folder.
     *
     * @return true when something was created, false when the target existed already
     * @throws IOException when it cannot be created
     */
    default boolean initialize() throws IOException {
        return false;
    }

    @Override
    void close() throws IOException;
}
