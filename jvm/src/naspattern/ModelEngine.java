package naspattern;

/**
 * A saved model as the engine serves it, implemented by {@code nas_pattern.adapters.Model}. The
 * bridge's side of {@link FoundModel}: images travel packed as bytes, in one call, not one float
 * at a time. User code calls {@link FoundModel#predict} instead.
 */
public interface ModelEngine {
    /**
     * Classifies {@code count} images given as little-endian float32 raw pixel values (0-255),
     * channel by channel, row by row; returns {@code count} little-endian int32 classes followed
     * by {@code count x numClasses()} float32 probabilities.
     */
    byte[] classify(byte[] pixels, int count);

    /** Values per image: channels x height x width. */
    int pixelsPerImage();

    /** Classes the model tells apart. */
    int numClasses();

    /** What class {@code label} (0 to numClasses() - 1) means: "Ankle boot" for Fashion-MNIST's 9. */
    String className(int label);

    /** The model's network, architecture and how it was trained, in one line. */
    String describe();
}
