package naspattern;

import java.util.Arrays;

/**
 * What a found model says of some images. Two predictions are equal when their classes and
 * probabilities are (a record of arrays would compare the arrays' identities).
 *
 * @param classes the most probable class of each image
 * @param probabilities for each image, the probability of every class (they sum to 1)
 */
public record Prediction(int[] classes, float[][] probabilities) {
    @Override
    public boolean equals(Object other) {
        return other instanceof Prediction that && Arrays.equals(classes, that.classes)
                && Arrays.deepEquals(probabilities, that.probabilities);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(classes) + Arrays.deepHashCode(probabilities);
    }

    @Override
    public String toString() {
        return "Prediction(classes " + Arrays.toString(classes) + ", " + probabilities.length + " x "
                + (probabilities.length == 0 ? 0 : probabilities[0].length) + " probabilities)";
    }
}
