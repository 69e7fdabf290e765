package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.SourceConfig;
import com.aiplatform.backup.spi.StorageTarget;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code backup <source> [--incremental]}: backs up one configured source. */
@Command(name = "backup", mixinStandardHelpOptions = true,
        description = "Backs up one configured source and prints the committed backup.")
final class BackupCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "Name of a source in the configuration.")
    String source;

    @Option(names = "--incremental", description = "Back up only what changed since the newest backup, "
            + "where the source's engine supports it.")
    boolean incremental;

    @Option(names = "--json", description = "Print the manifest as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        try (LoadedConfig config = root.loadConfig()) {
            SourceConfig sourceConfig = config.source(source);
            ProgressLine progress = root.progress(json);
            Manifest manifest;
            try (BackupEngine engine = root.engine(config, RootCommand.listener(progress), StorageTarget.Access.WRITE)) {
                manifest = engine.backup(sourceConfig, incremental);
            } finally {
                RootCommand.clear(progress);
            }
            if (json) {
                Json.print(root.out(), manifest);
            } else {
                root.out().println(summary(manifest));
            }
            String skipped = manifest.metadataView().get("skipped");
            if (skipped != null) {
                // the backup is complete for what it holds, but an operator must know what it does not hold
                root.err().println("backupctl: warning: " + source + ": " + BackupCtl.oneLine(skipped));
            }
        }
        return BackupCtl.OK;
    }

    static String summary(Manifest m) {
        Duration took = m.startedAt() == null || m.completedAt() == null
                ? Duration.ZERO : Duration.between(m.startedAt(), m.completedAt());
        return "backed up " + m.source() + ": " + m.backupId() + " (" + m.kind().name().toLowerCase(Locale.ROOT)
                + ", " + m.method() + (m.parent() == null ? "" : ", parent " + m.parent()) + "), "
                + m.artifacts().size() + (m.artifacts().size() == 1 ? " artifact, " : " artifacts, ")
                + Formats.bytes(m.storedBytes()) + " stored of " + Formats.bytes(m.rawBytes()) + " raw in "
                + Formats.duration(took);
    }
}
