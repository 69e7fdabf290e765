package com.aiplatform.backup.core;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.api.Manifest;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;

/**
 * Reads and writes {@code manifest.json}. The JSON carries {@code manifestSha256}, the SHA-256
 * of the manifest's canonical form, so an accidental edit is caught; when backups are
 * encrypted it also carries {@code manifestSeal}, that digest encrypted with the backup key,
 * so a deliberate edit by someone without the key is caught too.
 */
final class ManifestCodec {
    static final String FILE = "manifest.json";
    private static final String DIGEST_FIELD = "manifestSha256";
    private static final String SEAL_FIELD = "manifestSeal";
    /** Manifests are small; anything larger is not one of ours. */
    private static final int MAX_BYTES = 64 << 20;

    static final ObjectMapper JSON = JsonMapper.builder()
            .addModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private ManifestCodec() {
    }

    static byte[] write(Manifest manifest, StreamEncryption encryption) throws IOException {
        ObjectNode node = JSON.valueToTree(manifest);
        byte[] digest = digest(node);
        node.put(DIGEST_FIELD, java.util.HexFormat.of().formatHex(digest));
        if (encryption != null) {
            ByteArrayOutputStream sealed = new ByteArrayOutputStream();
            try (OutputStream out = encryption.encrypt(sealed, sealAd(manifest))) {
                out.write(digest);
            }
            node.put(SEAL_FIELD, Base64.getEncoder().encodeToString(sealed.toByteArray()));
        }
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node);
    }

    /**
     * Parses and checks a manifest.
     *
     * @param encryption the configured key, or null; a sealed manifest is checked against it when given
     * @throws IntegrityException naming {@code manifest.json} when it was edited or is unreadable
     */
    static Manifest read(InputStream in, String key, StreamEncryption encryption) throws IOException {
        byte[] bytes = in.readNBytes(MAX_BYTES + 1);
        if (bytes.length > MAX_BYTES) {
            throw new IntegrityException(FILE, key + " is larger than any manifest (over 64 MiB)");
        }
        ObjectNode node;
        Manifest manifest;
        try {
            JsonNode tree = JSON.readTree(bytes);
            if (!(tree instanceof ObjectNode)) {
                throw new IntegrityException(FILE, key + " is not a JSON object");
            }
            node = (ObjectNode) tree;
            JsonNode storedDigest = node.remove(DIGEST_FIELD);
            JsonNode seal = node.remove(SEAL_FIELD);
            if (storedDigest == null) {
                throw new IntegrityException(FILE, key + " has no " + DIGEST_FIELD);
            }
            byte[] digest = digest(node);
            if (!java.util.HexFormat.of().formatHex(digest).equals(storedDigest.asText())) {
                throw new IntegrityException(FILE, key + " was edited: its content no longer matches its "
                        + DIGEST_FIELD);
            }
            manifest = JSON.treeToValue(node, Manifest.class);
            if (manifest.formatVersion() > Manifest.CURRENT_FORMAT) {
                throw new IntegrityException(FILE, key + " has formatVersion " + manifest.formatVersion()
                        + "; this library reads up to " + Manifest.CURRENT_FORMAT);
            }
            boolean encrypted = manifest.artifacts().stream()
                    .anyMatch(a -> !StreamEncryption.NONE.equals(a.cipher()));
            if (encrypted && seal == null) {
                throw new IntegrityException(FILE, key + " lists encrypted artifacts but has no "
                        + SEAL_FIELD + " (was it edited?)");
            }
            if (seal != null && encryption != null) {
                checkSeal(manifest, key, seal.asText(), digest, encryption);
            }
        } catch (JsonProcessingException | IllegalArgumentException | NullPointerException e) {
            throw new IntegrityException(FILE, key + " is not a readable manifest: " + firstLine(e.getMessage()));
        }
        return manifest;
    }

    private static void checkSeal(Manifest manifest, String key, String seal, byte[] digest,
                                  StreamEncryption encryption) throws IOException {
        String keyId = manifest.artifacts().stream().map(a -> a.keyId()).filter(k -> k != null)
                .findFirst().orElse(null);
        if (keyId != null && !encryption.keyIds().contains(keyId)) {
            // Not our key: the seal cannot be checked here. Listing and hash verification still
            // work; a restore fails on the missing key before reading any artifact.
            return;
        }
        byte[] opened;
        try (InputStream in = encryption.decrypt(new ByteArrayInputStream(Base64.getDecoder().decode(seal)),
                sealAd(manifest))) {
            opened = in.readNBytes(64);
        } catch (IOException | IllegalArgumentException e) {
            throw new IntegrityException(FILE, key + " was edited: its seal does not authenticate with key "
                    + keyId);
        }
        if (!Arrays.equals(opened, digest)) {
            throw new IntegrityException(FILE, key + " was edited: its seal does not match its content");
        }
    }

    private static byte[] digest(ObjectNode node) throws JsonProcessingException {
        return Sha256.newDigest().digest(JSON.writeValueAsBytes(node));
    }

    private static String sealAd(Manifest manifest) {
        return StreamEncryption.associatedData(manifest.source(), manifest.backupId().value(), FILE);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }

    static String toJson(Object value) {
        try {
            return new String(JSON.writeValueAsBytes(value), StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

}
