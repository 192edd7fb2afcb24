package naspattern;

/**
 * How a child did on the validation split (or, in a SearchResult, on the test split).
 *
 * @param accuracy fraction of images classified correctly, in [0, 1]
 * @param loss mean cross-entropy
 * @param params trainable parameters of the child
 * @param trainSeconds wall time of its training
 */
public record Metrics(double accuracy, double loss, long params, double trainSeconds) {
    @Override
    public String toString() {
        return String.format("accuracy %.4f, loss %.4f, %,d params, %.1f s", accuracy, loss, params, trainSeconds);
    }
}
