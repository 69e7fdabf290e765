package com.aiplatform.backup.core;

import com.aiplatform.backup.api.EncryptionKeyException;
import com.google.crypto.tink.Aead;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeyTemplates;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.streamingaead.StreamingAeadConfig;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.util.Objects;

/**
 * Built-in {@link KeyProvider}s and keyset generation. Keysets are Tink JSON keysets of a
 * streaming AEAD ({@code AES256_GCM_HKDF_1MB} for new ones). Errors name where the key was
 * looked for, never its material.
 */
public final class EncryptionKeys {
    /** The Tink key template of new keysets. */
    public static final String TEMPLATE = "AES256_GCM_HKDF_1MB";

    static {
        try {
            StreamingAeadConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private EncryptionKeys() {
    }

    /** A cleartext Tink JSON keyset in a file (keep it mode 0600). */
    public static KeyProvider keysetFile(Path file) {
        Objects.requireNonNull(file, "file");
        return new KeyProvider() {
            @Override
            public String describe() {
                return "keyset file " + file;
            }

            @Override
            public KeysetHandle keyset() throws EncryptionKeyException {
                String json;
                try {
                    json = Files.readString(file, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new EncryptionKeyException(null, "cannot read keyset file " + file + ": "
                            + e.getClass().getSimpleName());
                }
                return parse(json, describe());
            }
        };
    }

    /** A cleartext Tink JSON keyset held in an environment variable. */
    public static KeyProvider environment(String variable) {
        Objects.requireNonNull(variable, "variable");
        return new KeyProvider() {
            @Override
            public String describe() {
                return "environment variable " + variable;
            }

            @Override
            public KeysetHandle keyset() throws EncryptionKeyException {
                String json = System.getenv(variable);
                if (json == null || json.isBlank()) {
                    throw new EncryptionKeyException(null, "environment variable " + variable
                            + " that should hold the keyset is not set");
                }
                return parse(json, describe());
            }
        };
    }

    /**
     * A Tink JSON keyset encrypted with a key-encryption key held elsewhere, typically by a
     * KMS: {@code kek} is the bridge (for example a Tink {@code KmsClient}'s AEAD).
     */
    public static KeyProvider encryptedKeysetFile(Path file, Aead kek) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(kek, "kek");
        return new KeyProvider() {
            @Override
            public String describe() {
                return "encrypted keyset file " + file;
            }

            @Override
            public KeysetHandle keyset() throws EncryptionKeyException {
                try {
                    return TinkJsonProtoKeysetFormat.parseEncryptedKeyset(
                            Files.readString(file, StandardCharsets.UTF_8), kek, new byte[0]);
                } catch (IOException e) {
                    throw new EncryptionKeyException(null, "cannot read " + describe() + ": "
                            + e.getClass().getSimpleName());
                } catch (GeneralSecurityException e) {
                    throw new EncryptionKeyException(null, describe()
                            + " cannot be decrypted with the key-encryption key");
                }
            }
        };
    }

    /** A provider over a keyset already in memory (tests, or a caller's own key management). */
    public static KeyProvider of(KeysetHandle keyset, String description) {
        Objects.requireNonNull(keyset, "keyset");
        return new KeyProvider() {
            @Override
            public String describe() {
                return description;
            }

            @Override
            public KeysetHandle keyset() {
                return keyset;
            }
        };
    }

    /** A new streaming-AEAD keyset. */
    public static KeysetHandle newKeyset() {
        try {
            return KeysetHandle.generateNew(KeyTemplates.get(TEMPLATE));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Tink cannot generate a " + TEMPLATE + " keyset", e);
        }
    }

    /**
     * Writes a new cleartext keyset to {@code out} with mode 0600, refusing to overwrite.
     *
     * @return the key id recorded in manifests of backups encrypted with it
     */
    public static String generateKeysetFile(Path out) throws IOException {
        KeysetHandle handle = newKeyset();
        String json;
        try {
            json = TinkJsonProtoKeysetFormat.serializeKeyset(handle, InsecureSecretKeyAccess.get());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Tink cannot serialize a new keyset", e);
        }
        try {
            Files.createFile(out, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (FileAlreadyExistsException e) {
            throw new FileAlreadyExistsException(out.toString(), null, "refusing to overwrite an existing keyset");
        }
        Files.writeString(out, json, StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
        return StreamEncryption.keyId(handle);
    }

    static KeysetHandle parse(String json, String where) throws EncryptionKeyException {
        try {
            return TinkJsonProtoKeysetFormat.parseKeyset(json, InsecureSecretKeyAccess.get());
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new EncryptionKeyException(null, where + " does not hold a valid Tink JSON keyset");
        }
    }
}
