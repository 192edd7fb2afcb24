package naspattern;

/**
 * A saved model as the engine serves it, implemented by {@code nas_pattern.adapters.Model}. The
 * bridge's side of {@link FoundModel}: images travel packed as bytes, in one call, not one float
 * at a time. The bytes the JVM sends go as base64 text, which the engine decodes at C speed: py4j
 * decodes a {@code byte[]} argument a byte at a time in Python (1.4 s for the 31 MB of 10,000
 * Fashion-MNIST images as float32, 0.1 s as text). User code calls {@link FoundModel#predict} and
 * {@link FoundModel#readImages} instead.
 */
public interface ModelEngine {
    /**
     * Classifies {@code count} images given as raw pixel values (0-255), channel by channel, row
     * by row, in base64: a byte each where all are whole numbers, else little-endian float32 (the
     * engine tells which by the length); returns {@code count} little-endian int32 classes followed
     * by {@code count x numClasses()} float32 probabilities.
     */
    byte[] classify(String pixels, int count);

    /**
     * Reads image files as this model's input, as {@code FoundModel.read_images} does in Python.
     * A list of texts travels as its length, then each text's UTF-8 bytes after their count, all
     * counts little-endian int32. {@code paths} is such a list, in base64; the answer is the N files read (a
     * folder stands for its image files), then each one's note of what was done to it, each a
     * list, then N x pixelsPerImage() bytes, each a raw pixel value 0-255, channel by channel, row
     * by row.
     */
    byte[] readImages(String paths, boolean invert);

    /** Values per image: channels x height x width. */
    int pixelsPerImage();

    /** Classes the model tells apart. */
    int numClasses();

    /** What class {@code label} (0 to numClasses() - 1) means: "Ankle boot" for Fashion-MNIST's 9. */
    String className(int label);

    /** The model's network, architecture and how it was trained, in one line. */
    String describe();

    /** Lets go of the model in the engine ({@link FoundModel#close}); the calls after it are refused. */
    void close();
}
