package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.LockInfo;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.StorageTarget;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code unlock <source> [--force]}: removes the lock of a source left by a process that is
 * gone; refuses a live one (fresh lease, or an owner still running on this host) unless forced.
 */
@Command(name = "unlock", mixinStandardHelpOptions = true,
        description = {"Removes the lock of a source left by an interrupted backup or prune. A live lock (its lease "
                + "is fresh, or its process still runs on this host) is refused, naming its holder, unless --force."})
final class UnlockCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "Source name.")
    String source;

    @Option(names = "--force", description = "Remove the lock even if its holder looks alive (make sure it is not: "
            + "two backups or prunes of one source at once can delete each other's data).")
    boolean force;

    @Option(names = "--json", description = "Print the removed lock's holder as JSON (null when there was none).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Optional<LockInfo> removed;
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, RootCommand.listener(null),
                     StorageTarget.Access.WRITE)) {
            removed = engine.unlock(source, force);
        }
        if (json) {
            Json.print(root.out(), removed.orElse(null));
        } else if (removed.isEmpty()) {
            root.out().println(source + " is not locked");
        } else {
            root.out().println("removed the lock of " + source + " held by " + removed.get().describe());
        }
        root.out().flush();
        return BackupCtl.OK;
    }
}
