package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.Compression;
import com.aiplatform.backup.api.EncryptionKeyException;
import com.aiplatform.backup.core.EncryptionKeys;
import com.aiplatform.backup.core.KeyProvider;
import com.aiplatform.backup.spi.BackupProvider;
import com.aiplatform.backup.spi.Settings;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.spi.StorageTarget;
import com.aiplatform.backup.spi.StorageTargetProvider;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Reads the configuration file (YAML, or JSON since YAML is a superset) and turns it into a
 * validated {@link LoadedConfig}. Every mistake is reported at load time, before any byte is
 * written, as an {@link IllegalArgumentException} whose message names the field:
 *
 * <pre>
 * storage:
 *   - { name: local, type: filesystem, path: /var/backups/platform }
 * compression: zstd            # zstd | lz4 | gzip | none
 * encryption:                  # optional; absent means not encrypted
 *   keyset-file: /etc/backup/keyset.json     # or  keyset-env: BACKUP_KEYSET
 * sources:
 *   - { name: kafka-config, type: directory, path: /etc/kafka }
 *   - { name: events, type: kafka, bootstrap-servers: 127.0.0.1:9092, topics: [orders],
 *       compression: none }    # this source's own codec (its producers already compress)
 * </pre>
 *
 * Storage targets are opened through {@link StorageTargetProvider}s and sources parsed by
 * {@link BackupProvider}s found with {@link ServiceLoader}, both chosen by {@code type}.
 * Opening a storage target touches nothing: whether it exists and can be read or written is
 * checked by each command, for the targets it uses and what it needs of them
 * ({@link StorageTarget#check(StorageTarget.Access)}), so a read-only copy can be read and one
 * unavailable target does not stop the others.
 */
final class ConfigLoader {
    /** What source and storage names must look like: they become folder names on storage. */
    static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]*");
    static final Set<String> TOP_LEVEL = Set.of("storage", "compression", "encryption", "retention", "sources",
            "lock-lease");
    /** Fields of a source block that the CLI itself reads; the rest goes to the source's provider. */
    static final Set<String> SOURCE_POLICY_FIELDS = Set.of("retention", "rpo-target", "compression");
    static final Set<String> ENCRYPTION_FIELDS = Set.of("keyset-file", "keyset-env");

    private final Map<String, StorageTargetProvider> storageProviders;
    private final Map<String, BackupProvider<?>> backupProviders;

    /** A loader using the providers on the class path. */
    ConfigLoader() {
        this(discoverStorageProviders(), discoverBackupProviders());
    }

    ConfigLoader(List<StorageTargetProvider> storageProviders, List<? extends BackupProvider<?>> backupProviders) {
        this.storageProviders = new LinkedHashMap<>();
        for (StorageTargetProvider p : storageProviders) {
            this.storageProviders.putIfAbsent(p.type(), p);
        }
        this.backupProviders = new LinkedHashMap<>();
        for (BackupProvider<?> p : backupProviders) {
            this.backupProviders.putIfAbsent(p.engine(), p);
        }
    }

    /** The source types ({@link BackupProvider#engine()}) this loader knows. */
    Set<String> sourceTypes() {
        return new TreeSet<>(backupProviders.keySet());
    }

    /** Reads and validates a configuration file. */
    LoadedConfig load(Path file) {
        return load(read(file));
    }

    /** Validates an already parsed configuration tree (maps, lists, scalars). */
    LoadedConfig load(Map<String, ?> root) {
        if (root == null) {
            throw new IllegalArgumentException("configuration is empty; required: storage (and usually sources)");
        }
        for (String key : root.keySet()) {
            if (!TOP_LEVEL.contains(key)) {
                throw new IllegalArgumentException("unknown top-level field '" + key + "' in configuration; allowed: "
                        + String.join(", ", new TreeSet<>(TOP_LEVEL)));
            }
        }
        Compression compression = root.get("compression") == null
                ? Compression.ZSTD
                : Compression.fromId(scalar("compression", root.get("compression")));
        Optional<KeyProvider> encryption = encryption(root.get("encryption"));
        Map<String, StorageTarget> storage = new LinkedHashMap<>();
        try {
            Map<String, Set<String>> tiers = new LinkedHashMap<>();
            openStorage(root.get("storage"), storage, tiers);
            Map<String, SourceConfig> sources = new LinkedHashMap<>();
            Map<String, String> engines = new LinkedHashMap<>();
            RetentionSettings globalRetention = root.get("retention") == null ? RetentionSettings.defaults()
                    : RetentionSettings.parse("retention", stringKeys("retention", mapOf("retention", root.get("retention"))));
            Map<String, RetentionSettings> retention = new LinkedHashMap<>();
            Map<String, java.time.Duration> rpoTargets = new LinkedHashMap<>();
            Map<String, Compression> sourceCompression = new LinkedHashMap<>();
            parseSources(root.get("sources"), sources, engines, globalRetention, retention, rpoTargets,
                    sourceCompression);
            java.time.Duration lockLease = root.get("lock-lease") == null ? null
                    : com.aiplatform.backup.spi.Settings.parseDuration("lock-lease", scalar("lock-lease",
                    root.get("lock-lease")));
            if (lockLease != null && lockLease.compareTo(java.time.Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("lock-lease must be at least 1s, not " + lockLease);
            }
            return new LoadedConfig(storage, compression, sourceCompression, encryption, sources, engines, retention,
                    rpoTargets, tiers, lockLease);
        } catch (RuntimeException e) {
            for (StorageTarget target : storage.values()) {
                try {
                    target.close();
                } catch (IOException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** Parses the file into a tree; errors name the file and the line. */
    static Map<String, Object> read(Path file) {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        yaml.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        byte[] content;
        try {
            content = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("configuration file " + file + " does not exist");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read configuration file " + file + ": " + e);
        }
        if (new String(content, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
            throw new IllegalArgumentException("configuration file " + file + " is empty; required: storage (and usually sources)");
        }
        Object tree;
        try {
            tree = yaml.readValue(content, Object.class);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new IllegalArgumentException("configuration file " + file + " is not valid YAML or JSON"
                    + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr())
                    + ": " + firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read configuration file " + file + ": " + e);
        }
        if (!(tree instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("configuration file " + file
                    + " must hold a map with storage, sources, compression and encryption");
        }
        return stringKeys("configuration", map);
    }

    /** Rules a storage tier may hold ({@code holds: [monthly, yearly]}); {@code all} means every kept backup. */
    static final Set<String> TIER_RULES = Set.of("hourly", "daily", "weekly", "monthly", "yearly", "last", "within",
            "verified", "all");

    private void openStorage(Object value, Map<String, StorageTarget> opened, Map<String, Set<String>> tiers) {
        if (value == null) {
            throw new IllegalArgumentException("missing required field storage (a list of targets such as "
                    + "{ name: local, type: filesystem, path: /var/backups/platform })");
        }
        List<Map<String, Object>> entries = listOfMaps("storage", value);
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("storage must list at least one target");
        }
        for (int i = 0; i < entries.size(); i++) {
            Map<String, Object> entry = entries.get(i);
            String name = name("storage", i, entry);
            if (opened.containsKey(name)) {
                throw new IllegalArgumentException("duplicate storage name '" + name + "' at storage[" + i + "].name");
            }
            String where = "storage[" + name + "]";
            String type = type(where, entry);
            StorageTargetProvider provider = storageProviders.get(type);
            if (provider == null) {
                throw new IllegalArgumentException("unknown storage type '" + type + "' at " + where + ".type; known types: "
                        + known(storageProviders.keySet()));
            }
            Map<String, Object> fields = withoutNameAndType(entry);
            Object holds = fields.remove("holds");
            if (holds != null) {
                if (i == 0) {
                    throw new IllegalArgumentException(where + ".holds: the first storage target is the primary and "
                            + "holds every backup; give holds to the other targets");
                }
                Set<String> rules = new java.util.TreeSet<>(new Settings(where, Map.of("holds", holds)).strings("holds"));
                for (String rule : rules) {
                    if (!TIER_RULES.contains(rule)) {
                        throw new IllegalArgumentException(where + ".holds: '" + rule + "' is not one of "
                                + String.join(", ", new java.util.TreeSet<>(TIER_RULES)));
                    }
                }
                rules.remove("all");
                tiers.put(name, rules);
            }
            opened.put(name, provider.open(name, new Settings(where, fields)));
        }
    }

    private void parseSources(Object value, Map<String, SourceConfig> sources, Map<String, String> engines,
                              RetentionSettings globalRetention, Map<String, RetentionSettings> retention,
                              Map<String, java.time.Duration> rpoTargets, Map<String, Compression> compression) {
        if (value == null) {
            return;
        }
        List<Map<String, Object>> entries = listOfMaps("sources", value);
        for (int i = 0; i < entries.size(); i++) {
            Map<String, Object> entry = entries.get(i);
            String name = name("sources", i, entry);
            if (sources.containsKey(name)) {
                throw new IllegalArgumentException("duplicate source name '" + name + "' at sources[" + i
                        + "].name; source names must be unique");
            }
            String where = "sources[" + name + "]";
            String type = type(where, entry);
            BackupProvider<?> provider = backupProviders.get(type);
            if (provider == null) {
                throw new IllegalArgumentException("unknown source type '" + type + "' at " + where + ".type; known types: "
                        + known(backupProviders.keySet()));
            }
            Map<String, Object> providerFields = withoutNameAndType(entry);
            SOURCE_POLICY_FIELDS.forEach(providerFields::remove);
            SourceConfig config = provider.parseConfig(name, new Settings(where, providerFields));
            sources.put(name, config);
            engines.put(name, type);
            Object sourceRetention = entry.get("retention");
            retention.put(name, sourceRetention == null ? globalRetention : RetentionSettings.parse(where + ".retention",
                    stringKeys(where + ".retention", mapOf(where + ".retention", sourceRetention))));
            Object target = entry.get("rpo-target");
            if (target != null) {
                rpoTargets.put(name, Settings.parseDuration(where + ".rpo-target", String.valueOf(target)));
            }
            Object codec = entry.get("compression");
            if (codec != null) {
                try {
                    compression.put(name, Compression.fromId(scalar(where + ".compression", codec)));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + ".compression: " + e.getMessage(), e);
                }
            }
        }
    }

    private static Optional<KeyProvider> encryption(Object value) {
        if (value == null) {
            return Optional.empty();
        }
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("encryption must be a map with keyset-file or keyset-env");
        }
        Settings settings = new Settings("encryption", stringKeys("encryption", map));
        settings.rejectUnknown(ENCRYPTION_FIELDS);
        Optional<String> file = settings.string("keyset-file");
        Optional<String> env = settings.string("keyset-env");
        if (file.isPresent() && env.isPresent()) {
            throw new IllegalArgumentException("encryption: give either encryption.keyset-file or encryption.keyset-env, not both");
        }
        if (file.isPresent()) {
            String field = settings.field("keyset-file");
            Path path = Path.of(file.get());
            if (!Files.isReadable(path) || Files.isDirectory(path)) {
                throw new IllegalArgumentException(field + ": keyset file " + path
                        + (Files.exists(path) ? " is not a readable file" : " does not exist")
                        + " (create one with 'backupctl keygen --out " + path + "')");
            }
            return Optional.of(loadEagerly(field, "keyset file " + path, () -> EncryptionKeys.keysetFile(path)));
        }
        if (env.isPresent()) {
            String field = settings.field("keyset-env");
            String variable = env.get();
            if (System.getenv(variable) == null) {
                throw new IllegalArgumentException(field + ": environment variable " + variable + " is not set");
            }
            return Optional.of(loadEagerly(field, "environment variable " + variable,
                    () -> EncryptionKeys.environment(variable)));
        }
        throw new IllegalArgumentException("missing required field encryption.keyset-file (or encryption.keyset-env); "
                + "remove the encryption block to store backups unencrypted");
    }

    /** Something that makes a key provider, whatever it throws. */
    private interface KeyFactory {
        KeyProvider create() throws Exception;
    }

    /** Creates the key provider and loads the keyset now, so a bad key fails at load time. */
    private static KeyProvider loadEagerly(String field, String what, KeyFactory factory) {
        try {
            KeyProvider keys = factory.create();
            keys.keyset();
            return keys;
        } catch (EncryptionKeyException | IllegalArgumentException | IllegalStateException e) {
            // these messages name locations and key ids, never key material
            throw new IllegalArgumentException(field + ": cannot load the keyset from " + what + ": " + e.getMessage());
        } catch (Exception e) {
            // other messages may quote the content; name only the kind of failure
            throw new IllegalArgumentException(field + ": cannot load the keyset from " + what + " ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private static String name(String list, int index, Map<String, Object> entry) {
        String field = list + "[" + index + "].name";
        Object raw = entry.get("name");
        if (raw == null) {
            throw new IllegalArgumentException("missing required field " + field);
        }
        String name = scalar(field, raw);
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(field + " '" + name + "' is not a valid name: it must match "
                    + NAME.pattern() + " (lower-case letters, digits, '.', '_', '-'; it becomes a folder name)");
        }
        return name;
    }

    private static String type(String where, Map<String, Object> entry) {
        Object raw = entry.get("type");
        if (raw == null) {
            throw new IllegalArgumentException("missing required field " + where + ".type");
        }
        return scalar(where + ".type", raw);
    }

    private static String scalar(String field, Object value) {
        if (value instanceof Map || value instanceof List) {
            throw new IllegalArgumentException(field + " must be a single value, not a " + (value instanceof Map ? "map" : "list"));
        }
        String s = String.valueOf(value).trim();
        if (s.isEmpty()) {
            throw new IllegalArgumentException(field + " must not be empty");
        }
        return s;
    }

    private static List<Map<String, Object>> listOfMaps(String field, Object value) {
        if (!(value instanceof List<?> list)) {
            throw new IllegalArgumentException(field + " must be a list of entries such as { name: ..., type: ..., ... }");
        }
        List<Map<String, Object>> maps = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> map)) {
                throw new IllegalArgumentException(field + "[" + i + "] must be a map such as { name: ..., type: ..., ... }");
            }
            maps.add(stringKeys(field + "[" + i + "]", map));
        }
        return maps;
    }

    private static Map<String, Object> stringKeys(String where, Map<?, ?> map) {
        Map<String, Object> copy = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (e.getKey() == null) {
                throw new IllegalArgumentException(where + " has an empty key");
            }
            copy.put(e.getKey().toString(), e.getValue());
        }
        return copy;
    }

    private static Map<?, ?> mapOf(String where, Object value) {
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException(where + " must be a map of fields");
        }
        return map;
    }

    private static Map<String, Object> withoutNameAndType(Map<String, Object> entry) {
        Map<String, Object> rest = new LinkedHashMap<>(entry);
        rest.remove("name");
        rest.remove("type");
        return rest;
    }

    private static String known(Set<String> types) {
        return types.isEmpty() ? "(none on the class path)" : String.join(", ", new TreeSet<>(types));
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static List<StorageTargetProvider> discoverStorageProviders() {
        List<StorageTargetProvider> found = new ArrayList<>();
        ServiceLoader.load(StorageTargetProvider.class, ConfigLoader.class.getClassLoader()).forEach(found::add);
        return found;
    }

    private static List<BackupProvider<?>> discoverBackupProviders() {
        List<BackupProvider<?>> found = new ArrayList<>();
        for (BackupProvider<?> p : ServiceLoader.load(BackupProvider.class, ConfigLoader.class.getClassLoader())) {
            found.add(p);
        }
        return found;
    }
}
