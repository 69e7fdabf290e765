package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.PlacementReport;
import com.aiplatform.backup.core.BackupEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code place [<source>]}: brings every storage tier ({@code holds: [...]}) in line with the retention policy. */
@Command(name = "place", mixinStandardHelpOptions = true,
        description = {"Places backups on the storage tiers: each target with 'holds: [daily, monthly, ...]' gets "
                + "the backups the retention policy keeps for those rules (copied and verified, manifest last) "
                + "and loses the ones it no longer holds."})
final class PlaceCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SOURCE", description = "Source name; default: every configured source.")
    String source;

    @Option(names = "--json", description = "Print the placement reports as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<PlacementReport> reports = new ArrayList<>();
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, RootCommand.listener(null))) {
            if (config.tiers().isEmpty()) {
                throw new IllegalArgumentException("no storage target has 'holds: [...]'; nothing to place");
            }
            List<String> names = source == null ? List.copyOf(config.sources().keySet()) : List.of(source);
            for (String name : names) {
                for (Map.Entry<String, Set<String>> tier : config.tiers().entrySet()) {
                    if (tier.getKey().equals(engine.storage().name())) {
                        continue;
                    }
                    reports.add(engine.place(name, config.retentionOf(name).policy(),
                            config.storageTarget(tier.getKey()), tier.getValue()));
                }
            }
        }
        if (json) {
            Json.print(root.out(), reports);
        } else {
            for (PlacementReport r : reports) {
                root.out().println(r.source() + " on " + r.tier() + ": holds " + r.held().size() + ", copied "
                        + r.copied().size() + ", removed " + r.removed().size());
            }
        }
        root.out().flush();
        return BackupCtl.OK;
    }
}
