package com.aiplatform.backup.core;

import com.aiplatform.backup.api.EncryptionKeyException;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.StreamingAead;
import com.google.crypto.tink.proto.KeysetInfo;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.List;

/**
 * Streaming AEAD stage over a loaded keyset. The associated data binds every ciphertext to
 * its source, backup and artifact, so stored objects cannot be swapped unnoticed.
 */
final class StreamEncryption {
    static final String CIPHER = "tink-streaming-aead";
    static final String NONE = "none";

    private final KeysetHandle keyset;
    private final StreamingAead aead;
    private final String keyId;
    private final String description;

    private StreamEncryption(KeysetHandle keyset, String description) throws EncryptionKeyException {
        this.keyset = keyset;
        this.description = description;
        this.keyId = keyId(keyset);
        try {
            this.aead = keyset.getPrimitive(RegistryConfiguration.get(), StreamingAead.class);
        } catch (GeneralSecurityException e) {
            throw new EncryptionKeyException(keyId, description + " holds no streaming-AEAD key");
        }
    }

    static StreamEncryption load(KeyProvider keys) throws EncryptionKeyException {
        return new StreamEncryption(keys.keyset(), keys.describe());
    }

    /** {@code tink-<primary key id>}: recorded in manifests to pick the key on restore. */
    static String keyId(KeysetHandle handle) {
        return "tink-" + Integer.toUnsignedString(handle.getKeysetInfo().getPrimaryKeyId());
    }

    String keyId() {
        return keyId;
    }

    String description() {
        return description;
    }

    List<String> keyIds() {
        return keyset.getKeysetInfo().getKeyInfoList().stream()
                .map(KeysetInfo.KeyInfo::getKeyId)
                .map(id -> "tink-" + Integer.toUnsignedString(id))
                .toList();
    }

    /** Fails with an error naming the key unless this keyset holds {@code wanted}. */
    void requireKey(String wanted, String artifact) throws EncryptionKeyException {
        if (!keyIds().contains(wanted)) {
            throw new EncryptionKeyException(wanted, "artifact " + artifact + " was encrypted with key " + wanted
                    + ", which the configured " + description + " does not hold (it holds " + keyIds() + ")");
        }
    }

    OutputStream encrypt(OutputStream out, String associatedData) throws IOException {
        try {
            return aead.newEncryptingStream(out, associatedData.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new EncryptionKeyException(keyId, "cannot start encryption with key " + keyId);
        }
    }

    InputStream decrypt(InputStream in, String associatedData) throws IOException {
        try {
            return aead.newDecryptingStream(in, associatedData.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new EncryptionKeyException(keyId, "cannot start decryption with key " + keyId);
        }
    }

    static String associatedData(String source, String backupId, String artifact) {
        return "aiplatform-backup/v1/" + source + "/" + backupId + "/" + artifact;
    }
}
