package com.aiplatform.backup.kafka;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.Record;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Records re-batched on restore keep their stored batch's codec, at its fastest level. */
class RebatchCompressionTest {
    @ParameterizedTest
    @EnumSource(CompressionType.class)
    void keepsTheCodecAndItsRecords(CompressionType codec) {
        Compression chosen = KafkaRestore.rebatchCompression(codec);
        assertThat(chosen.type()).isEqualTo(codec);

        MemoryRecordsBuilder builder = MemoryRecords.builder(ByteBuffer.allocate(1 << 16),
                RecordBatch.CURRENT_MAGIC_VALUE, chosen, TimestampType.CREATE_TIME, 0L);
        for (int i = 0; i < 100; i++) {
            builder.append(1_650_000_000_000L + i, ("k" + i).getBytes(StandardCharsets.UTF_8),
                    ("value " + i + " of a compressible kind, again and again").getBytes(StandardCharsets.UTF_8));
        }
        RecordBatch batch = builder.build().batches().iterator().next();
        assertThat(batch.compressionType()).isEqualTo(codec);
        List<String> values = new ArrayList<>();
        for (Record r : batch) {
            values.add(StandardCharsets.UTF_8.decode(r.value()).toString());
        }
        assertThat(values).hasSize(100).startsWith("value 0 of a compressible kind, again and again");
    }

    @ParameterizedTest
    @EnumSource(value = CompressionType.class, names = {"ZSTD", "GZIP"})
    void usesTheFastestLevelWhereTheCodecHasLevels(CompressionType codec) {
        Compression fastest = codec == CompressionType.ZSTD ? Compression.zstd().level(1).build()
                : Compression.gzip().level(1).build();
        assertThat(KafkaRestore.rebatchCompression(codec)).isEqualTo(fastest)
                .isNotEqualTo(Compression.of(codec).build());
    }
}
