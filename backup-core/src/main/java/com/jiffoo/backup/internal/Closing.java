package com.jiffoo.backup.internal;

/**
 * Closes every one of a list of resources (a store and its copies): each is closed even when one before it failed;
 * the first failure is thrown at the end, with the later ones added to it as suppressed.
 */
public final class Closing {
    /** Closes one resource. */
    @FunctionalInterface
    public interface Closer<T, E extends Exception> {
        /** Closes {@code resource}. */
        void close(T resource) throws E;
    }

    private Closing() {}

    /**
     * Closes each of {@code resources} with {@code closer}, collecting the failures of type {@code kept}; any other
     * (unchecked) failure is thrown at once.
     *
     * @throws E the first failure, the later ones suppressed in it
     */
    public static <T, E extends Exception> void closeAll(
            Iterable<? extends T> resources, Class<E> kept, Closer<? super T, ? extends E> closer) throws E {
        E first = null;
        for (T resource : resources) {
            try {
                closer.close(resource);
            } catch (Exception e) {
                if (!kept.isInstance(e)) {
                    throw (RuntimeException) e; // closer throws only E or unchecked exceptions
                }
                if (first == null) {
                    first = kept.cast(e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
