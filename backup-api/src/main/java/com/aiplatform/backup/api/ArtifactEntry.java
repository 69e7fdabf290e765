package com.aiplatform.backup.api;

import java.util.Objects;

/**
 * One artifact of a backup as recorded in its manifest.
 *
 * @param name         artifact name given by the provider, relative ({@code base.tar}, {@code db/coll.bson})
 * @param rawSize      bytes the provider wrote, before compression and encryption
 * @param storedSize   bytes of the stored object
 * @param storedSha256 lower-case hex SHA-256 of the stored object: {@code sha256sum} of the file gives the same
 * @param compression  codec id ({@link Compression#id()})
 * @param cipher       {@code none} or the streaming AEAD used ({@code tink-aes256-gcm-hkdf-1mb})
 * @param keyId        id of the encryption key, or null when not encrypted
 */
public record ArtifactEntry(String name, long rawSize, long storedSize, String storedSha256,
                            String compression, String cipher, String keyId) {
    public ArtifactEntry {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(storedSha256, "storedSha256");
        Objects.requireNonNull(compression, "compression");
        Objects.requireNonNull(cipher, "cipher");
    }
}
