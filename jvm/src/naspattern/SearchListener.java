package naspattern;

/**
 * Implemented on the JVM and called by the Python search loop, on the thread that called
 * {@link NASController#search}: once after every evaluated child, then asked whether to stop.
 * In Java a lambda is one: {@code controller.search(10, episode -> System.out.println(episode))}.
 * Scala 2.11 does not turn a function into a Java interface, so write the anonymous class:
 * {@code controller.search(10, new SearchListener { def onEpisode(e: Episode): Unit = println(e) })};
 * in Clojure, {@code reify} it (naspattern.core/search does).
 */
@FunctionalInterface
public interface SearchListener {
    /** Called after each child is evaluated, rewarded and recorded, in episode order. */
    void onEpisode(Episode episode);

    /** Asked after each {@link #onEpisode}; true ends the search cleanly after that child. */
    default boolean shouldStop() {
        return false;
    }
}
