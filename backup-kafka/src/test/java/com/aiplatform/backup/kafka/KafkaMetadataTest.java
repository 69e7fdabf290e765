package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.IntegrityException;
import com.aiplatform.backup.kafka.KafkaMetadata.GroupOffset;
import com.aiplatform.backup.kafka.KafkaMetadata.PartitionMeta;
import com.aiplatform.backup.kafka.KafkaMetadata.TopicMeta;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KafkaMetadataTest {
    @Test
    void roundTripsThroughJson() throws IOException {
        KafkaMetadata m = new KafkaMetadata(1, "incremental", "20261124T020000Z-abcdef", "read_committed", "clu\"ster",
                Instant.parse("2026-11-24T02:00:00.123Z"),
                List.of(new TopicMeta("a.b-c", 2, 3, Map.of("cleanup.policy", "compact", "x", "line\nbreak \\ \u0001"),
                        List.of(new PartitionMeta(0, 5, 10, 20, 8, 19, 100, -1, -1),
                                new PartitionMeta(1, 30, 30, 40, 10, 39, 0, 12, 30)))),
                List.of(new GroupOffset("g", "a.b-c", 0, 12, "meta \"data\""),
                        new GroupOffset("g", "a.b-c", 1, 40, ""),
                        new GroupOffset("ü", "a.b-c", 0, 0, "")));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        m.write(out);
        KafkaMetadata back = KafkaMetadata.read(new ByteArrayInputStream(out.toByteArray()));
        assertThat(back).isEqualTo(m);
        assertThat(back.topics().get(0).partitions().get(1).lost()).isTrue();
        assertThat(back.topics().get(0).partitions().get(0).lost()).isFalse();
    }

    @Test
    void malformedOrNewerMetadataIsAnIntegrityError() {
        assertThatThrownBy(() -> KafkaMetadata.read(new ByteArrayInputStream("{\"formatVersion\": 1,"
                .getBytes(StandardCharsets.UTF_8)))).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("metadata.json is malformed");
        assertThatThrownBy(() -> KafkaMetadata.read(new ByteArrayInputStream("{\"formatVersion\": 9}"
                .getBytes(StandardCharsets.UTF_8)))).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("formatVersion 9");
    }
}
