package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/** {@code list [<source>]}: committed backups, oldest first. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = "Lists committed backups (oldest first) of one source, or of every source when none is given.")
final class ListCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SOURCE",
            description = "Source name; default: every configured source and every source found on storage.")
    String source;

    @Option(names = "--json", description = "Print a JSON array of manifests.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<Manifest> manifests = new ArrayList<>();
        String storageName;
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, RootCommand.listener(null))) {
            storageName = config.storageTarget(root.storage).name();
            Set<String> names = new LinkedHashSet<>();
            if (source != null) {
                names.add(source);
            } else {
                names.addAll(config.sources().keySet());
                names.addAll(new TreeSet<>(engine.sources()));
            }
            for (String name : names) {
                manifests.addAll(engine.list(name));
            }
            reportDebris(engine, names);
        }
        if (json) {
            Json.print(root.out(), manifests);
            return BackupCtl.OK;
        }
        if (manifests.isEmpty()) {
            root.out().println("no backups" + (source == null ? "" : " of " + source) + " on storage '" + storageName + "'");
            return BackupCtl.OK;
        }
        List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("SOURCE", "ID", "TIME", "KIND", "METHOD", "STORED", "RAW", "ARTIFACTS"));
        for (Manifest m : manifests) {
            rows.add(List.of(m.source(), m.backupId().value(), Formats.time(m.consistentPoint().time()),
                    m.kind().name().toLowerCase(Locale.ROOT), String.valueOf(m.method()),
                    Formats.bytes(m.storedBytes()), Formats.bytes(m.rawBytes()), String.valueOf(m.artifacts().size())));
        }
        root.out().print(Formats.table(rows));
        root.out().flush();
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
}
