package naspattern;

/**
 * A saved model as the engine serves it, implemented by {@code nas_pattern.adapters.Model}. The
 * bridge's side of {@link FoundModel}: images travel packed as bytes, in one call, not one float
 * at a time. User code calls {@link FoundModel#predict} and {@link FoundModel#readImages} instead.
 */
public interface ModelEngine {
    /**
     * Classifies {@code count} images given as little-endian float32 raw pixel values (0-255),
     * channel by channel, row by row; returns {@code count} little-endian int32 classes followed
     * by {@code count x numClasses()} float32 probabilities.
     */
    byte[] classify(byte[] pixels, int count);

    /**
     * Reads image files as this model's input, as {@code FoundModel.read_images} does in Python.
     * Texts travel as little-endian int32 counts of UTF-8 bytes, each before its bytes:
     * {@code paths} is the count of paths, then each path; the answer is the count N of files read
     * (a folder stands for its image files), then the N files, then each file's note of what was
     * done to it, then N x pixelsPerImage() bytes, each a raw pixel value 0-255, channel by channel,
     * row by row.
     */
    byte[] readImages(byte[] paths, boolean invert);

    /** Values per image: channels x height x width. */
    int pixelsPerImage();

    /** Classes the model tells apart. */
    int numClasses();

    /** What class {@code label} (0 to numClasses() - 1) means: "Ankle boot" for Fashion-MNIST's 9. */
    String className(int label);

    /** The model's network, architecture and how it was trained, in one line. */
    String describe();
}
