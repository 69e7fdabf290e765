package com.aiplatform.backup.core;

import com.aiplatform.backup.api.EncryptionKeyException;
import com.google.crypto.tink.KeysetHandle;

/**
 * Supplies the Tink keyset used for client-side streaming encryption. Built-in sources are
 * a keyset file and an environment variable ({@link EncryptionKeys}); a KMS bridge
 * implements this interface itself, typically by decrypting a stored keyset with a
 * KMS-held key ({@link EncryptionKeys#encryptedKeysetFile}).
 */
public interface KeyProvider {
    /** A description for messages, without any key material ({@code keyset file /etc/backup/keyset.json}). */
    String describe();

    /** Loads the keyset. Errors name the location, never key material. */
    KeysetHandle keyset() throws EncryptionKeyException;
}
