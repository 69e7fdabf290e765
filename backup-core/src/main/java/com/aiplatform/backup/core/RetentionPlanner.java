package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupCondition;
import com.aiplatform.backup.api.BackupId;

import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Applies a {@link RetentionPolicy} to a source's backups: every backup gets keep or delete,
 * with the rules that keep it. Pure: it reads nothing and deletes nothing.
 */
final class RetentionPlanner {
    private RetentionPlanner() {
    }

    /**
     * What the planner needs to know of one backup.
     *
     * @param id        backup id
     * @param time      the time the backup restores to (its consistent point)
     * @param parent    the backup it needs to restore (incrementals), or null
     * @param verified  whether its latest verification or restore drill passed
     * @param condition whether it can be counted on; only {@link BackupCondition#OK} fills a rule
     * @param problem   why it cannot (for the plan's reasons); null when OK
     */
    record Candidate(BackupId id, Instant time, BackupId parent, boolean verified, BackupCondition condition,
                     String problem) {
        Candidate {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(time, "time");
            Objects.requireNonNull(condition, "condition");
        }

        /** A backup in condition OK. */
        Candidate(BackupId id, Instant time, BackupId parent, boolean verified) {
            this(id, time, parent, verified, BackupCondition.OK, null);
        }

        boolean recoverable() {
            return condition == BackupCondition.OK;
        }
    }

    /**
     * The decision for one backup.
     *
     * @param id      backup id
     * @param time    its time
     * @param keep    keep or delete
     * @param reasons the rules that keep it ({@code daily 2026-11-24}, {@code parent of ...}); empty when deleted
     */
    record Decision(BackupId id, Instant time, boolean keep, List<String> reasons) { }

    /** Hours carry their offset: the hour repeated when clocks go back is two hours, not one. */
    private static final DateTimeFormatter HOUR = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HHxxx", Locale.ROOT);
    private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("uuuu-MM-dd", Locale.ROOT);
    private static final DateTimeFormatter MONTH = DateTimeFormatter.ofPattern("uuuu-MM", Locale.ROOT);

    /**
     * Decisions for every candidate, newest first. Only backups in condition OK fill the rules,
     * so a known-bad backup never takes the place of a good one. The others:
     * <ul>
     * <li>known-bad or broken-chain: kept as evidence (fills nothing) for as long as the rules would
     *     keep it were it good, then deleted like any other;</li>
     * <li>damaged (unreadable or edited manifest): never deleted by prune. It may be a good backup
     *     whose manifest was touched, or one written by a newer version of this library; an
     *     operator inspects it and deletes it by hand.</li>
     * </ul>
     * The newest OK backup is always kept when a backup that is not OK is newer.
     */
    static List<Decision> plan(RetentionPolicy policy, List<Candidate> candidates, Instant now) {
        List<Candidate> newestFirst = new ArrayList<>(candidates);
        newestFirst.sort(Comparator.comparing(Candidate::time).thenComparing(Candidate::id).reversed());
        Map<BackupId, List<String>> reasons = applyRules(policy,
                newestFirst.stream().filter(Candidate::recoverable).toList(), now);
        newestFirst.forEach(c -> reasons.putIfAbsent(c.id(), new ArrayList<>()));

        // what the rules would keep if every readable backup were good: how long evidence is kept
        Map<BackupId, List<String>> wouldKeep = applyRules(policy,
                newestFirst.stream().filter(c -> c.condition() != BackupCondition.DAMAGED).toList(), now);
        Candidate newestOk = newestFirst.stream().filter(Candidate::recoverable).findFirst().orElse(null);
        for (Candidate c : newestFirst) {
            if (c.condition() == BackupCondition.DAMAGED) {
                reasons.get(c.id()).add("damaged, never deleted by prune (inspect it, then delete it by hand): "
                        + c.problem());
            } else if (!c.recoverable() && !wouldKeep.get(c.id()).isEmpty()) {
                reasons.get(c.id()).add(c.condition().label() + ", kept as evidence while "
                        + String.join(", ", wouldKeep.get(c.id())) + " would keep it; fills no rule: " + c.problem());
            }
        }
        if (newestOk != null && reasons.get(newestOk.id()).isEmpty()
                && newestFirst.get(0) != newestOk) {
            reasons.get(newestOk.id()).add("newest recoverable backup (the newer ones are not)");
        }
        keepParents(newestFirst, reasons);

        List<Decision> decisions = new ArrayList<>();
        for (Candidate c : newestFirst) {
            List<String> r = reasons.get(c.id());
            decisions.add(new Decision(c.id(), c.time(), !r.isEmpty(), List.copyOf(r)));
        }
        return decisions;
    }

