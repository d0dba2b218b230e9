package com.jiffoo.backup.files;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Test helpers: a sample tree, exact tree snapshots, and running the tar and zstd command-line tools. */
final class TestTrees {

    static final Instant BASE_TIME = Instant.parse("2021-03-04T05:06:07Z");

    private TestTrees() {}

    /** Deep path: > 100 characters in all. */
    static final String DEEP_DIR = "deep/" + "segment-number-0123456789/".repeat(5) + "end";
    /** A single name of 154 characters. */
    static final String LONG_NAME = "n".repeat(150) + ".txt";

    /**
     * Fills {@code root} with binary and empty files, an empty directory, unicode names, a deep path and a long
     * name, relative symlinks to a file and a directory, exec bits and set mtimes.
     */
    static void createSampleTree(Path root) throws IOException {
        Files.createDirectories(root);
        byte[] random = new byte[300_000];
        new Random(42).nextBytes(random);
        Files.write(root.resolve("binary.dat"), random);
        Files.write(root.resolve("empty.txt"), new byte[0]);
        Files.createDirectories(root.resolve("empty-dir"));
        Files.createDirectories(root.resolve("données"));
        Files.writeString(root.resolve("données/日本語.txt"), "こんにちは, données\n", StandardCharsets.UTF_8);
        Path deep = root.resolve(DEEP_DIR);
        Files.createDirectories(deep);
        Files.writeString(deep.resolve("file-at-the-bottom.txt"), "deep\n");
        Files.writeString(root.resolve(LONG_NAME), "long name\n");
        Files.writeString(root.resolve("run.sh"), "#!/bin/sh\necho hi\n");
        Files.writeString(root.resolve("private.txt"), "secret\n");
        Files.createDirectories(root.resolve("sub"));
        Files.writeString(root.resolve("sub/readonly.txt"), "ro\n");
        Files.createSymbolicLink(root.resolve("link-to-file"), Path.of("binary.dat"));
        Files.createSymbolicLink(root.resolve("link-to-dir"), Path.of("données"));
        Files.createSymbolicLink(root.resolve("sub/link-up"), Path.of("../run.sh"));
        Files.createSymbolicLink(root.resolve("dangling-link"), Path.of("does-not-exist"));
        FileTrees.setMode(root.resolve("run.sh"), 0755);
        FileTrees.setMode(root.resolve("private.txt"), 0600);
        FileTrees.setMode(root.resolve("sub/readonly.txt"), 0444);
        FileTrees.setMode(root.resolve("sub"), 0750);
        setTimes(root);
    }

    /**
     * Gives every entry under {@code root} a distinct mtime with a fraction of a second (nanoseconds), directories
     * after their content.
     */
    static void setTimes(Path root) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.filter(p -> !p.equals(root))
                    .sorted((a, b) -> b.toString().compareTo(a.toString()))
                    .toList();
        }
        long t = BASE_TIME.getEpochSecond();
        int nanos = 123_456_789;
        for (Path p : all) {
            FileTrees.setModifiedTime(p, FileTime.from(Instant.ofEpochSecond(t, nanos)));
            t += 3601;
            nanos = (nanos + 87_654_321) % 1_000_000_000;
        }
    }

    /**
     * An exact description of the tree under {@code root} (not the root itself): for each relative path its type,
     * permission bits, mtime to the nanosecond (of a symbolic link to the microsecond: Java 17 sets a link's time
     * with lutimes), the SHA-256 of a file or the target of a link, and for a file with several names in the tree the
     * other names (hard links).
     */
    static Map<String, String> snapshot(Path root) throws IOException {
        return snapshot(root, true);
    }

    /** {@link #snapshot} with mtimes to the second: for archives that store no more (GNU tar's gnu format). */
    static Map<String, String> snapshotSeconds(Path root) throws IOException {
        return snapshot(root, false);
    }

    private static Map<String, String> snapshot(Path root, boolean nanos) throws IOException {
        Map<Object, List<String>> names = new java.util.HashMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                java.nio.file.attribute.BasicFileAttributes a = Files.readAttributes(
                        p, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (a.isRegularFile()) {
                    names.computeIfAbsent(a.fileKey(), k -> new java.util.ArrayList<>())
                            .add(root.relativize(p).toString());
                }
            }
        }
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.equals(root)) {
                    continue;
                }
                String rel = root.relativize(p).toString();
                Instant t =
                        Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toInstant();
                int fraction = Files.isSymbolicLink(p) ? t.getNano() / 1000 * 1000 : t.getNano();
                String mtime = t.getEpochSecond() + (nanos ? String.format(".%09d", fraction) : "");
                String d;
                if (Files.isSymbolicLink(p)) {
                    d = "link -> " + Files.readSymbolicLink(p);
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    d = "dir " + Integer.toOctalString(FileTrees.mode(p, 0));
                } else {
                    d = "file " + Integer.toOctalString(FileTrees.mode(p, 0)) + " " + sha256(Files.readAllBytes(p));
                    List<String> others = names.get(Files.readAttributes(
                                    p, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                            .fileKey());
                    if (others != null && others.size() > 1) {
                        d += " links " + others.stream().sorted().toList();
                    }
                }
                out.put(rel, d + " @" + mtime);
            }
        }
        return out;
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Names in {@code dir}, sorted. */
    static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** Runs {@code bash -c script} in {@code dir}, fails unless it exits 0; returns stdout+stderr. */
    static String sh(Path dir, String script) {
        try {
            Process p = new ProcessBuilder("bash", "-c", script)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .start();
            p.getOutputStream().close();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (InputStream in = p.getInputStream()) {
                in.transferTo(out);
            }
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + script);
            }
            String text = out.toString(StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new AssertionError("`" + script + "` exited " + p.exitValue() + ": " + text);
            }
            return text;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Quotes a path for bash. */
    static String q(Path p) {
        return "'" + p.toString().replace("'", "'\\''") + "'";
    }
}
