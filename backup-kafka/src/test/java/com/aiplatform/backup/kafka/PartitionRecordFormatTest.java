package com.aiplatform.backup.kafka;

import com.aiplatform.backup.api.IntegrityException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PartitionRecordFormatTest {
    private record Rec(long offset, long timestamp, int type, byte[] key, byte[] value, String[] hk, byte[][] hv) {
        String show() {
            StringBuilder b = new StringBuilder(offset + "@" + timestamp + "/" + type + " k=" + hex(key) + " v="
                    + hex(value) + " h=");
            for (int i = 0; i < hk.length; i++) {
                b.append(hk[i]).append(':').append(hex(hv[i])).append(',');
            }
            return b.toString();
        }
    }

    private static String hex(byte[] b) {
        return b == null ? "null" : "[" + HexFormat.of().formatHex(b) + "]";
    }

    private static byte[] write(String topic, int partition, long start, long cut, List<Rec> records)
            throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (PartitionRecordWriter w = new PartitionRecordWriter(out, topic, partition, start, cut)) {
            for (Rec r : records) {
                w.write(r.offset, r.timestamp, r.type, r.key, r.value, r.hk, r.hv, r.hk.length);
            }
            w.finish();
            assertThat(w.count()).isEqualTo(records.size());
        }
        return out.toByteArray();
    }

    private static List<Rec> read(byte[] data) throws IOException {
        List<Rec> out = new ArrayList<>();
        try (PartitionRecordReader r = new PartitionRecordReader(new ByteArrayInputStream(data), "t/0.records")) {
            PartitionRecordReader.StoredRecord s;
            while ((s = r.next()) != null) {
                out.add(new Rec(s.offset(), s.timestamp(), s.timestampType(), s.key(), s.value(), s.headerKeys(),
                        s.headerValues()));
            }
        }
        return out;
    }

    @Test
    void roundTripKeepsNullsEmptiesHeadersGapsAndTimestamps() throws IOException {
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (byte) i;
        }
        byte[] huge = new byte[300_000];
        new Random(1).nextBytes(huge);
        List<Rec> records = List.of(
                new Rec(5, 1_700_000_000_000L, 0, all, all, new String[] {"h", "h", "n", "ü"},
                        new byte[][] {"a".getBytes(StandardCharsets.UTF_8), new byte[0], null, all}),
                new Rec(6, -1, -1, null, null, new String[0], new byte[0][]),
                new Rec(9, 0, 1, new byte[0], new byte[0], new String[] {""}, new byte[][] {null}),
                new Rec(1L << 40, Long.MAX_VALUE, 0, "k".getBytes(StandardCharsets.UTF_8), huge, new String[0],
                        new byte[0][]),
                new Rec((1L << 40) + 1, Long.MIN_VALUE + 1, 0, null, "v".getBytes(StandardCharsets.UTF_8),
                        new String[0], new byte[0][]));
        byte[] data = write("orders", 7, 5, (1L << 40) + 2, records);
        assertThat(read(data).stream().map(Rec::show).toList()).isEqualTo(records.stream().map(Rec::show).toList());
        try (PartitionRecordReader r = new PartitionRecordReader(new ByteArrayInputStream(data), "x")) {
            assertThat(r.topic()).isEqualTo("orders");
            assertThat(r.partition()).isEqualTo(7);
            assertThat(r.start()).isEqualTo(5);
            assertThat(r.cut()).isEqualTo((1L << 40) + 2);
        }
    }

    @Test
    void bytesAreExactlyAsFormatMdShows() throws IOException {
        byte[] data = write("t", 0, 0, 3, List.of(new Rec(0, 1, 0, "k".getBytes(StandardCharsets.UTF_8), null,
                new String[0], new byte[0][])));
        assertThat(HexFormat.of().formatHex(data)).isEqualTo("4b42524601" + "0274" + "00" + "00" + "06"
                + "01" + "00" + "02" + "00" + "026b" + "01" + "00"
                + "00" + "02" + "00");
    }

    @Test
    void consecutiveSmallRecordsAreCompact() throws IOException {
        List<Rec> records = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            records.add(new Rec(i, 1_700_000_000_000L + i, 0, null, null, new String[0], new byte[0][]));
        }
        byte[] data = write("t", 0, 0, 1000, records);
        // tag, offset delta, timestamp delta, type, key -1, value -1, header count: 7 bytes each
        assertThat(data.length).isLessThan(1000 * 7 + 64);
        assertThat(read(data)).hasSize(1000);
    }

    @Test
    void emptyPartitionHasHeaderAndTrailerOnly() throws IOException {
        byte[] data = write("t", 0, 10, 10, List.of());
        assertThat(read(data)).isEmpty();
        assertThat(Arrays.copyOf(data, 4)).isEqualTo("KBRF".getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void truncationBadMagicUnknownVersionAndTrailingDataAreIntegrityErrors() throws IOException {
        List<Rec> records = List.of(new Rec(0, 1, 0, "k".getBytes(StandardCharsets.UTF_8), new byte[100],
                new String[0], new byte[0][]));
        byte[] data = write("t", 0, 0, 1, records);
        for (int cut = 5; cut < data.length; cut += 7) {
            byte[] truncated = Arrays.copyOf(data, cut);
            assertThatThrownBy(() -> read(truncated)).as("truncated at " + cut)
                    .isInstanceOf(IntegrityException.class).hasMessageContaining("t/0.records");
        }
        byte[] magic = data.clone();
        magic[0] = 'X';
        assertThatThrownBy(() -> read(magic)).isInstanceOf(IntegrityException.class).hasMessageContaining("magic");
        byte[] version = data.clone();
        version[4] = 3;
        assertThatThrownBy(() -> read(version)).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("format version 3");
        byte[] longer = Arrays.copyOf(data, data.length + 1);
        assertThatThrownBy(() -> read(longer)).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("data after its end");
    }

    @Test
    void trailerThatDisagreesIsAnIntegrityError() throws IOException {
        byte[] data = write("t", 0, 0, 2, List.of(new Rec(0, 1, 0, null, null, new String[0], new byte[0][])));
        byte[] wrong = data.clone();
        wrong[wrong.length - 2] = 4; // count 1 (zig-zag 2) becomes 2 (zig-zag 4)
        assertThatThrownBy(() -> read(wrong)).isInstanceOf(IntegrityException.class)
                .hasMessageContaining("trailer says 2 records");
    }

    @Test
    void offsetsMustIncrease() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PartitionRecordWriter w = new PartitionRecordWriter(out, "t", 0, 10, 20);
        assertThatThrownBy(() -> w.write(9, 0, 0, null, null, new String[0], new byte[0][], 0))
                .isInstanceOf(IllegalStateException.class);
    }
}
