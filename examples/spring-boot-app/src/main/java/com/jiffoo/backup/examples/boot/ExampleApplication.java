package com.jiffoo.backup.examples.boot;

import com.jiffoo.backup.crypto.PassphraseKeyFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

/**
 * A minimal Spring Boot application that embeds jiffoo-backup through its starter: every backup setting is in
 * {@code application.properties} ({@code jiffoo.backup.*}); the application itself only has its database.
 *
 * <p>The database comes from the standard {@code spring.datasource.*} properties. A real backend has
 * {@code spring-boot-starter-jdbc} (a Hikari pool built from them); this example builds a plain, pool-less
 * {@link PGSimpleDataSource} from the same properties to stay small. The starter takes the scheduled jobs' advisory
 * lock through this {@link DataSource}, so replicas of the application run each job once.
 */
@SpringBootApplication
public class ExampleApplication {
    /** Used by Spring. */
    public ExampleApplication() {}

    /**
     * Starts the application. A demo convenience: the store directory ({@code BACKUP_DIR}, by default
     * {@code target/backups}) is created when missing, and when the key file ({@code ENCRYPTION_KEY_FILE}, by default
     * {@code target/backup.key}) does not exist yet, a new one is generated there first (mode 600). A real
     * deployment makes its key once with {@code jiffoo-backup keygen} and keeps a copy off the host.
     */
    public static void main(String[] args) throws IOException {
        Files.createDirectories(Path.of(setting("BACKUP_DIR", "target/backups")));
        Path key = Path.of(setting("ENCRYPTION_KEY_FILE", "target/backup.key"));
        if (!Files.exists(key)) {
            PassphraseKeyFile.generate(key);
            LoggerFactory.getLogger(ExampleApplication.class)
                    .info("generated the key file {}: keep a copy, backups cannot be read without it", key);
        }
        SpringApplication.run(ExampleApplication.class, args);
    }

    private static String setting(String name, String fallback) {
        String v = System.getProperty(name, System.getenv(name));
        return v == null || v.isBlank() ? fallback : v;
    }

    /** The application's database, from {@code spring.datasource.url}, {@code .username}, {@code .password}. */
    @Bean
    public DataSource dataSource(
            @Value("${spring.datasource.url}") String url,
            @Value("${spring.datasource.username}") String user,
            @Value("${spring.datasource.password:}") String password) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(url);
        ds.setUser(user);
        ds.setPassword(password);
        return ds;
    }
}
