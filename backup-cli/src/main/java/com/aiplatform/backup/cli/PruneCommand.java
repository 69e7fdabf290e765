package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.BackupCondition;
import com.aiplatform.backup.api.PrunePlan;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.StorageTarget;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code prune [<source>] [--dry-run]}: applies the configured retention policy. */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = {"Applies the retention policy: deletes backups no rule keeps (manifest first), debris older "
                + "than the grace period, and archive segments no kept backup needs. --dry-run prints the plan only."})
final class PruneCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SOURCE", description = "Source name; default: every configured source.")
    String source;

    @Option(names = "--dry-run", description = "Print the plan (keep or delete, with the rules that keep each backup); delete nothing.")
    boolean dryRun;

    @Option(names = "--json", description = "Print the plans as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<PrunePlan> plans = new ArrayList<>();
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, RootCommand.listener(null),
                     dryRun ? StorageTarget.Access.READ : StorageTarget.Access.WRITE)) {
            List<String> names = source == null ? List.copyOf(config.sources().keySet()) : List.of(source);
            for (String name : names) {
                RetentionSettings r = config.retentionOf(name);
                plans.add(dryRun ? engine.planPrune(name, r.policy(), r.debrisGrace())
                        : engine.prune(name, r.policy(), r.debrisGrace()));
            }
        }
        if (json) {
            Json.print(root.out(), plans);
            return BackupCtl.OK;
        }
        var out = root.out();
        for (PrunePlan plan : plans) {
            out.println((dryRun ? "plan for " : "pruned ") + plan.source() + ": keep "
                    + (plan.backups().size() - plan.deletions().size()) + ", delete " + plan.deletions().size()
                    + " backup(s), " + plan.segments().size() + " archive segment(s), " + plan.debris().size()
                    + " debris set(s)" + (dryRun ? " (dry run: nothing deleted)" : ""));
            List<List<String>> rows = new ArrayList<>();
            rows.add(List.of("ID", "TIME", "ACTION", "KEPT BY"));
            for (PrunePlan.Entry e : plan.backups()) {
                String action = (e.keep() ? "keep" : "delete")
                        + (e.condition() == BackupCondition.OK ? "" : " (" + e.condition().label() + ")");
                rows.add(List.of(e.backupId().value(), Formats.time(e.time()), action, String.join(", ", e.reasons())));
            }
            out.print(Formats.table(rows));
            java.time.Instant now = java.time.Instant.now();
            for (com.aiplatform.backup.api.Debris d : plan.debris()) {
                out.println((dryRun ? "would remove " : "removed ") + Formats.debris(d, now));
            }
        }
        out.flush();
        return BackupCtl.OK;
    }
}
