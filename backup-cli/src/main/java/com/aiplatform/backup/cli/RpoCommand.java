package com.aiplatform.backup.cli;

import com.aiplatform.backup.api.RpoReport;
import com.aiplatform.backup.core.BackupEngine;
import com.aiplatform.backup.spi.Settings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code rpo [<source>]}: achieved RPO and worst gap per source, against targets. Exit 4 on a breach. */
@Command(name = "rpo", mixinStandardHelpOptions = true,
        description = {"Reports each source's achieved RPO (now minus the newest recoverable point, continuous "
                + "archive included) and the worst gap between recoverable points over a window, against its target "
                + "(rpo-target, or the platform default: PostgreSQL 15m, MongoDB 1h, Weaviate 24h). Exit code 4 when "
                + "a target is breached."})
final class RpoCommand implements Callable<Integer> {
    static final int BREACHED = 4;

    @ParentCommand
    RootCommand root;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SOURCE", description = "Source name; default: every configured source.")
    String source;

    @Option(names = "--window", paramLabel = "DURATION", defaultValue = "7d",
            description = "How far back to look for the worst gap (default: ${DEFAULT-VALUE}).")
    String window;

    @Option(names = "--json", description = "Print the reports as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Duration span = Settings.parseDuration("--window", window);
        List<RpoReport> reports = new ArrayList<>();
        try (LoadedConfig config = root.loadConfig();
             BackupEngine engine = root.engine(config, RootCommand.listener(null))) {
            List<String> names = source == null ? List.copyOf(config.sources().keySet()) : List.of(source);
            for (String name : names) {
                config.source(name);
                Optional<Duration> target = Optional.ofNullable(config.rpoTargets().get(name))
                        .or(() -> BackupEngine.defaultRpoTarget(config.sourceEngines().get(name)));
                reports.add(engine.rpo(name, target, span));
            }
        }
        if (json) {
            Json.print(root.out(), reports);
        } else {
            List<List<String>> rows = new ArrayList<>();
            rows.add(List.of("SOURCE", "LATEST POINT", "ACHIEVED", "WORST GAP (" + window + ")", "TARGET", "STATUS"));
            for (RpoReport r : reports) {
                rows.add(List.of(r.source(), r.latestPoint() == null ? "none" : Formats.time(r.latestPoint()),
                        r.achieved() == null ? "-" : Formats.duration(r.achieved()), Formats.duration(r.worstGap()),
                        r.target() == null ? "none" : Formats.duration(r.target()), r.breached() ? "BREACHED" : "ok"));
            }
            root.out().print(Formats.table(rows));
            root.out().flush();
        }
        return reports.stream().anyMatch(RpoReport::breached) ? BREACHED : BackupCtl.OK;
    }
}
