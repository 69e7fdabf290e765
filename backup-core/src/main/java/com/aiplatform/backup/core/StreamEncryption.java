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
        StreamEncryption loaded = new StreamEncryption(keys.keyset(), keys.describe());
        primeInBackground();
        return loaded;
    }

    private static final java.util.concurrent.atomic.AtomicBoolean PRIMED = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * A fresh JVM runs AES-GCM at under 100 MB/s until the JIT has compiled its intrinsics,
     * which with 1 MiB segments takes some 600 MB of data (benchmarks/README.md). Encrypting
     * 64 MiB in 4 KiB segments with a throwaway key gets there in about a second; it runs once
     * per JVM on a low-priority daemon thread, so nothing waits for it.
     */
    static void primeInBackground() {
        if (!PRIMED.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                StreamingAead small = KeysetHandle.generateNew(com.google.crypto.tink.KeyTemplates.get(
                        "AES256_GCM_HKDF_4KB")).getPrimitive(RegistryConfiguration.get(), StreamingAead.class);
                byte[] piece = new byte[64 * 1024];
                for (int round = 0; round < 64; round++) {
                    try (OutputStream out = small.newEncryptingStream(OutputStream.nullOutputStream(), new byte[0])) {
                        for (int i = 0; i < 16; i++) {
                            out.write(piece);
                        }
                    }
                }
            } catch (GeneralSecurityException | IOException | RuntimeException e) {
                // only an optimisation
            }
        }, "backup-aes-gcm-warmup");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
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
