package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.ArchiverStatus;
import com.aiplatform.backup.api.BackupEvent;
import com.aiplatform.backup.api.SourceException;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.StorageTarget;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code archive <source>}: runs the source's continuous archiver (PostgreSQL WAL) in the
 * foreground until SIGTERM or SIGINT, then stores what it holds and exits 0.
 */
@Command(name = "archive", mixinStandardHelpOptions = true,
        description = {"Runs the continuous archiver of a source (PostgreSQL WAL) until SIGTERM/SIGINT, "
                + "then flushes and exits 0."})
final class ArchiveCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "Source name (as configured).")
    String source;

    @Option(names = "--json", description = "Print each stored segment and the final status as JSON lines.")
    boolean json;

    @Option(names = "--for", paramLabel = "DURATION", hidden = true,
            description = "Stop by itself after this long (tests): 30s, 5m.")
    String runFor;

    @Override
    public Integer call() throws Exception {
        CountDownLatch stopSignal = new CountDownLatch(1);
        StopSignals.install(stopSignal::countDown);
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, event -> report(event), StorageTarget.Access.WRITE)) {
            BackupEngine.Archiver archiver = engine.startArchiver(config.source(source));
            if (!json) {
                root.err().println("archiving " + source + "; stop with SIGTERM or Ctrl-C");
                root.err().flush();
            }
            Instant deadline = runFor == null ? null
                    : Instant.now().plus(com.aiplatform.backup.spi.Settings.parseDuration("--for", runFor));
            while (archiver.status().running()) {
                if (stopSignal.await(200, TimeUnit.MILLISECONDS)
                        || (deadline != null && Instant.now().isAfter(deadline))) {
                    archiver.stop();
                    break;
                }
            }
            ArchiverStatus status = archiver.status();
            if (json) {
                Json.print(root.out(), status);
            } else {
                root.out().println("archiver of " + source + " stopped at " + status.position()
                        + (status.coveredUntil() == null ? "" : ", changes stored up to " + status.coveredUntil()));
            }
            root.out().flush();
            if (status.failure() != null) {
                throw new SourceException("archiver of " + source + " failed: " + status.failure(), true);
            }
            return BackupCtl.OK;
        }
    }

    private void report(BackupEvent event) {
        if (event instanceof BackupEvent.SegmentStored stored) {
            if (json) {
                Json.print(root.out(), stored.segment());
            } else {
                root.out().println("stored " + (stored.segment().partial() ? "partial " : "") + "segment "
                        + stored.segment().name() + " up to " + stored.segment().endPosition());
            }
            root.out().flush();
        } else if (event instanceof BackupEvent.ArchiverWarning warning) {
            root.err().println("backupctl: warning: " + warning.message());
            root.err().flush();
        }
    }

    /** SIGTERM and SIGINT ask for a clean stop instead of killing the JVM. */
    static final class StopSignals {
        private StopSignals() {
        }

        @SuppressWarnings("restriction")
        static void install(Runnable onStop) {
            for (String name : new String[] {"TERM", "INT"}) {
                try {
                    sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> onStop.run());
                } catch (IllegalArgumentException | UnsupportedOperationException e) {
                    // the signal is not available here; the JVM's default handling stays
                }
            }
        }
    }

}
