package naspattern;

/**
 * One evaluated child, as the search recorded it (a line of episodes.jsonl).
 *
 * @param episode 1-based position in the search
 * @param architecture what the agent sampled
 * @param metrics validation metrics; null when the child failed or could not be built (see status)
 * @param reward what the agent's reward() returned
 * @param baseline the agent's valueFunction() just before the reward; NaN before it had an estimate
 * @param cached true if the architecture was evaluated earlier in the search and not retrained
 * @param seconds wall time of the episode
 * @param status "ok", or why no metrics: invalid, error, oom, nan or timeout
 * @param reason the error text of a failed child; empty when status is "ok"
 * @param evaluation how its metrics were measured: "standalone" (trained from scratch) or "shared" (scored
 *     with a supernet's shared weights, in a search with "weight-sharing")
 */
public record Episode(int episode, Architecture architecture, Metrics metrics, double reward, double baseline,
                      boolean cached, double seconds, String status, String reason, String evaluation) {
    /** Validation accuracy, 0 for a failed child. */
    public double accuracy() {
        return metrics == null ? 0.0 : metrics.accuracy();
    }

    @Override
    public String toString() {
        String head = String.format("[%d] %s", episode, architecture);
        if (!"ok".equals(status)) {
            return head + "  " + status + ": " + reason;
        }
        String val = "shared".equals(evaluation) ? "shared val" : "val";
        return String.format("%s  %s %.4f  reward %+.4f%s", head, val, accuracy(), reward, cached ? "  (cached)" : "");
    }
}
