package com.aiplatform.backup.core;

import com.aiplatform.backup.api.ArtifactEntry;
import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.EncryptionKeyException;
import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.VerifyReport.ArtifactCheck;
import com.aiplatform.backup.spi.StorageTarget;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Optional;
import java.util.function.LongConsumer;

/** Reading side of the pipeline: verification of stored bytes, and verified decoding for restore. */
final class ArtifactReader {
    private static final int BUFFER = 256 * 1024;

    private ArtifactReader() {
    }

    /** Checks presence, size and SHA-256 of one stored artifact without decoding it. */
    static ArtifactCheck check(StorageTarget storage, String key, ArtifactEntry entry, LongConsumer progress)
            throws IOException {
        Optional<com.aiplatform.backup.spi.StorageObject> stat = storage.stat(key);
        if (stat.isEmpty()) {
            return new ArtifactCheck(entry.name(), false, "missing: no stored object " + key);
        }
        MessageDigest digest = Sha256.newDigest();
        long count = 0;
        byte[] buffer = new byte[BUFFER];
        try (InputStream in = new InterruptibleInputStream(storage.open(key), key)) {
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
                count += n;
                progress.accept(n);
            }
        }
        if (count != entry.storedSize()) {
            String what = count < entry.storedSize() ? "truncated" : "longer than recorded";
            return new ArtifactCheck(entry.name(), false, what + ": " + count + " bytes stored, manifest records "
                    + entry.storedSize());
        }
        String actual = HexFormat.of().formatHex(digest.digest());
        if (!actual.equals(entry.storedSha256())) {
            return new ArtifactCheck(entry.name(), false, "SHA-256 mismatch: stored object hashes to " + actual
                    + ", manifest records " + entry.storedSha256());
        }
        return new ArtifactCheck(entry.name(), true, null);
    }

    /**
     * Opens an artifact decrypted and decompressed. The stored bytes are hashed as they are
     * read; reaching the end checks size and SHA-256 again (the object may have changed since
     * it was verified) and authentication failures surface as {@link IntegrityException}.
     */
    static InputStream openDecoded(StorageTarget storage, String key, ArtifactEntry entry,
                                   StreamEncryption encryption, String associatedData, LongConsumer progress)
            throws IOException {
        Compression compression = Compression.fromId(entry.compression());
        boolean encrypted = !StreamEncryption.NONE.equals(entry.cipher());
        if (encrypted) {
            if (encryption == null) {
                throw new EncryptionKeyException(entry.keyId(), "artifact " + entry.name()
                        + " is encrypted with key " + entry.keyId() + " but no encryption key is configured");
            }
            encryption.requireKey(entry.keyId(), entry.name());
        }
        VerifyingInputStream stored = new VerifyingInputStream(new InterruptibleInputStream(storage.open(key), key), entry);
        InputStream plain = encrypted ? encryption.decrypt(stored, associatedData) : stored;
        InputStream decoded = Codecs.decompress(compression, new java.io.BufferedInputStream(plain, BUFFER));
        return new DecodedStream(decoded, stored, entry, progress);
    }

    /** Hashes and counts stored bytes; at end of stream compares them with the manifest. */
    static final class VerifyingInputStream extends ChunkReadingStream {
        private final ArtifactEntry entry;
        private final MessageDigest digest = Sha256.newDigest();
        private long count;
        private boolean checked;

        VerifyingInputStream(InputStream in, ArtifactEntry entry) {
            super(in);
            this.entry = entry;
        }


        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                digest.update(b, off, n);
                count += n;
                if (count > entry.storedSize()) {
                    throw new IntegrityException(entry.name(), "artifact " + entry.name()
                            + " is longer than the " + entry.storedSize() + " bytes its manifest records");
                }
            } else if (n < 0) {
                checkAtEnd();
            }
            return n;
        }


        void drainAndCheck() throws IOException {
            byte[] buffer = new byte[BUFFER];
            while (read(buffer, 0, buffer.length) >= 0) {
                // hash the rest of the stored object
            }
        }

        private void checkAtEnd() throws IOException {
            if (checked) {
                return;
            }
            checked = true;
            if (count != entry.storedSize()) {
                throw new IntegrityException(entry.name(), "artifact " + entry.name() + " is truncated: "
                        + count + " of " + entry.storedSize() + " bytes");
            }
            String actual = HexFormat.of().formatHex(digest.digest());
            if (!actual.equals(entry.storedSha256())) {
                throw new IntegrityException(entry.name(), "artifact " + entry.name()
                        + " changed after verification: SHA-256 " + actual + " instead of " + entry.storedSha256());
            }
        }
    }

    /** The decoded stream handed to providers: counts raw bytes and verifies the stored object at its end. */
    private static final class DecodedStream extends ChunkReadingStream {
        private final VerifyingInputStream stored;
        private final ArtifactEntry entry;
        private final LongConsumer progress;
        private long raw;
        private boolean ended;

        DecodedStream(InputStream decoded, VerifyingInputStream stored, ArtifactEntry entry, LongConsumer progress) {
            super(decoded);
            this.stored = stored;
            this.entry = entry;
            this.progress = progress;
        }


        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n;
            try {
                n = in.read(b, off, len);
            } catch (IntegrityException e) {
                throw e;
            } catch (IOException e) {
                // Tink and the codecs report tampering or truncation as plain IOExceptions.
                throw new IntegrityException(entry.name(), "artifact " + entry.name()
                        + " cannot be decoded (" + entry.cipher() + ", " + entry.compression() + "): "
                        + e.getMessage(), e);
            }
            if (n > 0) {
                raw += n;
                progress.accept(n);
            } else if (n < 0 && !ended) {
                ended = true;
                stored.drainAndCheck();
                if (raw != entry.rawSize()) {
                    throw new IntegrityException(entry.name(), "artifact " + entry.name() + " decoded to "
                            + raw + " bytes, manifest records " + entry.rawSize());
                }
            }
            return n;
        }

    }

    /**
     * A filter whose single-byte read and skip go through its {@code read(byte[], int, int)}, so
     * subclasses see every byte in one place; no mark/reset.
     */
    private abstract static class ChunkReadingStream extends FilterInputStream {
        ChunkReadingStream(InputStream in) {
            super(in);
        }

        @Override
        public abstract int read(byte[] b, int off, int len) throws IOException;

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public long skip(long n) throws IOException {
            byte[] buffer = new byte[(int) Math.min(BUFFER, Math.max(n, 1))];
            long skipped = 0;
            while (skipped < n) {
                int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
                if (r < 0) {
                    break;
                }
                skipped += r;
            }
            return skipped;
        }

        @Override
        public boolean markSupported() {
            return false;
        }
    }
}
