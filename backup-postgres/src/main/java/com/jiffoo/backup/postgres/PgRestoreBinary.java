package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finds the {@code pg_restore} binary: the system property {@code jiffoo.pg_restore}, else {@code PATH}, else the
 * newest {@code /usr/lib/postgresql/<major>/bin}. Private to this package and deliberately small: it is to be merged
 * with the pg_dump side's binary locator.
 */
final class PgRestoreBinary {
    private PgRestoreBinary() {
    }

    /** The pg_restore to run, or a ConfigurationException saying how to provide one. */
    static Path locate() {
        String configured = System.getProperty("jiffoo.pg_restore");
        if (configured != null && !configured.isBlank()) {
            Path p = Path.of(configured);
            if (Files.isExecutable(p)) {
                return p;
            }
            throw new ConfigurationException("The system property jiffoo.pg_restore names " + p
                    + ", which is not an executable file. Point it at pg_restore or unset it.");
        }
        List<Path> candidates = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                if (!dir.isEmpty()) {
                    candidates.add(Path.of(dir, "pg_restore"));
                }
            }
        }
        candidates.addAll(versionedBins());
        for (Path p : candidates) {
            if (Files.isExecutable(p) && !Files.isDirectory(p)) {
                return p;
            }
        }
        throw new ConfigurationException("pg_restore was not found on PATH or in /usr/lib/postgresql/*/bin. Install"
                + " the PostgreSQL client tools (apt-get install postgresql-client) of the server's major version or"
                + " newer, or pass its path with pgRestore(...) or -Djiffoo.pg_restore=/path/to/pg_restore.");
    }

    /** /usr/lib/postgresql/N/bin/pg_restore, highest N first. */
    private static List<Path> versionedBins() {
        List<Path> found = new ArrayList<>();
        Path root = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(root)) {
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root)) {
                for (Path d : dirs) {
                    if (d.getFileName().toString().matches("\\d+(\\.\\d+)?")) {
                        found.add(d);
                    }
                }
            } catch (IOException e) {
                return List.of();
            }
        }
        found.sort(Comparator.comparingDouble((Path d) -> Double.parseDouble(d.getFileName().toString())).reversed());
        return found.stream().map(d -> d.resolve("bin").resolve("pg_restore")).toList();
    }
}
