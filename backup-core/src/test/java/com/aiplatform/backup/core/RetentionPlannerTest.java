package com.aiplatform.backup.core;

import com.aiplatform.backup.api.BackupId;
import com.aiplatform.backup.core.RetentionPlanner.Candidate;
import com.aiplatform.backup.core.RetentionPlanner.Decision;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The retention planner against an independent oracle: for every rule, brute force over the
 * calendar (local dates, the Monday that starts each ISO week, year-months) picks the newest
 * backup of each of the newest N periods that hold one.
 */
class RetentionPlannerTest {
    private static final ZoneId UTC = ZoneId.of("UTC");

    // ---- the oracle: deliberately written differently from the planner ----

    private static Set<Instant> oracle(RetentionPolicy p, List<Instant> times, Instant now) {
        Set<Instant> keep = new HashSet<>();
        keep.addAll(newestPerPeriod(times, p.daily(), t -> LocalDate.ofInstant(t, p.zone())));
        keep.addAll(newestPerPeriod(times, p.weekly(),
                t -> LocalDate.ofInstant(t, p.zone()).with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY))));
        keep.addAll(newestPerPeriod(times, p.monthly(), t -> YearMonth.from(LocalDate.ofInstant(t, p.zone()))));
        keep.addAll(newestPerPeriod(times, p.yearly(), t -> LocalDate.ofInstant(t, p.zone()).getYear()));
        // local hours as instants: a local hour repeated when clocks go back is two hours, and
        // half-hour zones (Lord Howe, India) start their hours at :30 UTC
        keep.addAll(newestPerPeriod(times, p.hourly(),
                t -> t.atZone(p.zone()).truncatedTo(ChronoUnit.HOURS).toInstant()));
        if (!p.within().isZero()) {
            times.stream().filter(t -> !t.isBefore(now.minus(p.within()))).forEach(keep::add);
        }
        times.stream().sorted(Comparator.reverseOrder()).limit(p.last()).forEach(keep::add);
        return keep;
    }

    private static <K extends Comparable<K>> Set<Instant> newestPerPeriod(List<Instant> times, int n,
                                                                          Function<Instant, K> period) {
        TreeMap<K, Instant> newest = new TreeMap<>();
        for (Instant t : times) {
            newest.merge(period.apply(t), t, (a, b) -> a.isAfter(b) ? a : b);
        }
        return newest.descendingMap().values().stream().limit(n).collect(Collectors.toSet());
    }

    // ---- helpers ----

    private static List<Candidate> candidates(List<Instant> times) {
        List<Candidate> list = new ArrayList<>();
        for (Instant t : times) {
            list.add(new Candidate(BackupId.generate(t), t, null, false));
        }
        return list;
    }

    private static Set<Instant> kept(RetentionPolicy p, List<Instant> times, Instant now) {
        return RetentionPlanner.plan(p, candidates(times), now).stream().filter(Decision::keep)
                .map(Decision::time).collect(Collectors.toSet());
    }

    private static List<Instant> daily(LocalDateTime first, int days, ZoneId zone) {
        List<Instant> times = new ArrayList<>();
        for (int i = 0; i < days; i++) {
            times.add(first.plusDays(i).atZone(zone).toInstant());
        }
        return times;
    }

    // ---- the cases ----

    @Test
    void thirteenMonthsOfDailyBackupsWithTheDefaultPolicy() {
        List<Instant> times = daily(LocalDateTime.of(2025, 10, 20, 2, 0), 401, UTC);
        Instant now = times.get(times.size() - 1).plusSeconds(3600);
        RetentionPolicy p = RetentionPolicy.defaults();
        Set<Instant> kept = kept(p, times, now);
        assertThat(kept).isEqualTo(oracle(p, times, now));
        // hand-checked facts: the 14 newest days, the newest of each of 12 months, Sundays as weekly picks
        Instant last = times.get(times.size() - 1);
        assertThat(LocalDate.ofInstant(last, UTC)).isEqualTo(LocalDate.of(2026, 11, 24));
        for (int d = 0; d < 14; d++) {
            assertThat(kept).contains(last.minus(d, ChronoUnit.DAYS));
        }
        assertThat(kept).contains(at(2026, 10, 31), at(2026, 1, 31), at(2025, 12, 31))
                .doesNotContain(at(2025, 11, 30), at(2026, 10, 30));
        // weekly: the current week (W48, newest is Tuesday 24th) counts as the first of 8, then the
        // Sundays ending W47..W41; W40 (Sunday 4 October) is the 9th
        assertThat(kept).contains(at(2026, 11, 22), at(2026, 10, 11)).doesNotContain(at(2026, 10, 4));
        // 14 daily + 5 weekly not already daily + 11 monthly not already kept (November is the 24th)
        assertThat(kept).hasSize(14 + 5 + 11);
    }

    private static Instant at(int y, int m, int d) {
        return LocalDateTime.of(y, m, d, 2, 0).atZone(UTC).toInstant();
    }

    @Test
    void severalBackupsADayKeepTheNewest() {
        List<Instant> times = new ArrayList<>();
        for (Instant day : daily(LocalDateTime.of(2026, 11, 1, 0, 15), 24, UTC)) {
            for (int h = 0; h < 24; h += 6) {
                times.add(day.plus(h, ChronoUnit.HOURS));
            }
        }
        RetentionPolicy p = RetentionPolicy.builder().daily(7).weekly(0).monthly(0).build();
        Instant now = Instant.parse("2026-11-25T00:00:00Z");
        Set<Instant> kept = kept(p, times, now);
        assertThat(kept).isEqualTo(oracle(p, times, now)).hasSize(7)
                .allMatch(t -> t.atZone(UTC).getHour() == 18);
    }

    @Test
    void missedDaysAreNotInventedAndOlderDaysFillTheCount() {
        List<Instant> times = new ArrayList<>(daily(LocalDateTime.of(2026, 11, 1, 2, 0), 24, UTC));
        times.removeIf(t -> Set.of(20, 21, 15).contains(t.atZone(UTC).getDayOfMonth()));
        RetentionPolicy p = RetentionPolicy.builder().daily(14).weekly(0).monthly(0).build();
        Instant now = Instant.parse("2026-11-25T00:00:00Z");
        Set<Instant> kept = kept(p, times, now);
        assertThat(kept).isEqualTo(oracle(p, times, now)).hasSize(14)
                .contains(at(2026, 11, 8)).doesNotContain(at(2026, 11, 7));
    }

    @Test
    void isoWeek53AndTheFirstDaysOfJanuary() {
        // 2026 has 53 ISO weeks: 2026-W53 runs Monday 28 December 2026 to Sunday 3 January 2027.
        List<Instant> times = daily(LocalDateTime.of(2026, 12, 14, 2, 0), 28, UTC);
        Instant now = times.get(times.size() - 1);
        RetentionPolicy p = RetentionPolicy.builder().daily(0).weekly(4).monthly(0).build();
        Set<Instant> kept = kept(p, times, now);
        assertThat(kept).isEqualTo(oracle(p, times, now))
                .containsExactlyInAnyOrder(at(2027, 1, 10), at(2027, 1, 3), at(2026, 12, 27), at(2026, 12, 20));
        List<Decision> plan = RetentionPlanner.plan(p, candidates(times), now);
        assertThat(plan.stream().filter(d -> d.time().equals(at(2027, 1, 3))).findFirst().orElseThrow().reasons())
                .containsExactly("weekly 2026-W53");

        RetentionPolicy monthly = RetentionPolicy.builder().daily(0).weekly(0).monthly(2).yearly(2).build();
        assertThat(kept(monthly, times, now)).isEqualTo(oracle(monthly, times, now))
                .containsExactlyInAnyOrder(at(2027, 1, 10), at(2026, 12, 31));
    }

    @ParameterizedTest
    @ValueSource(strings = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"})
    void daylightSavingChanges(String zoneName) {
        ZoneId zone = ZoneId.of(zoneName);
        // hourly backups across both 2026 clock changes of the zone's hemisphere
        List<Instant> times = new ArrayList<>();
        Instant t = Instant.parse("2026-03-25T00:00:00Z");
        while (t.isBefore(Instant.parse("2026-11-05T00:00:00Z"))) {
            times.add(t);
            t = t.plus(Duration.ofMinutes(30));
        }
        Instant now = t;
        RetentionPolicy p = RetentionPolicy.builder().hourly(24 * 200).daily(60).weekly(30).monthly(12)
                .zone(zone).build();
        assertThat(kept(p, times, now)).isEqualTo(oracle(p, times, now));
    }

    @Test
    void theSameBackupsInTwoTimeZonesKeepDifferentSets() {
        // 23:30 UTC is already tomorrow in Tokyo: day buckets differ between the zones
        List<Instant> times = new ArrayList<>();
        for (Instant day : daily(LocalDateTime.of(2026, 11, 1, 11, 30), 20, UTC)) {
            times.add(day);
            times.add(day.plus(12, ChronoUnit.HOURS));
        }
        Instant now = Instant.parse("2026-11-22T00:00:00Z");
        RetentionPolicy utc = RetentionPolicy.builder().daily(5).weekly(0).monthly(0).build();
        RetentionPolicy tokyo = RetentionPolicy.builder().daily(5).weekly(0).monthly(0)
                .zone(ZoneId.of("Asia/Tokyo")).build();
        Set<Instant> keptUtc = kept(utc, times, now);
        Set<Instant> keptTokyo = kept(tokyo, times, now);
        assertThat(keptUtc).isEqualTo(oracle(utc, times, now)).allMatch(x -> x.atZone(UTC).getHour() == 23);
        // in Tokyo a day holds 23:30 UTC of the day before (08:30) and 11:30 UTC (20:30); the last
        // backup, 20 November 23:30 UTC, is alone on 21 November in Tokyo
        assertThat(keptTokyo).isEqualTo(oracle(tokyo, times, now)).containsExactlyInAnyOrder(
                Instant.parse("2026-11-20T23:30:00Z"), Instant.parse("2026-11-20T11:30:00Z"),
                Instant.parse("2026-11-19T11:30:00Z"), Instant.parse("2026-11-18T11:30:00Z"),
                Instant.parse("2026-11-17T11:30:00Z"));
        assertThat(keptUtc).isNotEqualTo(keptTokyo);
    }

    @Test
    void keepAtLeastVerifiedKeepsThemWhenEveryRuleWouldDropThem() {
        List<Instant> times = daily(LocalDateTime.of(2026, 1, 1, 2, 0), 100, UTC);
        List<Candidate> list = new ArrayList<>();
        for (Instant time : times) {
            // only the ten oldest backups ever passed verification
            list.add(new Candidate(BackupId.generate(time), time, null, list.size() < 10));
        }
        RetentionPolicy p = RetentionPolicy.builder().daily(3).weekly(0).monthly(0).verifiedAtLeast(4).build();
        List<Decision> plan = RetentionPlanner.plan(p, list, times.get(99));
        Set<Instant> kept = plan.stream().filter(Decision::keep).map(Decision::time).collect(Collectors.toSet());
        assertThat(kept).containsExactlyInAnyOrder(times.get(99), times.get(98), times.get(97),
                times.get(9), times.get(8), times.get(7), times.get(6));
        assertThat(plan).filteredOn(d -> d.time().equals(times.get(6))).singleElement()
                .satisfies(d -> assertThat(d.reasons()).containsExactly("verified, one of the newest 4"));
    }

    @Test
    void keptIncrementalsKeepTheirWholeChain() {
        Instant t0 = Instant.parse("2026-11-01T02:00:00Z");
        Candidate full = new Candidate(BackupId.generate(t0), t0, null, false);
        Candidate inc1 = new Candidate(BackupId.generate(t0.plus(1, ChronoUnit.DAYS)), t0.plus(1, ChronoUnit.DAYS),
                full.id(), false);
        Candidate inc2 = new Candidate(BackupId.generate(t0.plus(2, ChronoUnit.DAYS)), t0.plus(2, ChronoUnit.DAYS),
                inc1.id(), false);
        Candidate other = new Candidate(BackupId.generate(t0.minus(1, ChronoUnit.DAYS)),
                t0.minus(1, ChronoUnit.DAYS), null, false);
        RetentionPolicy p = RetentionPolicy.builder().daily(1).weekly(0).monthly(0).build();
        Map<BackupId, Decision> plan = RetentionPlanner.plan(p, List.of(other, full, inc1, inc2),
                t0.plus(3, ChronoUnit.DAYS)).stream().collect(Collectors.toMap(Decision::id, d -> d));
        assertThat(plan.get(inc2.id()).keep()).isTrue();
        assertThat(plan.get(inc1.id()).reasons()).containsExactly("parent of " + inc2.id());
        assertThat(plan.get(full.id()).reasons()).containsExactly("parent of " + inc2.id());
        assertThat(plan.get(other.id()).keep()).isFalse();
    }

    @Test
    void withinAndLast() {
        List<Instant> times = daily(LocalDateTime.of(2026, 11, 1, 2, 0), 24, UTC);
        Instant now = Instant.parse("2026-11-24T12:00:00Z");
        RetentionPolicy p = RetentionPolicy.builder().daily(0).weekly(0).monthly(0).within(Duration.ofDays(3))
                .last(5).build();
        assertThat(kept(p, times, now)).isEqualTo(oracle(p, times, now)).hasSize(5);
        RetentionPolicy none = RetentionPolicy.builder().daily(0).weekly(0).monthly(0).build();
        assertThat(none.keepsNothing()).isTrue();
        assertThat(kept(none, times, now)).isEmpty();
        assertThat(ZonedDateTime.now().getZone()).isNotNull();
    }
}
