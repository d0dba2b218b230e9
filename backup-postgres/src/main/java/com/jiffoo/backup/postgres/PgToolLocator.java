package com.jiffoo.backup.postgres;

import com.jiffoo.backup.ConfigurationException;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds a PostgreSQL client tool ({@code pg_dump}, {@code pg_restore}, {@code psql}, ...) whose major version fits a
 * server, and says exactly what to install when none does.
 *
 * <p>The {@linkplain #system() system locator} looks in every directory of {@code PATH}, then in Debian's
 * {@code /usr/lib/postgresql/*}{@code /bin} (and Red Hat's {@code /usr/pgsql-*}{@code /bin}). Debian's
 * {@code pg_wrapper} ({@code /usr/bin/pg_dump} is a symbolic link to it) is skipped: it picks a version by its own
 * rules, and the real binaries it would run are found under {@code /usr/lib/postgresql} anyway. Each candidate's
 * version is read by running {@code TOOL --version}.
 *
 * <p>Choice: among the candidates whose major version is at least the server's, the highest version wins (pg_dump's
 * documentation recommends a pg_dump at least as new as the server; a newer one dumps older servers fine). pg_dump
 * refuses to dump a newer server, so an older tool is never picked.
 *
 * <pre>{@code
 * PgTool dump = PgToolLocator.system().locate("pg_dump", 16);             // or throws ConfigurationException
 * PgTool restore = PgToolLocator.inDirectory(Path.of("/opt/pg16/bin")).locate("pg_restore", 16);
 * }</pre>
 *
 * <p>Immutable and thread-safe. Each {@link #locate} runs the candidates' {@code --version} again (a few ms each).
 */
public final class PgToolLocator {
    private static final Logger LOG = LoggerFactory.getLogger(PgToolLocator.class);
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?");

    private final List<Path> directories;
    private final boolean scanDistributionDirectories;

    private PgToolLocator(List<Path> directories, boolean scanDistributionDirectories) {
        this.directories = List.copyOf(directories);
        this.scanDistributionDirectories = scanDistributionDirectories;
    }

    /** Searches {@code PATH}, then {@code /usr/lib/postgresql/*}{@code /bin} and {@code /usr/pgsql-*}{@code /bin}. */
    public static PgToolLocator system() {
        String path = System.getenv("PATH");
        List<Path> dirs = new ArrayList<>();
        if (path != null) {
            for (String p : path.split(File.pathSeparator)) {
                if (!p.isBlank()) {
                    dirs.add(Path.of(p));
                }
            }
        }
        return new PgToolLocator(dirs, true);
    }

    /** Searches only the given directories, in order (e.g. an explicit binary directory, or a PATH of your own). */
    public static PgToolLocator inDirectories(List<Path> directories) {
        Objects.requireNonNull(directories, "directories");
        directories.forEach(d -> Objects.requireNonNull(d, "directory"));
        return new PgToolLocator(directories, false);
    }

    /** Searches only {@code directory}, e.g. {@code /usr/lib/postgresql/16/bin}. */
    public static PgToolLocator inDirectory(Path directory) {
        return inDirectories(List.of(Objects.requireNonNull(directory, "directory")));
    }

    /** The directories searched, in order (the distribution directories found on this machine included). */
    public List<Path> searchPath() {
        Set<Path> all = new LinkedHashSet<>(directories);
        if (scanDistributionDirectories) {
            all.addAll(distributionDirectories(Path.of("/usr/lib/postgresql"), null));
            all.addAll(distributionDirectories(Path.of("/usr"), "pgsql-"));
        }
        return List.copyOf(all);
    }

    private static List<Path> distributionDirectories(Path parent, String prefix) {
        List<Path> found = new ArrayList<>();
        if (!Files.isDirectory(parent)) {
            return found;
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(parent)) {
            for (Path p : s) {
                String name = p.getFileName().toString();
                if ((prefix == null || name.startsWith(prefix)) && Files.isDirectory(p.resolve("bin"))) {
                    found.add(p.resolve("bin"));
                }
            }
        } catch (IOException e) {
            LOG.debug("cannot list {}: {}", parent, e.toString());
        }
        found.sort(Comparator.comparing(Path::toString));
        return found;
    }

    /**
     * Every usable copy of {@code tool} found, with its version, in search order. Copies whose version cannot be
     * read are left out (and logged at debug).
     */
    public List<PgTool> candidates(String tool) {
        requireToolName(tool);
        List<PgTool> found = new ArrayList<>();
        Set<Path> seen = new LinkedHashSet<>();
        for (Path dir : searchPath()) {
            Path p = dir.resolve(tool);
            if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
                continue;
            }
            Path real;
            try {
                real = p.toRealPath();
            } catch (IOException e) {
                continue;
            }
            if (real.getFileName().toString().equals("pg_wrapper") || !seen.add(real)) {
                continue; // Debian's pg_wrapper picks a version by its own rules; the real binaries are found anyway
            }
            PgTool t = probe(tool, p);
            if (t != null) {
                found.add(t);
            }
        }
        return found;
    }

    /**
     * The newest installed copy of {@code tool}, for work that needs no server (reading a dump) or where the newest
     * is right (pg_restore must be at least as new as the pg_dump that wrote the archive).
     *
     * @throws ConfigurationException when the tool is not installed
     */
    public PgTool locateNewest(String tool) {
        List<PgTool> all = candidates(tool);
        if (all.isEmpty()) {
            throw new ConfigurationException(
                    tool + " was not found (searched " + searchPath() + "); install the"
                            + " Debian package postgresql-client, or configure the directory that holds " + tool + ".",
                    null,
                    searchPath().toString(),
                    null);
        }
        return all.stream().max(PgTool::compareTo).orElseThrow();
    }

    /**
     * The copy of {@code tool} to use with a server of major version {@code serverMajor}: the highest version among
     * those whose major version is {@code >= serverMajor}.
     *
     * @param serverMajor the server's major version (e.g. 16; {@code server_version_num / 10000})
     * @throws ConfigurationException when the tool is not installed, or only older versions are
     */
    public PgTool locate(String tool, int serverMajor) {
        List<PgTool> all = candidates(tool);
        if (all.isEmpty()) {
            throw new ConfigurationException(
                    tool + " was not found (searched " + searchPath() + "); install the"
                            + " Debian package postgresql-client (or postgresql-client-" + serverMajor + " to match the"
                            + " PostgreSQL " + serverMajor + " server), or configure the directory that holds " + tool
                            + ".",
                    null,
                    searchPath().toString(),
                    null);
        }
        PgTool best = null;
        for (PgTool t : all) {
            if (t.major() >= serverMajor && (best == null || t.compareTo(best) > 0)) {
                best = t;
            }
        }
        if (best == null) {
            PgTool newest = all.stream().max(PgTool::compareTo).orElseThrow();
            throw new ConfigurationException(
                    tool + " " + newest.major() + " cannot " + verb(tool) + " a PostgreSQL "
                            + serverMajor + " server (found " + describe(all) + "); install postgresql-client-"
                            + serverMajor
                            + " (apt.postgresql.org) or put a " + tool + " >= " + serverMajor + " on PATH.",
                    null,
                    newest.path().toString(),
                    null);
        }
        LOG.debug("using {} {} at {} for a PostgreSQL {} server", tool, best.version(), best.path(), serverMajor);
        return best;
    }

    private static String verb(String tool) {
        return switch (tool) {
            case "pg_dump", "pg_dumpall" -> "dump";
            case "pg_restore" -> "restore into";
            default -> "be used with";
        };
    }

    private static String describe(List<PgTool> all) {
        List<String> s = new ArrayList<>();
        for (PgTool t : all) {
            s.add(t.version() + " at " + t.path());
        }
        return String.join(", ", s);
    }

    private static void requireToolName(String tool) {
        if (tool == null || !tool.matches("[a-z_]+")) {
            throw new IllegalArgumentException("not a PostgreSQL tool name: " + tool);
        }
    }

    /** Runs {@code path --version} and parses it; null when it cannot be run or read. */
    static PgTool probe(String tool, Path path) {
        PgChild p = null;
        try {
            p = PgChild.start(List.of(path.toString(), "--version"), null, ProcessBuilder.Redirect.PIPE, true);
            p.stdin().close();
            String out;
            try (InputStream in = p.stdout()) {
                out = new String(in.readNBytes(4096), StandardCharsets.UTF_8).trim();
            }
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                LOG.debug("{} --version did not answer in 30 s", path);
                return null;
            }
            int exit = p.waitFor();
            if (exit != 0) {
                LOG.debug("{} --version {}: {} {}", path, PgChild.exitText(exit), out, p.tail());
                return null;
            }
            PgTool t = parse(tool, path, out);
            if (t == null) {
                LOG.debug("{} --version printed an unknown format: {}", path, out);
            }
            return t;
        } catch (IOException e) {
            LOG.debug("cannot run {} --version: {}", path, e.toString());
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } finally {
            if (p != null) {
                p.kill();
            }
        }
    }

    /** Parses {@code pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)}; null when it is not that format. */
    static PgTool parse(String tool, Path path, String versionLine) {
        Matcher m = VERSION.matcher(versionLine);
        if (!m.find()) {
            return null;
        }
        int first = Integer.parseInt(m.group(1));
        int second = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
        int third = m.group(3) == null ? 0 : Integer.parseInt(m.group(3));
        // before 10 the major version had two parts (9.6); we number it 9 like server_version_num / 10000
        int minor = first >= 10 ? second : third;
        String version = m.group(0).replaceFirst("\\(PostgreSQL\\)\\s+", "");
        return new PgTool(tool, path, version, first, minor);
    }
}
