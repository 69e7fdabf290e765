package com.aiplatform.backup.spi;

import com.aiplatform.backup.api.BackupKind;

import java.io.IOException;
import java.util.List;

/**
 * One restore in progress: reads artifacts from the source and applies them. Safe to close twice.
 *
 * <p>The engine calls {@link #restoreChain} once per session, with every backup the restore needs
 * in order. Engines without incremental backups only implement {@link #restore}; engines with
 * them (Kafka, and later Redis or MongoDB) override {@link #restoreChain} so the whole chain is
 * applied as one restore, checked as a whole before anything is written.
 */
public interface RestoreSession extends AutoCloseable {
    /**
     * Applies one full backup. The artifacts it reads have been verified (hash, authentication)
     * before the first byte is handed over; a failure must leave the target as it was or
     * clearly marked as incomplete, never silently half-applied.
     */
    void restore(ArtifactSource source) throws IOException;

    /**
     * Applies a chain of backups in order, as one restore. Every link has been verified (hash,
     * key present) before this is called, and the engine has checked the links: each link after
     * the first is an {@link BackupKind#INCREMENTAL} whose {@link com.aiplatform.backup.api.Manifest#parent()}
     * is the link before it, so it <em>appends</em> to what that link restored.
     *
     * <p>The first link is a {@link BackupKind#FULL} backup, which restores into an empty target,
     * except when the caller asked to apply one incremental onto a target that already holds its
     * parent chain (the engine's {@code append-chain=true}): then the chain is that one incremental
     * and it appends to what the target holds. A provider should check what it can of every link
     * (and of the target) before writing the first byte.
     *
     * <p>The default applies a chain of one full backup with {@link #restore} and refuses anything
     * else, for engines that never make incremental backups.
     *
     * @param chain the links, oldest (the full backup) first; never empty
     */
    default void restoreChain(List<ArtifactSource> chain) throws IOException {
        if (chain.size() != 1 || chain.get(0).manifest().kind() != BackupKind.FULL) {
            ArtifactSource last = chain.get(chain.size() - 1);
            throw new UnsupportedOperationException("backup " + last.manifest().backupId() + " of '"
                    + last.manifest().source() + "' is an incremental, and engine '" + last.manifest().engine()
                    + "' cannot restore incremental backups");
        }
        restore(chain.get(0));
    }

    @Override
    void close() throws IOException;
}
