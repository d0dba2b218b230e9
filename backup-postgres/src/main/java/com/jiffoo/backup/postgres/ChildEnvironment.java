package com.jiffoo.backup.postgres;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The environment of every child process ({@code pg_dump}, {@code pg_restore}, {@code pg_dump --version}, and every
 * PostgreSQL tool to come; {@link PgChild} starts them all): built from an <b>allowlist</b>, never inherited. A
 * backup job's environment holds {@code AWS_SECRET_ACCESS_KEY}, {@code SLACK_WEBHOOK_URL}, {@code DB_PASSWORD},
 * {@code ENCRYPTION_*}, {@code JAVA_TOOL_OPTIONS}; no child sees any of them (DESIGN promise 7).
 *
 * <p>A child receives:
 * <ul>
 *   <li>from the parent, what any tool needs to run: {@code PATH}, {@code HOME} (libpq finds {@code ~/.pgpass} and
 *       {@code ~/.postgresql/} there), {@code LANG}, {@code LANGUAGE}, {@code LC_*}, {@code TZ}, {@code TMPDIR},
 *       {@code LD_LIBRARY_PATH} (installations whose libpq is not in a system directory);</li>
 *   <li>only when it connects to a server: the connection's own {@code PGHOST}, {@code PGPORT}, {@code PGUSER},
 *       {@code PGDATABASE}, {@code PGSSLMODE}, {@code PGAPPNAME} ({@code jiffoo-backup TOOL}) and, when the connection
 *       has a password, {@code PGPASSWORD}; from the parent, the libpq variables that choose how to authenticate
 *       and secure that same connection but cannot redirect it ({@link #LIBPQ}: SSL certificate and key files,
 *       channel binding, GSSAPI/Kerberos, connect timeout, {@code PGTZ}), {@code SSL_CERT_FILE}/{@code SSL_CERT_DIR}
 *       (OpenSSL's trust store, for {@code sslrootcert=system}), {@code KRB5CCNAME}/{@code KRB5_CONFIG} (GSSAPI), and
 *       {@code PGPASSFILE} when the connection has no password;</li>
 *   <li>nothing else. Inherited {@code PGHOST}, {@code PGPASSWORD}, ... are replaced by the connection's; those that
 *       could send the tool elsewhere or change what it does are dropped: {@code PGSERVICE} (and so
 *       {@code PGSERVICEFILE}, {@code PGSYSCONFDIR}, which only locate service files), {@code PGHOSTADDR},
 *       {@code PGOPTIONS} ({@code -c role=...}), {@code PGTARGETSESSIONATTRS}, {@code PGCLIENTENCODING} (pg_dump
 *       would dump in that encoding).</li>
 * </ul>
 *
 * <p><b>The password travels in {@code PGPASSWORD}, not a temporary pgpass file.</b> On Linux a process's
 * environment ({@code /proc/PID/environ}) is readable only by its own user and root, who can read the JVM's memory,
 * the key file and a pgpass file just as well; the value sits in the one child that uses it, never on disk and never
 * in argv ({@code ps} shows argv to everyone). A temporary 0600 pgpass file would protect against no one more, and
 * would outlive a {@code kill -9} of the JVM on disk (libpq's documentation warns about {@code PGPASSWORD} for
 * systems where others can read a process's environment; Linux is not one). An operator who prefers a pgpass file
 * sets no password on the connection: {@code PGPASSFILE} and {@code ~/.pgpass} then work as with psql.
 */
final class ChildEnvironment {
    /** Inherited by every child: what a program needs to run, and nothing secret. */
    private static final Set<String> BASE =
            Set.of("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH");

    /** Inherited by a child that connects: how to authenticate and secure that connection, not where it goes. */
    static final Set<String> LIBPQ = Set.of(
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
            "PGLOCALEDIR",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "KRB5CCNAME",
            "KRB5_CONFIG");

    private ChildEnvironment() {}

    /**
     * The environment of a child named {@code tool} started by a process whose environment is {@code parent}.
     *
     * @param connection the database the child connects to, or null when it connects nowhere
     */
    static Map<String, String> of(Map<String, String> parent, PgConnection connection, String tool) {
        Map<String, String> env = new LinkedHashMap<>();
        parent.forEach((k, v) -> {
            if (BASE.contains(k)
                    || k.startsWith("LC_")
                    || (connection != null
                            && (LIBPQ.contains(k) || (k.equals("PGPASSFILE") && !connection.hasPassword())))) {
                env.put(k, v);
            }
        });
        if (connection != null) {
            env.putAll(connection.childEnvironment());
            env.put("PGAPPNAME", "jiffoo-backup " + tool);
        }
        return env;
    }
}
