package naspattern;

/**
 * What a found model says of some images.
 *
 * @param classes the most probable class of each image
 * @param probabilities for each image, the probability of every class (they sum to 1)
 */
public record Prediction(int[] classes, float[][] probabilities) {
}
