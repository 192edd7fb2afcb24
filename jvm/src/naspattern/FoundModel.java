package naspattern;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The model a search found (its best.pt), loaded in the engine: {@link #predict} classifies raw
 * images with the normalisation the child was trained with, and {@link #readImages} makes image
 * files into such images. Get one from {@link NASGateway#loadModel(String)}, e.g. with
 * {@link SearchResult#modelPath()}, and {@link #close} it when done (try-with-resources): the
 * engine holds its weights until then.
 */
public final class FoundModel implements AutoCloseable {
    private final ModelEngine engine;
    private final int pixels;
    private final int classes;
    private final List<String> names;
    private volatile boolean closed;

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
        refuseIfClosed();
        if (images == null) {
            throw new NASException("images must not be null");
        }
        boolean whole = true; // raw pixel values as image files hold them: a byte each crosses, not four
        for (int i = 0; i < images.length; i++) {
            if (images[i] == null || images[i].length != pixels) {
                throw new NASException("image " + i + " has " + (images[i] == null ? "no" : images[i].length)
                        + " values; this model takes " + pixels + " per image");
            }
            for (float value : images[i]) {
                whole &= value >= 0 && value <= 255 && value == Math.rint(value);
            }
        }
        ByteBuffer packed = ByteBuffer.allocate(images.length * pixels * (whole ? 1 : Float.BYTES))
                .order(ByteOrder.LITTLE_ENDIAN);
        for (float[] image : images) {
            for (float value : image) {
                if (whole) {
                    packed.put((byte) value);
                } else {
                    packed.putFloat(value);
                }
            }
        }
        String sent = Base64.getEncoder().encodeToString(packed.array());
        ByteBuffer answer = ByteBuffer.wrap(engine.classify(sent, images.length)).order(ByteOrder.LITTLE_ENDIAN);
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

    /**
     * Image files (PNG, JPEG, any format Pillow reads; a folder: the image files in it, in name
     * order) as this model's input, made as its dataset's images were: turned upright as their
     * EXIF orientation says, transparent parts taken as white, grey or RGB, and where their size
     * is not the input's, trimmed to the thing in them (Fashion-MNIST, MNIST) and scaled to fit.
     * {@code invert} negates them first: Fashion-MNIST and MNIST hold light things on a dark
     * ground, a photo is often the other way round. The paths are the engine's: relative ones
     * resolve against its working directory. NASException with one line, naming the file, for a
     * file that cannot be read as an image or a folder with none.
     */
    public ImageFiles readImages(List<String> paths, boolean invert) {
        refuseIfClosed();
        if (paths == null) {
            throw new NASException("paths must not be null");
        }
        for (int i = 0; i < paths.size(); i++) {
            if (paths.get(i) == null) {
                throw new NASException("path " + i + " is null");
            }
        }
        String sent = Base64.getEncoder().encodeToString(packed(paths));
        ByteBuffer answer = ByteBuffer.wrap(engine.readImages(sent, invert)).order(ByteOrder.LITTLE_ENDIAN);
        List<String> files = texts(answer);
        List<String> notes = texts(answer);
        float[][] images = new float[files.size()][pixels];
        for (float[] image : images) {
            for (int v = 0; v < pixels; v++) {
                image[v] = answer.get() & 0xFF;
            }
        }
        return new ImageFiles(files, images, notes);
    }

    /** {@link #readImages(List, boolean)} as they are, not negated. */
    public ImageFiles readImages(List<String> paths) {
        return readImages(paths, false);
    }

    /** Texts as the engine takes them: how many, then each one's UTF-8 bytes after their count (little-endian). */
    private static byte[] packed(List<String> texts) {
        List<byte[]> encoded = texts.stream().map(text -> text.getBytes(StandardCharsets.UTF_8)).toList();
        ByteBuffer packed = ByteBuffer.allocate(Integer.BYTES * (1 + texts.size())
                + encoded.stream().mapToInt(text -> text.length).sum()).order(ByteOrder.LITTLE_ENDIAN);
        packed.putInt(texts.size());
        for (byte[] text : encoded) {
            packed.putInt(text.length).put(text);
        }
        return packed.array();
    }

    /** The texts the engine packed as {@link #packed} does. */
    private static List<String> texts(ByteBuffer packed) {
        int count = packed.getInt();
        List<String> texts = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte[] text = new byte[packed.getInt()];
            packed.get(text);
            texts.add(new String(text, StandardCharsets.UTF_8));
        }
        return texts;
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

    /**
     * Lets go of the model in the engine now: its weights and module. py4j would let go of them only
     * once this JVM's garbage collector dropped the model, which a JVM with memory to spare may never
     * do, so a service that loads model after model would keep every one in the engine. After it,
     * {@link #predict} and {@link #readImages} are refused ({@link NASException.Reason#REFUSED});
     * {@link #numClasses} and {@link #classNames} still answer. Closing it again does nothing, nor
     * does closing it once its gateway is closed or its engine has exited (the model went with it).
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        engine.close();
    }

    private void refuseIfClosed() {
        if (closed) {
            throw new NASException("this FoundModel was closed: load it again with NASGateway.loadModel");
        }
    }

    @Override
    public String toString() {
        return engine.describe(); // "FoundModel (closed)" once the engine let go of it
    }
}
