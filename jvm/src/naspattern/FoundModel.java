package naspattern;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The model a search found (its best.pt), loaded in the engine: {@link #predict} classifies raw
 * images with the normalisation the child was trained with. Get one from
 * {@link NASGateway#loadModel(String)}, e.g. with {@link SearchResult#modelPath()}.
 */
public final class FoundModel {
    private final ModelEngine engine;
    private final int pixels;
    private final int classes;
    private final List<String> names;

    FoundModel(ModelEngine engine) {
        this.engine = engine;
        this.pixels = engine.pixelsPerImage();
        this.classes = engine.numClasses();
        this.names = IntStream.range(0, classes).mapToObj(engine::className).toList();
    }

    /**
     * The class and class probabilities of each image; an image is its raw pixel values (0-255, as
     * the dataset files hold them), channel by channel, row by row: 784 values for Fashion-MNIST.
     */
    public Prediction predict(float[][] images) {
        if (images == null) {
            throw new NASException("images must not be null");
        }
        ByteBuffer packed = ByteBuffer.allocate(images.length * pixels * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < images.length; i++) {
            if (images[i] == null || images[i].length != pixels) {
                throw new NASException("image " + i + " has " + (images[i] == null ? "no" : images[i].length)
                        + " values; this model takes " + pixels + " per image");
            }
            for (float value : images[i]) {
                packed.putFloat(value);
            }
        }
        ByteBuffer answer = ByteBuffer.wrap(engine.classify(packed.array(), images.length))
                .order(ByteOrder.LITTLE_ENDIAN);
        int[] predicted = new int[images.length];
        float[][] probabilities = new float[images.length][classes];
        for (int i = 0; i < images.length; i++) {
            predicted[i] = answer.getInt();
        }
        for (int i = 0; i < images.length; i++) {
            for (int c = 0; c < classes; c++) {
                probabilities[i][c] = answer.getFloat();
            }
        }
        return new Prediction(predicted, probabilities);
    }

    /** Classes the model tells apart. */
    public int numClasses() {
        return classes;
    }

    /**
     * What each class means, by class: {@code classNames().get(prediction.classes()[i])} names
     * image i's class ("Ankle boot" for Fashion-MNIST's 9).
     */
    public List<String> classNames() {
        return names;
    }

    @Override
    public String toString() {
        return engine.describe();
    }
}
