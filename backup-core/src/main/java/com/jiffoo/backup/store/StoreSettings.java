package com.jiffoo.backup.store;

import com.jiffoo.backup.ConfigurationException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Named settings a {@link StoreProvider} reads, by the names of the command line's environment variables
 * ({@code AWS_REGION}, {@code S3_ENDPOINT}, {@code AWS_ACCESS_KEY_ID}, ...). The command line passes its own settings;
 * a library user passes a map ({@link #of}) or {@link #NONE}.
 */
@FunctionalInterface
public interface StoreSettings {

    /** No settings: the store's URI says everything (and the SDKs' defaults do the rest). */
    StoreSettings NONE = name -> Optional.empty();

    /** The value of a setting, when set and not blank. */
    Optional<String> get(String name);

    /** Settings from a map (blank values count as unset). */
    static StoreSettings of(Map<String, String> values) {
        Map<String, String> copy = Map.copyOf(values);
        return name -> Optional.ofNullable(copy.get(name)).map(String::trim).filter(v -> !v.isEmpty());
    }

    /**
     * A yes/no setting ({@code true}/{@code false}, {@code yes}/{@code no}, {@code 1}/{@code 0}), when set.
     *
     * @throws ConfigurationException for any other value
     */
    default Optional<Boolean> bool(String name) {
        return get(name).map(value -> switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no" -> false;
            default -> throw new ConfigurationException(name + " is '" + value + "'; set it to true or false.");
        });
    }

    /**
     * An endpoint setting, when set: an {@code http} or {@code https} URL with a host.
     *
     * @throws ConfigurationException for anything else, naming the setting and the expected form
     */
    default Optional<URI> httpUrl(String name) {
        return get(name).map(value -> {
            try {
                URI u = URI.create(value);
                if (u.getHost() != null && ("http".equals(u.getScheme()) || "https".equals(u.getScheme()))) {
                    return u;
                }
            } catch (IllegalArgumentException e) {
                // below
            }
            throw new ConfigurationException(name + " is '" + value + "', which is not an http(s) URL; set it like "
                    + name + "=https://minio.internal:9000.");
        });
    }

    /** The value of a required setting; {@code hint} says what to set. */
    default String require(String name, String hint) {
        return get(name).orElseThrow(() -> new ConfigurationException(name + " is not set: " + hint + "."));
    }

    /**
     * These settings, overridden by the query parameters of {@code uri}: {@code parameters} maps each parameter a
     * provider accepts to the setting it stands for, e.g. {@code region -> AWS_REGION}. Only settings that are not
     * secret belong there: a URI is printed and logged.
     *
     * @throws ConfigurationException when the URI has a parameter not in {@code parameters}, naming the known ones
     */
    default StoreSettings withQuery(URI uri, Map<String, String> parameters) {
        String query = uri.getRawQuery();
        if (query == null || query.isEmpty()) {
            return this;
        }
        Map<String, String> given = new HashMap<>();
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String setting = parameters.get(name);
            if (setting == null) {
                throw new ConfigurationException("The store URI " + uri.getScheme() + "://" + uri.getRawAuthority()
                        + "… has the parameter '" + name + "', which its store does not know; known parameters: "
                        + (parameters.isEmpty() ? "none" : String.join(", ", new TreeSet<>(parameters.keySet())))
                        + ".");
            }
            given.put(setting, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        StoreSettings rest = this;
        return name ->
                given.containsKey(name) ? Optional.of(given.get(name)).filter(v -> !v.isBlank()) : rest.get(name);
    }
}
