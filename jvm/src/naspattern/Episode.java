package naspattern;

/** One evaluated child, as the search recorded it (a line of episodes.jsonl). */
public final class Episode {
    private final int episode;
    private final Architecture architecture;
    private final Metrics metrics;
    private final double reward;
    private final double baseline;
    private final boolean cached;
    private final double seconds;
    private final String status;
    private final String reason;

    public Episode(int episode, Architecture architecture, Metrics metrics, double reward, double baseline,
                   boolean cached, double seconds, String status, String reason) {
        this.episode = episode;
        this.architecture = architecture;
        this.metrics = metrics;
        this.reward = reward;
        this.baseline = baseline;
        this.cached = cached;
        this.seconds = seconds;
        this.status = status;
        this.reason = reason;
    }

    /** 1-based position in the search. */
    public int episode() {
        return episode;
    }

    public Architecture architecture() {
        return architecture;
    }

    /** Validation metrics; null when the child failed or could not be built (see status()). */
    public Metrics metrics() {
        return metrics;
    }

    /** Validation accuracy, 0 for a failed child. */
    public double accuracy() {
        return metrics == null ? 0.0 : metrics.accuracy();
    }

    /** What the agent's reward() returned. */
    public double reward() {
        return reward;
    }

    /** The agent's valueFunction() just before the reward; NaN before it had an estimate. */
    public double baseline() {
        return baseline;
    }

    /** True if the architecture was evaluated earlier in the search and not retrained. */
    public boolean cached() {
        return cached;
    }

    public double seconds() {
        return seconds;
    }

    /** "ok", or why no metrics: invalid, error, oom, nan or timeout. */
    public String status() {
        return status;
    }

    /** The error text of a failed child; empty when status() is "ok". */
    public String reason() {
        return reason;
    }

    @Override
    public String toString() {
        String head = String.format("[%d] %s", episode, architecture);
        if (!"ok".equals(status)) {
            return head + "  " + status + ": " + reason;
        }
        return String.format("%s  val %.4f  reward %+.4f%s", head, accuracy(), reward, cached ? "  (cached)" : "");
    }
}
