package naspattern;

/** What a search found: the best child by validation accuracy and its test accuracy. */
public final class SearchResult {
    private final Episode best;
    private final Metrics test;
    private final int episodes;
    private final String stopReason;
    private final double seconds;

    public SearchResult(Episode best, Metrics test, int episodes, String stopReason, double seconds) {
        this.best = best;
        this.test = test;
        this.episodes = episodes;
        this.stopReason = stopReason;
        this.seconds = seconds;
    }

    /** The episode of the best architecture. */
    public Episode best() {
        return best;
    }

    /** The best architecture's metrics on the test split, used for nothing else. */
    public Metrics test() {
        return test;
    }

    /** Children evaluated by the controller so far. */
    public int episodes() {
        return episodes;
    }

    /** "budget", "converged", "failures", or "stopped" (the listener asked). */
    public String stopReason() {
        return stopReason;
    }

    public double seconds() {
        return seconds;
    }

    @Override
    public String toString() {
        return String.format("best %s: val %.4f, test %.4f (%d children, %s)", best.architecture(),
                best.accuracy(), test.accuracy(), episodes, stopReason);
    }
}
