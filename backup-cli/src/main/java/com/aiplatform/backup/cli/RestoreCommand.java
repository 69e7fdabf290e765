package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.RestoreReport;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.RestoreOptions;
import com.aiplatform.backup.spi.SourceConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code restore <source> <id|latest>}: verifies, then restores a backup. */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {"Restores a backup. An incremental backup is restored with its whole chain (the full "
                + "backup, then each incremental, in order). Every artifact of every backup is verified before the "
                + "first byte is applied; a damaged or missing backup is refused. 'latest' is the newest backup "
                + "that is not known-bad (failed verify or drill), damaged or on a broken chain; newer ones "
                + "skipped are named on stderr.",
                "--option append-chain=true applies only the named incremental, onto a target that already holds "
                + "its parent chain."})
final class RestoreCommand implements Callable<Integer> {
    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "Source name (as configured).")
    String source;

    @Parameters(index = "1", paramLabel = "ID|latest", description = "Backup id, or 'latest'.")
    String id;

    @Option(names = "--target-dir", paramLabel = "DIR",
            description = "Directory to restore files into; it must be absent or empty unless --overwrite, "
                    + "and outside the source directory of a directory source.")
    Path targetDir;

    @Option(names = "--overwrite", description = "Allow restoring over existing content.")
    boolean overwrite;

    @Option(names = "--option", paramLabel = "KEY=VALUE",
            description = "Engine-specific restore option; repeatable.")
    Map<String, String> options = new LinkedHashMap<>();

    @Option(names = "--to-time", paramLabel = "ISO-8601",
            description = "Point-in-time restore (physical PostgreSQL): recover to this time; with 'latest' the "
                    + "newest backup taken before it is chosen.")
    String toTime;

    @Option(names = "--to-lsn", paramLabel = "LSN",
            description = "Point-in-time restore (physical PostgreSQL): recover to this WAL position.")
    String toLsn;

    @Option(names = "--target-url", paramLabel = "URL",
            description = "Logical PostgreSQL restore: the server and database to restore into (postgresql://host:port/db).")
    String targetUrl;

    @Option(names = "--target-bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Kafka restore: the cluster to restore into (default: the source's).")
    String targetBootstrapServers;

    @Option(names = "--rename-topic", paramLabel = "FROM=TO",
            description = "Kafka restore: restore topic FROM as TO; repeatable.")
    Map<String, String> renameTopics = new LinkedHashMap<>();

    @Option(names = "--json", description = "Print the restore report as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        RestoreReport report;
        try (LoadedConfig config = root.loadConfig()) {
            SourceConfig sourceConfig = config.source(source);
            Map<String, String> all = new LinkedHashMap<>(options);
            if (toTime != null) {
                all.put("to-time", toTime);
            }
            if (toLsn != null) {
                all.put("to-lsn", toLsn);
            }
            if (targetUrl != null) {
                all.put("target-url", targetUrl);
            }
            if (targetBootstrapServers != null) {
                all.put("target-bootstrap-servers", targetBootstrapServers);
            }
            renameTopics.forEach((from, to) -> all.put("rename." + from, to));
            RestoreOptions restoreOptions = new RestoreOptions(Optional.ofNullable(targetDir), overwrite, all);
            ProgressLine progress = root.progress(json);
            SkipNotice skips = new SkipNotice(root.err(), RootCommand.listener(progress));
            try (BackupEngine engine = root.engine(config, skips)) {
                String chosen = id;
                if (toTime != null && "latest".equalsIgnoreCase(id)) {
                    java.time.Instant time = parseTime(toTime);
                    chosen = engine.newestBackupAt(source, time).orElseThrow(() -> new IllegalArgumentException(
                            "source '" + source + "' has no backup taken at or before " + toTime))
                            .backupId().value();
                }
                report = engine.restore(sourceConfig, chosen, restoreOptions);
            } finally {
                skips.flush();
                RootCommand.clear(progress);
            }
        }
        if (json) {
            Json.print(root.out(), report);
        } else {
            root.out().println("restored " + report.source() + " " + report.backupId()
                    + (targetDir == null ? "" : " into " + targetDir) + ": "
                    + Formats.bytes(report.rawBytes()) + " in " + Formats.duration(report.duration())
                    + " (" + Formats.rate(report.rawBytes(), report.duration()) + ")");
            if (report.chain().size() > 1) {
                List<String> links = report.chain().stream().map(b -> b.value()).toList();
                root.out().println("  with its chain, in order: " + String.join(" -> ", links) + " ("
                        + links.size() + " backups: the full backup, then each incremental)");
            }
        }
        return BackupCtl.OK;
    }

    private static java.time.Instant parseTime(String text) {
        try {
            return java.time.OffsetDateTime.parse(text).toInstant();
        } catch (java.time.format.DateTimeParseException e) {
            throw new IllegalArgumentException("--to-time '" + text + "' is not an ISO-8601 time with an offset, "
                    + "such as 2026-11-24T10:15:30Z");
        }
    }
}
