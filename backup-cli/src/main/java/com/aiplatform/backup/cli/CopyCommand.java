package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.Manifest;
import com.aiplatform.backup.core.BackupEngine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.concurrent.Callable;

/** {@code copy <source> <id|latest> --to NAME}: copies a backup to another configured storage target. */
@Command(name = "copy", mixinStandardHelpOptions = true,
        description = {"Copies a backup to another configured storage target (remote, offline): each artifact is "
                + "hashed as it is copied and must match the manifest, which is written last."})
final class CopyCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "Source name.")
    String source;

    @Parameters(index = "1", paramLabel = "ID|latest", description = "Backup id, or 'latest'.")
    String id;

    @Option(names = "--to", required = true, paramLabel = "NAME", description = "Destination storage target (as configured).")
    String to;

    @Option(names = "--json", description = "Print the copied manifest as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Manifest copied;
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, RootCommand.listener(null))) {
            if (engine.storage().name().equals(to)) {
                throw new IllegalArgumentException("--to '" + to + "' is the storage target being copied from");
            }
            copied = engine.copy(source, id, config.storageTarget(to));
        }
        if (json) {
            Json.print(root.out(), copied);
        } else {
            root.out().println("copied " + source + " " + copied.backupId() + " to storage '" + to + "' ("
                    + Formats.bytes(copied.storedBytes()) + ", verified)");
        }
        root.out().flush();
        return BackupCtl.OK;
    }
}
