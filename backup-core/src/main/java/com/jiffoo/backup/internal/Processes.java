package com.jiffoo.backup.internal;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Which process owns something a run leaves while it works (a staging directory, a spool, a database being
 * restored), so the next run can tell what a killed run left from what a running one is using. Owners are named by
 * host, pid and the process's start time (which tells a reused pid from the original).
 */
public final class Processes {
    private static final Duration START_TOLERANCE = Duration.ofSeconds(1);

    private Processes() {}

    /** This process's id. */
    public static long pid() {
        return ProcessHandle.current().pid();
    }

    /** When this process started, when the OS says. */
    public static Optional<Instant> started() {
        return ProcessHandle.current().info().startInstant();
    }

    /** This host's name ({@code localhost} when it has none). */
    public static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /**
     * True when the process {@code pid} of this host is running and, when {@code started} is given, started then
     * (a pid reused by a later process is not the owner).
     */
    public static boolean running(long pid, Instant started) {
        Optional<ProcessHandle> p = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
        if (p.isEmpty() || started == null) {
            return p.isPresent();
        }
        Optional<Instant> actual = p.get().info().startInstant();
        return actual.isEmpty() || Duration.between(actual.get(), started).abs().compareTo(START_TOLERANCE) <= 0;
    }

    /**
     * The pid in a leftover's name {@code <start><pid>-<rest>}, or -1 when the name does not have one (a name made
     * before pids were part of it).
     */
    public static long pidIn(String name, String start) {
        if (!name.startsWith(start)) {
            return -1;
        }
        int end = name.indexOf('-', start.length());
        try {
            return end < 0 ? -1 : Long.parseLong(name.substring(start.length(), end));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
