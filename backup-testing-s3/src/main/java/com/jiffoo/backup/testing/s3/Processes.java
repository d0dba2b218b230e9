package com.jiffoo.backup.testing.s3;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;

/** What the test servers that run as other processes share: finding tools, draining output, ports, random bytes. */
final class Processes {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Processes() {}

    /** Whether {@code tool} is an executable in a directory of {@code PATH}. */
    static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    /** Reads and drops what a server prints until it ends (so that a full pipe never blocks it). */
    static void drain(BufferedReader out) {
        try {
            while (out.readLine() != null) {
                // dropped: the servers print nothing a test needs once they are ready
            }
        } catch (IOException ignored) {
            // the server stopped
        }
    }

    /** A port free on the loopback interface right now. */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** {@code n} random bytes. */
    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }
}
