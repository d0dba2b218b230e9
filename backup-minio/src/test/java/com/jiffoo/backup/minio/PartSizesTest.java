package com.jiffoo.backup.minio;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PartSizesTest {
    @Test
    void tenThousandPartsHoldFiveTebibytesEvenWithTheMinimumPartSize() {
        for (long base : new long[] {PartSizes.MIN_PART_SIZE, MinioSink.DEFAULT_PART_SIZE, 64L << 20, 1L << 30,
                PartSizes.MAX_PART_SIZE}) {
            assertThat(PartSizes.capacity(base)).as("base %d", base).isGreaterThanOrEqualTo(PartSizes.MAX_OBJECT_SIZE);
        }
    }

    @Test
    void partsStartAtTheConfiguredSizeGrowAndAlwaysFitInOneArray() {
        long base = PartSizes.MIN_PART_SIZE;
        assertThat(PartSizes.sizeOf(base, 1)).isEqualTo(base);
        assertThat(PartSizes.sizeOf(base, PartSizes.PARTS_PER_DOUBLING)).isEqualTo(base);
        assertThat(PartSizes.sizeOf(base, PartSizes.PARTS_PER_DOUBLING + 1)).isEqualTo(2 * base);
        long previous = 0;
        for (int n = 1; n <= PartSizes.MAX_PARTS; n++) {
            long size = PartSizes.sizeOf(1L << 30, n);
            assertThat(size).isGreaterThanOrEqualTo(previous).isLessThanOrEqualTo(PartSizes.MAX_PART_SIZE)
                    .isLessThan(Integer.MAX_VALUE - 8);
            previous = size;
        }
    }
}
