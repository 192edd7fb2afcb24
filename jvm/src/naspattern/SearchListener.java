package naspattern;

/**
 * Implemented on the JVM and called by the Python search loop, on the thread that called
 * {@link NASController#search}: once after every evaluated child, then asked whether to stop;
 * then, if it overrides them, after each step of the search's end (the derivation, the final
 * retraining), which may take minutes.
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

    /**
     * With weight sharing, called after each of the best architectures is trained from scratch
     * (the derivation, after the last child and before the test), with its validation metrics;
     * those a resumed search takes as a stopped derivation recorded them are told too. Nothing by
     * default: override it in a class (a lambda is {@link #onEpisode}) to show the progress.
     */
    default void onDerived(Episode episode) {
    }

    /**
     * With {@code final-epochs}, called after each epoch of the best architecture's retraining on
     * the training and validation images, before the test: {@code epoch} of {@code epochs}, and
     * its mean training loss. Nothing by default.
     */
    default void onFinalEpoch(int epoch, int epochs, double loss) {
    }
}
