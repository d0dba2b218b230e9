package com.jiffoo.backup.postgres;

import com.jiffoo.backup.BackupManifest;
import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.RestoreException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a point-in-time restore writes into the data directory once the base backup is in place: mode 0700, the
 * owner (when root), a minimal {@code postgresql.conf} and {@code pg_hba.conf} when the backed-up cluster kept them
 * elsewhere (Debian keeps them in {@code /etc/postgresql}), the settings appended to {@code postgresql.auto.conf},
 * and {@code recovery.signal}, last.
 */
final class RecoveryFiles {
    private static final Logger LOG = LoggerFactory.getLogger(RecoveryFiles.class);
    private static final String DEFAULT_OWNER = "postgres";

    private final Path dir;
    private final String owner;
    private final Map<String, String> settings;
    private final BackupManifest manifest;

    RecoveryFiles(Path dir, String owner, Map<String, String> settings, BackupManifest manifest) {
        this.dir = dir;
        this.owner = owner;
        this.settings = settings;
        this.manifest = manifest;
    }

    static boolean runningAsRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    /**
     * The owner to give the files to: null (leave them to the running user) unless root; when root, a user of this
     * system (checked before anything is downloaded).
     */
    static String checkOwner(String owner) {
        if (runningAsRoot()) {
            String user = owner != null ? owner : DEFAULT_OWNER;
            try {
                FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName(user);
            } catch (IOException e) {
                throw new ConfigurationException(
                        "The owner " + user + " of the restored data directory (the server's OS user) is not a user"
                                + " of this system; pass it with --owner (e.g. --owner postgres).",
                        e);
            }
            return user;
        }
        if (owner != null && !owner.equals(System.getProperty("user.name"))) {
            throw new ConfigurationException("Only root can give the restored files to " + owner + "; run the restore"
                    + " as " + owner + " (e.g. sudo -u " + owner + " jiffoo-backup restore pitr …), or as root.");
        }
        return null;
    }

    void write() throws IOException {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        if (!Files.exists(dir.resolve("postgresql.conf"))) {
            Files.writeString(
                    dir.resolve("postgresql.conf"),
                    "# Written by jiffoo-backup restore pitr: the backed-up cluster kept its configuration outside"
                            + " its data directory\n# (Debian: /etc/postgresql/N/main). Copy the settings you need.\n",
                    StandardCharsets.UTF_8);
            LOG.warn("{} had no postgresql.conf (kept elsewhere, as Debian does): wrote an empty one", dir);
        }
        if (!Files.exists(dir.resolve("pg_hba.conf"))) {
            Files.writeString(
                    dir.resolve("pg_hba.conf"),
                    "# Written by jiffoo-backup restore pitr (the backup had none): local connections only.\n"
                            + "local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n"
                            + "host all all ::1/128 scram-sha-256\n",
                    StandardCharsets.UTF_8);
            LOG.warn("{} had no pg_hba.conf (kept elsewhere, as Debian does): wrote one for local connections", dir);
        }
        StringBuilder conf = new StringBuilder(
                "\n# Added by jiffoo-backup restore pitr at " + Instant.now() + " from " + manifest.objectKey() + "\n");
        settings.forEach((k, v) -> conf.append(k).append(" = ").append(quote(v)).append('\n'));
        Files.writeString(
                dir.resolve("postgresql.auto.conf"),
                conf,
                StandardCharsets.UTF_8,
                StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        if (owner != null) {
            chown();
        }
        // last: only now does the directory look like one PostgreSQL recovers from
        Path signal = dir.resolve("recovery.signal");
        Files.deleteIfExists(dir.resolve("standby.signal"));
        Files.write(signal, new byte[0]);
        if (owner != null) {
            giveAway(signal, principals());
        }
    }

    /** Gives {@code f} to {@code owner} and its primary group (root only). */
    static void giveTo(Path f, String owner) throws IOException {
        giveAway(f, principals(owner, f));
    }

    /**
     * The prefix that runs a command as {@code owner} with its primary group and supplementary groups, as
     * {@link RecoveryServer} starts the server: {@code setpriv --reuid=U --regid=G --init-groups --}.
     */
    static List<String> asUser(String owner) throws IOException {
        String gid = primaryGroup(owner);
        return List.of("setpriv", "--reuid=" + owner, "--regid=" + (gid != null ? gid : owner), "--init-groups", "--");
    }

    /** A setting's value in postgresql.conf syntax: single quotes, a quote doubled. */
    static String quote(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
    }

    private void chown() throws IOException {
        Principals p = principals();
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) all::iterator) {
                giveAway(f, p);
            }
        }
    }

    private record Principals(UserPrincipal user, GroupPrincipal group) {}

    private Principals principals() throws IOException {
        return principals(owner, dir);
    }

    private static Principals principals(String owner, Path dir) throws IOException {
        UserPrincipalLookupService lookup = FileSystems.getDefault().getUserPrincipalLookupService();
        try {
            UserPrincipal user = lookup.lookupPrincipalByName(owner);
            GroupPrincipal group = null;
            String gid = primaryGroup(owner);
            if (gid != null) {
                group = lookup.lookupPrincipalByGroupName(gid);
            }
            return new Principals(user, group);
        } catch (UserPrincipalNotFoundException e) {
            throw new RestoreException(
                    "The owner " + owner + " of the restored data directory " + dir + " is not a user of this system;"
                            + " pass the server's OS user with --owner. The directory holds no recovery.signal.",
                    null,
                    dir.toString(),
                    e);
        }
    }

    /** The numeric primary group of {@code user} from /etc/passwd, or null. */
    private static String primaryGroup(String user) throws IOException {
        Path passwd = Path.of("/etc/passwd");
        if (!Files.isReadable(passwd)) {
            return null;
        }
        List<String> lines = Files.readAllLines(passwd, StandardCharsets.UTF_8);
        for (String line : lines) {
            String[] f = line.split(":");
            if (f.length > 3 && f[0].equals(user)) {
                return f[3];
            }
        }
        return null;
    }

    private static void giveAway(Path f, Principals p) throws IOException {
        PosixFileAttributeView view =
                Files.getFileAttributeView(f, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        view.setOwner(p.user());
        if (p.group() != null) {
            view.setGroup(p.group());
        }
    }
}
