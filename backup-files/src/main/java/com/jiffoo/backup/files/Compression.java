package com.jiffoo.backup.files;

/**
 * How a {@link DirectorySource} compresses its tar stream.
 *
 * <p>{@link DirectoryRestoreTarget} does not need to be told: it recognises all three by their magic bytes.
 *
 * <pre>{@code
 * DirectorySource.builder(dir).compression(Compression.ZSTD, 9).build();
 * }</pre>
 */
public enum Compression {
    /** gzip (deflate), levels 1 to 9, default 6; suffix {@code .tar.gz}. Readable by {@code tar xzf}. */
    GZIP("gzip", ".tar.gz", 1, 9, 6),
    /** Zstandard, levels 1 to 22, default 3; suffix {@code .tar.zst}. Readable by {@code tar --zstd -xf}. */
    ZSTD("zstd", ".tar.zst", 1, 22, 3),
    /** No compression, plain tar; suffix {@code .tar}. The only level is 0. */
    NONE("none", ".tar", 0, 0, 0);

    private final String id;
    private final String suffix;
    private final int minLevel;
    private final int maxLevel;
    private final int defaultLevel;

    Compression(String id, String suffix, int minLevel, int maxLevel, int defaultLevel) {
        this.id = id;
        this.suffix = suffix;
        this.minLevel = minLevel;
        this.maxLevel = maxLevel;
        this.defaultLevel = defaultLevel;
    }

    /** The name recorded in the manifest's facts: {@code gzip}, {@code zstd}, {@code none}. */
    public String id() {
        return id;
    }

    /** The file-name suffix of a tar stream compressed this way: {@code .tar.gz}, {@code .tar.zst}, {@code .tar}. */
    public String suffix() {
        return suffix;
    }

    /** The lowest accepted level. */
    public int minLevel() {
        return minLevel;
    }

    /** The highest accepted level. */
    public int maxLevel() {
        return maxLevel;
    }

    /** The level used when none is given. */
    public int defaultLevel() {
        return defaultLevel;
    }
}
