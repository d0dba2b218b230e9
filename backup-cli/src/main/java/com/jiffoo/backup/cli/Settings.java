package com.jiffoo.backup.cli;

import com.jiffoo.backup.ConfigurationException;
import com.jiffoo.backup.store.StoreSettings;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * The launcher's settings, by the runbook's names ({@code DB_HOST}, {@code S3_BUCKET}, ...). A setting comes from a
 * command-line flag, else the environment, else the optional config file ({@code --config FILE}, a properties file
 * with the same names). Secrets ({@link #SECRETS}) never come from flags (they would show in {@code ps}); a config
 * file that holds one is refused when group or others can read it.
 *
 * <p>The stores read their settings from here ({@link StoreSettings}).
 *
 * <p>{@link #redact(String)} replaces the value of every secret in a text, as a last guard on what is printed.
 * Not thread-safe; one per run.
 */
public final class Settings implements StoreSettings {
    /** Settings whose values are never printed, logged or passed on a command line. */
    public static final Set<String> SECRETS = Set.of(
            "DB_PASSWORD",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "SLACK_WEBHOOK_URL",
            "PUSHGATEWAY_URL",
            "UPLOADS_AWS_ACCESS_KEY_ID",
            "UPLOADS_AWS_SECRET_ACCESS_KEY",
            "UPLOADS_AWS_SESSION_TOKEN");

    /** Every name the launcher reads, for the config file's check and the documentation. */
    public static final Set<String> NAMES = Set.of(
            "DB_HOST",
            "DB_PORT",
            "DB_NAME",
            "DB_USER",
            "DB_PASSWORD",
            "DB_SSLMODE",
            "ENCRYPTION_KEY_FILE",
            "ENCRYPTION_PUBLIC_KEY_FILE",
            "ENCRYPTION_SECRET_KEY_FILE",
            "ENCRYPTION_SECRET_KEY_PASSPHRASE_FILE",
            "ENCRYPTION_SIGNING_KEY_FILE",
            "ENCRYPTION_SIGNING_KEY_PASSPHRASE_FILE",
            "ENCRYPTION_SIGNER_PUBLIC_KEY_FILE",
            "ALLOW_UNAUTHENTICATED",
            "ALLOW_UNENCRYPTED",
            "S3_BUCKET",
            "S3_ENDPOINT",
            "MINIO_ENDPOINT",
            "RETENTION_DAYS",
            "AWS_REQUEST_CHECKSUM_CALCULATION",
            "AWS_RESPONSE_CHECKSUM_VALIDATION",
            "S3_CHUNKED_ENCODING",
            "S3_PATH_STYLE",
            "S3_OBJECT_LOCK",
            "S3_OBJECT_LOCK_DAYS",
            "SOURCE_DIR",
            "FILES_FULL_EVERY",
            "BACKUP_DIR",
            "BACKUP_COPIES",
            "WAL_COPIES",
            "SLACK_WEBHOOK_URL",
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "MAX_BACKUP_AGE_HOURS",
            "CLOCK_SKEW_TOLERANCE_MINUTES",
            "COPY_GRACE_MINUTES",
            "WAL_MAX_LAG",
            "WAL_MAX_READY",
            "WAL_COPY_MAX_LAG",
            "DRILL_MAX_AGE_DAYS",
            "DRILL_REQUIRED",
            "LOG_DIR",
            "LOG_FILE",
            "METRICS_FILE",
            "PUSHGATEWAY_URL",
            "QUIET",
            "S3_BACKUP_BUCKET",
            "SOURCE_BUCKET",
            "UPLOADS_S3_ENDPOINT",
            "UPLOADS_MINIO_ENDPOINT",
            "UPLOADS_AWS_REGION",
            "UPLOADS_AWS_PROFILE",
            "UPLOADS_S3_PATH_STYLE",
            "UPLOADS_S3_CHUNKED_ENCODING",
            "UPLOADS_AWS_REQUEST_CHECKSUM_CALCULATION",
            "UPLOADS_AWS_RESPONSE_CHECKSUM_VALIDATION",
            "UPLOADS_AWS_ACCESS_KEY_ID",
            "UPLOADS_AWS_SECRET_ACCESS_KEY",
            "UPLOADS_AWS_SESSION_TOKEN");

    /** Other names of a setting, read when the setting itself is not set: the runbook's monitor calls S3_BUCKET so. */
    private static final Map<String, String> ALIASES = Map.of("S3_BUCKET", "S3_BACKUP_BUCKET");

    private final Map<String, String> flags = new LinkedHashMap<>();
    private final Map<String, String> env;
    private final Map<String, String> file;
    private final Path configFile;

    private Settings(Map<String, String> env, Map<String, String> file, Path configFile) {
        this.env = env;
        this.file = file;
        this.configFile = configFile;
    }

    /**
     * Settings from {@code env} and, when {@code configFile} is not null, that properties file.
     *
     * @throws ConfigurationException when the file is missing, unreadable, names an unknown setting, or holds a
     *                                secret while group or others can read it
     */
    public static Settings load(Map<String, String> env, Path configFile) {
        return new Settings(Map.copyOf(env), configFile == null ? Map.of() : readConfig(configFile), configFile);
    }

    /** Sets a value given as a command-line flag (null: not given). Secrets are refused. */
    public Settings flag(String name, String value) {
        if (SECRETS.contains(name)) {
            throw new IllegalArgumentException(name + " is a secret and cannot be a flag");
        }
        if (value != null) {
            flags.put(name, value);
        }
        return this;
    }

    /**
     * A yes/no setting ({@code true}/{@code false}, {@code yes}/{@code no}, {@code 1}/{@code 0}), when set.
     *
     * @throws ConfigurationException for any other value, naming where it came from
     */
    @Override
    public Optional<Boolean> bool(String name) {
        return get(name).map(value -> switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no" -> false;
            default ->
                throw new ConfigurationException(
                        name + " is '" + value + "' (from " + origin(name) + "); set it to true or false.");
        });
    }

    /**
     * The value of a setting, when set and not blank. A layer (flags, environment, file) that does not set it may set
     * its alias instead ({@code S3_BACKUP_BUCKET} for {@code S3_BUCKET}).
     */
    @Override
    public Optional<String> get(String name) {
        List<String> names = ALIASES.containsKey(name) ? List.of(name, ALIASES.get(name)) : List.of(name);
        for (Map<String, String> layer : List.of(flags, env, file)) {
            for (String n : names) {
                String v = layer.get(n);
                if (v != null && !v.isBlank()) {
                    return Optional.of(v.trim());
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The value of a setting given as a flag, blank included (a blank flag is then an explicit "none", where
     * {@link #get} would fall back to the environment and the config file).
     */
    public Optional<String> flagged(String name) {
        return Optional.ofNullable(flags.get(name)).map(String::trim);
    }

    /** Where a setting's value came from, for messages: "--flag", "the environment", "config file X". */
    public String origin(String name) {
        if (flags.containsKey(name)) {
            return "its flag";
        }
        String v = env.get(name);
        if (v != null && !v.isBlank()) {
            return "the environment";
        }
        return "the config file " + configFile;
    }

    /** The value of a required setting; {@code hint} says what to set, e.g. "DB_NAME=jiffoo_mall". */
    @Override
    public String require(String name, String hint) {
        return get(name).orElseThrow(() -> new ConfigurationException(name + " is not set: " + hint + "."));
    }

    /** A whole number setting, or {@code fallback}; a value that is not one (or below {@code min}) is named. */
    public int integer(String name, int fallback, int min) {
        Optional<String> v = get(name);
        if (v.isEmpty()) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(v.get());
            if (n >= min) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        String shown = SECRETS.contains(name) ? "(hidden)" : "'" + v.get() + "'";
        throw new ConfigurationException(name + " is " + shown + " (from " + origin(name) + "), which is not a whole"
                + " number of at least " + min + "; set " + name + " to one, e.g. " + name + "="
                + Math.max(min, fallback)
                + ".");
    }

    /** The environment a child process or the SDK would see, as given (not the flags or file). */
    public Map<String, String> environment() {
        return env;
    }

    /** The credentials in a URI ({@code s3://KEY:SECRET@bucket}; also {@code minio:/u:p@h} once a path ate a slash). */
    private static final java.util.regex.Pattern URI_CREDENTIALS =
            java.util.regex.Pattern.compile("\\b([a-zA-Z][a-zA-Z0-9+.-]*:/+)[^/@\\s'\"]*:[^/@\\s'\"]*@");

    /**
     * {@code text} with every secret's value replaced by {@code ***}, and so are credentials written into a URI
     * ({@code s3://KEY:SECRET@bucket} becomes {@code s3://***@bucket}).
     */
    public String redact(String text) {
        if (text == null) {
            return null;
        }
        String out = URI_CREDENTIALS.matcher(text).replaceAll("$1***@");
        List<String> values = new ArrayList<>();
        for (String name : SECRETS) {
            get(name).filter(v -> v.length() >= 4).ifPresent(values::add);
        }
        values.sort((a, b) -> b.length() - a.length());
        for (String v : values) {
            out = out.replace(v, "***");
        }
        return out;
    }

    private static Map<String, String> readConfig(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigurationException("the config file " + file.toAbsolutePath() + " (--config) does not"
                    + " exist; create it (NAME=value lines with the environment variables' names) or drop --config.");
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigurationException(
                    "the config file " + file.toAbsolutePath() + " (--config) cannot be" + " read: " + e.getMessage()
                            + ". It is a properties file of NAME=value lines.",
                    e);
        }
        Map<String, String> out = new HashMap<>();
        boolean secret = false;
        for (String name : p.stringPropertyNames()) {
            if (!NAMES.contains(name)) {
                throw new ConfigurationException("the config file " + file.toAbsolutePath() + " sets " + name
                        + ", which is not a setting of jiffoo-backup; the names are those of the environment"
                        + " variables: " + String.join(", ", new java.util.TreeSet<>(NAMES)) + ".");
            }
            out.put(name, p.getProperty(name));
            secret |= SECRETS.contains(name);
        }
        if (secret) {
            refuseWhenOthersCanRead(file);
        }
        return out;
    }

    private static void refuseWhenOthersCanRead(Path file) {
        PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (view == null) {
            return;
        }
        Set<PosixFilePermission> perms;
        try {
            perms = view.readAttributes().permissions();
        } catch (IOException e) {
            throw new ConfigurationException(
                    "cannot read the permissions of the config file " + file.toAbsolutePath() + ": " + e.getMessage(),
                    e);
        }
        for (PosixFilePermission bad : List.of(
                PosixFilePermission.GROUP_READ,
                PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.OTHERS_READ,
                PosixFilePermission.OTHERS_WRITE)) {
            if (perms.contains(bad)) {
                throw new ConfigurationException("the config file " + file.toAbsolutePath() + " holds secrets (one of "
                        + String.join(", ", new java.util.TreeSet<>(SECRETS)) + ") and group or others can access it;"
                        + " run `chmod 600 " + file.toAbsolutePath() + "`.");
            }
        }
    }
}
