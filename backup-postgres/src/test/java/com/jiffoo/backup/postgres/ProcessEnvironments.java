package com.jiffoo.backup.postgres;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** The environment a running process was started with, as the kernel holds it ({@code /proc/PID/environ}). */
public final class ProcessEnvironments {
    /** What a child process may receive: what the tools need, nothing else (and LC_*); the tests' expectation. */
    private static final Set<String> ALLOWED = Set.of(
            "PATH",
            "HOME",
            "LANG",
            "LANGUAGE",
            "TZ",
            "TMPDIR",
            "LD_LIBRARY_PATH",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "KRB5CCNAME",
            "KRB5_CONFIG",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGSSLMODE",
            "PGPASSWORD",
            "PGAPPNAME",
            "PGPASSFILE",
            "PGSSLCERT",
            "PGSSLKEY",
            "PGSSLROOTCERT",
            "PGSSLCRL",
            "PGSSLCRLDIR",
            "PGSSLSNI",
            "PGSSLCERTMODE",
            "PGSSLNEGOTIATION",
            "PGSSLMINPROTOCOLVERSION",
            "PGSSLMAXPROTOCOLVERSION",
            "PGCHANNELBINDING",
            "PGREQUIREAUTH",
            "PGCONNECT_TIMEOUT",
            "PGKRBSRVNAME",
            "PGGSSLIB",
            "PGGSSENCMODE",
            "PGGSSDELEGATION",
            "PGTZ",
            "PGLOCALEDIR");

    private ProcessEnvironments() {}

    /** Whether a child process may receive a variable of this name. */
    public static boolean allowlisted(String name) {
        return ALLOWED.contains(name) || name.startsWith("LC_");
    }

    /** The environment of the running process {@code h} (its own user may read it). */
    public static Map<String, String> of(ProcessHandle h) {
        try {
            return parse(Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "environ")));
        } catch (IOException e) {
            throw new AssertionError("cannot read the environment of process " + h.pid(), e);
        }
    }

    /** {@code NAME=value} entries separated by NUL bytes, as in {@code /proc/PID/environ}. */
    public static Map<String, String> parse(byte[] nulSeparated) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String entry : new String(nulSeparated, StandardCharsets.UTF_8).split("\0")) {
            int eq = entry.indexOf('=');
            if (eq > 0) {
                env.put(entry.substring(0, eq), entry.substring(eq + 1));
            }
        }
        return env;
    }
}
