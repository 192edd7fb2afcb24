package naspattern;

/** How a child did on the validation split (or, in a SearchResult, on the test split). */
public final class Metrics {
    private final double accuracy;
    private final double loss;
    private final long params;
    private final double trainSeconds;

    public Metrics(double accuracy, double loss, long params, double trainSeconds) {
        this.accuracy = accuracy;
        this.loss = loss;
        this.params = params;
        this.trainSeconds = trainSeconds;
    }

    /** Fraction of images classified correctly, in [0, 1]. */
    public double accuracy() {
        return accuracy;
    }

    /** Mean cross-entropy. */
    public double loss() {
        return loss;
    }

    /** Trainable parameters of the child. */
    public long params() {
        return params;
    }

    /** Wall time of its training. */
    public double trainSeconds() {
        return trainSeconds;
    }

    @Override
    public String toString() {
        return String.format("accuracy %.4f, loss %.4f, %,d params, %.1f s", accuracy, loss, params, trainSeconds);
    }
}