    /** The rules that keep each of {@code newestFirst}. */
    private static Map<BackupId, List<String>> applyRules(RetentionPolicy policy, List<Candidate> newestFirst,
                                                          Instant now) {
        Map<BackupId, List<String>> reasons = new LinkedHashMap<>();
        newestFirst.forEach(c -> reasons.put(c.id(), new ArrayList<>()));

        bucketRule(newestFirst, reasons, policy.hourly(), "hourly", t -> HOUR.format(local(t, policy)));
        bucketRule(newestFirst, reasons, policy.daily(), "daily", t -> DAY.format(local(t, policy)));
        bucketRule(newestFirst, reasons, policy.weekly(), "weekly", t -> {
            ZonedDateTime z = local(t, policy);
            return String.format(Locale.ROOT, "%d-W%02d", z.get(IsoFields.WEEK_BASED_YEAR),
                    z.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR));
        });
        bucketRule(newestFirst, reasons, policy.monthly(), "monthly", t -> MONTH.format(local(t, policy)));
        bucketRule(newestFirst, reasons, policy.yearly(), "yearly", t -> Integer.toString(local(t, policy).getYear()));

        if (!policy.within().isZero()) {
            Instant limit = now.minus(policy.within());
            for (Candidate c : newestFirst) {
                if (!c.time().isBefore(limit)) {
                    reasons.get(c.id()).add("within " + policy.within());
                }
            }
        }
        for (int i = 0; i < Math.min(policy.last(), newestFirst.size()); i++) {
            reasons.get(newestFirst.get(i).id()).add("last " + policy.last());
        }
        int verified = 0;
        for (Candidate c : newestFirst) {
            if (verified >= policy.verifiedAtLeast()) {
                break;
            }
            if (c.verified()) {
                reasons.get(c.id()).add("verified, one of the newest " + policy.verifiedAtLeast());
                verified++;
            }
        }
        return reasons;
    }

    private static ZonedDateTime local(Instant t, RetentionPolicy policy) {
        return t.atZone(policy.zone());
    }

    /** Keeps the newest backup of each bucket, for the newest {@code count} buckets that hold a backup. */
    private static void bucketRule(List<Candidate> newestFirst, Map<BackupId, List<String>> reasons, int count,
                                   String rule, Function<Instant, String> bucket) {
        if (count == 0) {
            return;
        }
        TreeSet<String> seen = new TreeSet<>();
        for (Candidate c : newestFirst) {
            if (seen.size() >= count) {
                break;
            }
            String key = bucket.apply(c.time());
            if (seen.add(key)) {
                reasons.get(c.id()).add(rule + " " + key);
            }
        }
    }

    /** A kept backup keeps its parent chain. */
    private static void keepParents(List<Candidate> newestFirst, Map<BackupId, List<String>> reasons) {
        Map<BackupId, Candidate> byId = new HashMap<>();
        newestFirst.forEach(c -> byId.put(c.id(), c));
        List<Candidate> keptByRules = newestFirst.stream().filter(c -> !reasons.get(c.id()).isEmpty()).toList();
        for (Candidate c : keptByRules) {
            Candidate child = c;
            while (child.parent() != null && byId.containsKey(child.parent())) {
                Candidate parent = byId.get(child.parent());
                String reason = "parent of " + c.id();
                if (!reasons.get(parent.id()).contains(reason)) {
                    reasons.get(parent.id()).add(reason);
                }
                child = parent;
            }
        }
    }
}
