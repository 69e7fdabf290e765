package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupCondition;
import com.aiplatform.backup.api.ListedBackup;
import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * {@code list [<source>]}: committed backups, oldest first, each with its condition: known-bad
 * (latest verify or drill failed), broken chain (an incremental on one) and damaged (manifest
 * unreadable or edited) backups are listed, marked, with the reason on stderr.
 */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = {"Lists committed backups (oldest first) of one source, or of every source when none is given.",
                "Backups that cannot be counted on are marked KNOWN-BAD (latest verify or drill failed), BROKEN-CHAIN "
                        + "(an incremental on one) or DAMAGED (manifest unreadable or edited), with the reason on "
                        + "stderr."})
final class ListCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SOURCE",
            description = "Source name; default: every configured source and every source found on storage.")
    String source;

    @Option(names = "--json", description = "Print a JSON array of manifests, each with its condition (ok, known-bad, "
            + "broken-chain, damaged), reason and last check; a damaged backup has only its id, source, condition and "
            + "reason. Written as the manifests are read.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, RootCommand.listener(null))) {
            String storageName = config.storageTarget(root.storage).name();
            Set<String> names = new LinkedHashSet<>();
            if (source != null) {
                names.add(source);
            } else {
                names.addAll(config.sources().keySet());
                names.addAll(new TreeSet<>(engine.sources()));
            }
            if (json) {
                printJson(engine, names);
            } else {
                printTable(engine, names, storageName);
            }
            reportDebris(engine, names);
        }
        return BackupCtl.OK;
    }

    /** Debris (uncommitted backups, partial uploads) goes to stderr, so it never mixes with the listing. */
    private void reportDebris(BackupEngine engine, Set<String> names) throws java.io.IOException {
        java.time.Instant now = java.time.Instant.now();
        for (String name : names) {
            for (com.aiplatform.backup.api.Debris d : engine.debris(name)) {
                root.err().println("backupctl: " + Formats.debris(d, now) + " (not a backup; 'backupctl prune' "
                        + "removes it after the debris grace)");
            }
        }
        root.err().flush();
    }
    /** Streams the array: one manifest read, written and dropped at a time. */
    private void printJson(BackupEngine engine, Set<String> names) throws IOException {
        try (JsonGenerator out = Json.MAPPER.writer().createGenerator(root.out())) {
            out.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            out.writeStartArray();
            for (String name : names) {
                engine.listAll(name, b -> Json.MAPPER.writeValue(out, toJson(b)));
            }
            out.writeEndArray();
        }
        root.out().println();
        root.out().flush();
    }

    /** The manifest as before, plus {@code condition}, and {@code reason} and {@code lastCheck} when known. */
    static ObjectNode toJson(ListedBackup b) {
        ObjectNode node;
        if (b.manifest() != null) {
            node = Json.MAPPER.valueToTree(b.manifest());
        } else {
            node = Json.MAPPER.createObjectNode();
            node.put("backupId", b.backupId().value());
            node.put("source", b.source());
        }
        node.put("condition", b.condition().label());
        if (b.reason() != null) {
            node.put("reason", b.reason());
        }
        if (b.lastCheck() != null) {
            node.set("lastCheck", Json.MAPPER.valueToTree(b.lastCheck()));
        }
        return node;
    }

    private void printTable(BackupEngine engine, Set<String> names, String storageName) throws IOException {
        List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("SOURCE", "ID", "TIME", "KIND", "METHOD", "STORED", "RAW", "ARTIFACTS", "CONDITION"));
        List<String> notes = new ArrayList<>();
        for (String name : names) {
            engine.listAll(name, b -> {
                Manifest m = b.manifest();
                String condition = b.recoverable() ? "ok" : b.condition().label().toUpperCase(Locale.ROOT);
                if (m == null) {
                    rows.add(List.of(b.source(), b.backupId().value(), Formats.time(b.time()), "-", "-", "-", "-", "-",
                            condition));
                } else {
                    rows.add(List.of(m.source(), m.backupId().value(), Formats.time(m.consistentPoint().time()),
                            m.kind().name().toLowerCase(Locale.ROOT), String.valueOf(m.method()),
                            Formats.bytes(m.storedBytes()), Formats.bytes(m.rawBytes()),
                            String.valueOf(m.artifacts().size()), condition));
                }
                if (!b.recoverable()) {
                    notes.add("backup " + b.backupId() + " of " + b.source() + " is " + describe(b.condition())
                            + ": " + b.reason());
                }
            });
        }
        if (rows.size() == 1) {
            root.out().println("no backups" + (source == null ? "" : " of " + source) + " on storage '" + storageName
                    + "'");
        } else {
            root.out().print(Formats.table(rows));
        }
        root.out().flush();
        notes.forEach(root.err()::println);
        root.err().flush();
    }

    private static String describe(BackupCondition condition) {
        return switch (condition) {
            case KNOWN_BAD -> "known-bad (not restorable by 'latest', not counted by rpo or retention)";
            case BROKEN_CHAIN -> "on a broken chain (not restorable, not counted by rpo or retention)";
            case DAMAGED -> "damaged (not restorable, not counted by rpo or retention, never pruned)";
            case OK -> "ok";
        };
    }
}
