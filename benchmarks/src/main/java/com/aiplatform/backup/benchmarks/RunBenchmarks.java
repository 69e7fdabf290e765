package com.aiplatform.backup.benchmarks;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.util.Statistics;

/**
 * Runs JMH with its usual command line (include regex, {@code -p size=64}, {@code -wi},
 * {@code -i}, {@code -f}, {@code -rf json}, ...) and then prints the results as MB/s of
 * input bytes: one row per benchmark, one column per data set.
 *
 * <p>Every benchmark here processes its whole data set ({@code size} MiB) per operation, so
 * MB/s = size / time per operation (1 MB = 10^6 bytes).
 */
public final class RunBenchmarks {

    private RunBenchmarks() {
    }

    public static void main(String[] args) throws RunnerException, java.io.IOException {
        CommandLineOptions options;
        try {
            options = new CommandLineOptions(args);
        } catch (CommandLineOptionException e) {
            System.err.println("Error parsing command line: " + e.getMessage());
            System.exit(1);
            return;
        }
        if (options.shouldHelp() || options.shouldList() || options.shouldListWithParams()
                || options.shouldListProfilers() || options.shouldListResultFormats()) {
            org.openjdk.jmh.Main.main(args);
            return;
        }
        Collection<RunResult> results = new Runner(options).run();
        System.out.println();
        System.out.print(table(results));
    }

    /** The MB/s table for a set of JMH results; rows in run order, columns by data set. */
    static String table(Collection<RunResult> results) {
        Map<String, Map<String, String>> rows = new LinkedHashMap<>();
        Set<String> datasets = new LinkedHashSet<>();
        for (RunResult r : results) {
            String benchmark = r.getParams().getBenchmark();
            benchmark = benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1);
            String sizeParam = r.getParams().getParam("size");
            String dataset = r.getParams().getParam("dataset");
            dataset = dataset == null ? "-" : dataset;
            datasets.add(dataset);
            String row = String.format("%-36s %8s", benchmark, sizeParam == null ? "?" : sizeParam);
            rows.computeIfAbsent(row, k -> new LinkedHashMap<>())
                    .put(dataset, cell(r.getPrimaryResult(), sizeParam));
        }
        StringBuilder out = new StringBuilder();
        out.append("MB/s of input bytes (1 MB = 10^6 B): mean of the measurement iterations [slowest..fastest]\n");
        out.append(String.format("%-36s %8s", "benchmark", "size MiB"));
        for (String d : datasets) {
            out.append(String.format("  %-22s", d));
        }
        out.append('\n');
        for (Map.Entry<String, Map<String, String>> row : rows.entrySet()) {
            out.append(row.getKey());
            for (String d : datasets) {
                out.append(String.format("  %-22s", row.getValue().getOrDefault(d, "")));
            }
            out.append('\n');
        }
        return out.toString();
    }

    private static String cell(Result<?> result, String sizeParam) {
        if (sizeParam == null) {
            return "n/a";
        }
        double megabytes = Long.parseLong(sizeParam) * (double) (1 << 20) / 1e6;
        Statistics stats = result.getStatistics();
        List<Double> rates = new ArrayList<>();
        for (double score : new double[] {stats.getMean(), stats.getMin(), stats.getMax()}) {
            double seconds = secondsPerOp(score, result.getScoreUnit());
            rates.add(Double.isNaN(seconds) ? Double.NaN : megabytes / seconds);
        }
        if (rates.get(0).isNaN()) {
            return "n/a (" + result.getScoreUnit() + ")";
        }
        if (stats.getN() < 2) {
            return String.format(Locale.ROOT, "%.0f", rates.get(0));
        }
        double a = rates.get(1);
        double b = rates.get(2);
        return String.format(Locale.ROOT, "%.0f [%.0f..%.0f]", rates.get(0), Math.min(a, b), Math.max(a, b));
    }

    /** Seconds per operation from a JMH score in "ms/op"-like or "ops/s"-like units. */
    static double secondsPerOp(double score, String unit) {
        String[] parts = unit.split("/");
        if (parts.length != 2) {
            return Double.NaN;
        }
        if (parts[1].equals("op")) {
            return score * seconds(parts[0]);
        }
        if (parts[0].equals("ops")) {
            return seconds(parts[1]) / score;
        }
        return Double.NaN;
    }

    private static double seconds(String unit) {
        return switch (unit) {
            case "ns" -> 1e-9;
            case "us" -> 1e-6;
            case "ms" -> 1e-3;
            case "s" -> 1;
            case "min" -> 60;
            case "hr" -> 3600;
            case "day" -> 86400;
            default -> Double.NaN;
        };
    }
}
