package com.aiplatform.backup.kafka;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Which topics a source's {@code topics} entries select: an entry made only of topic-name
 * characters is a name that must exist; any other entry is a regular expression matched against
 * whole names, never matching internal topics ({@code __consumer_offsets}, ...).
 */
final class TopicSelection {
    private final List<String> names = new ArrayList<>();
    private final List<Pattern> patterns = new ArrayList<>();

    TopicSelection(List<String> entries) {
        for (String e : entries) {
            if (KafkaConfig.TOPIC_NAME.matcher(e).matches()) {
                names.add(e);
            } else {
                patterns.add(Pattern.compile(e));
            }
        }
    }

    /** Named topics that do not exist, in configuration order. */
    List<String> unknownNames(Collection<String> existing) {
        Set<String> have = Set.copyOf(existing);
        return names.stream().filter(n -> !have.contains(n)).toList();
    }

    /** The selected topics among {@code existing}, sorted. */
    List<String> select(Collection<String> existing) {
        Set<String> chosen = new TreeSet<>();
        for (String t : existing) {
            if (names.contains(t)) {
                chosen.add(t);
            } else if (!t.startsWith("__")) {
                for (Pattern p : patterns) {
                    if (p.matcher(t).matches()) {
                        chosen.add(t);
                        break;
                    }
                }
            }
        }
        return List.copyOf(chosen);
    }

    /** The configured entries, for messages. */
    String describe() {
        List<String> all = new ArrayList<>(names);
        patterns.forEach(p -> all.add(p.pattern()));
        return String.join(", ", all);
    }
}
