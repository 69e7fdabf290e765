package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.DrillReport;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code drill <source> [id]}: restore drill into a scratch target, timed and compared. */
@Command(name = "drill", mixinStandardHelpOptions = true,
        description = {"Restores a backup into a scratch target, times it, compares the restored content with the "
                + "summary recorded at backup time, and records the result (RTO evidence). Files go to a fresh "
                + "temporary directory unless --target-dir is given; a logical PostgreSQL drill needs "
                + "--option target-url=postgresql://host:port/scratch_db --option create-database=true."})
final class DrillCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "Source name (as configured).")
    String source;

    @Parameters(index = "1", arity = "0..1", paramLabel = "ID|latest", defaultValue = "latest",
            description = "Backup id, or 'latest' (default).")
    String id;

    @Option(names = "--target-dir", paramLabel = "DIR", description = "Scratch directory (absent or empty).")
    Path targetDir;

    @Option(names = "--option", paramLabel = "KEY=VALUE", description = "Engine-specific restore option; repeatable.")
    Map<String, String> options = new LinkedHashMap<>();

    @Option(names = "--json", description = "Print the drill report as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        DrillReport report;
        Path scratch = targetDir != null ? targetDir : Files.createTempDirectory("backupctl-drill-").resolve("restored");
        SkipNotice skips = new SkipNotice(root.err(), RootCommand.listener(null));
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, skips)) {
            report = engine.drill(config.source(source), id, new RestoreOptions(Optional.of(scratch), false, options));
            root.warnIfResultNotRecorded(engine.storage(), "drill");
        } finally {
            skips.flush();
            if (targetDir == null) {
                DemoCommand.deleteTree(scratch.getParent());
            }
        }
        if (json) {
            Json.print(root.out(), report);
        } else {
            root.out().println("drill of " + report.source() + " " + report.backupId() + ": "
                    + (report.passed() ? "passed" : "FAILED") + " in " + Formats.duration(report.duration()) + " ("
                    + Formats.bytes(report.rawBytes()) + ", " + Formats.bytes(report.bytesPerSecond()) + "/s)"
                    + (report.compared() ? "" : "; content not compared (the engine cannot summarise this target)")
                    + (targetDir == null ? "" : "; restored copy in " + scratch));
            report.differences().forEach(d -> root.out().println("  " + d));
        }
        root.out().flush();
        return report.passed() ? BackupCtl.OK : BackupCtl.FAILED;
    }
}
