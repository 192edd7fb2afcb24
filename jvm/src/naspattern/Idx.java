package naspattern;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** Reads images and labels from IDX files (MNIST, Fashion-MNIST; .gz or not): test images to classify, say. */
public final class Idx {
    /** Where Debian's dataset-fashion-mnist puts the files. */
    public static final String FASHION_MNIST = "/usr/share/datasets/fashion-mnist";

    private Idx() {
    }

    /** The first {@code count} images of an idx3 file, each as raw pixel values (0-255), row by row. */
    public static float[][] images(Path file, int count) {
        try (DataInputStream in = open(file, 0x0803)) {
            int total = in.readInt();
            int size = in.readInt() * in.readInt();
            float[][] images = new float[Math.min(count, total)][size];
            for (float[] image : images) {
                for (int p = 0; p < size; p++) {
                    image[p] = in.readUnsignedByte();
                }
            }
            return images;
        } catch (IOException e) {
            throw new NASException("cannot read images from " + file + ": " + e.getMessage(), e);
        }
    }

    /** The first {@code count} labels of an idx1 file. */
    public static int[] labels(Path file, int count) {
        try (DataInputStream in = open(file, 0x0801)) {
            int[] labels = new int[Math.min(count, in.readInt())];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = in.readUnsignedByte();
            }
            return labels;
        } catch (IOException e) {
            throw new NASException("cannot read labels from " + file + ": " + e.getMessage(), e);
        }
    }

    private static DataInputStream open(Path file, int magic) throws IOException {
        InputStream raw = Files.newInputStream(file);
        DataInputStream in = new DataInputStream(file.toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw);
        int found = in.readInt();
        if (found != magic) {
            in.close();
            throw new IOException(String.format("not an IDX file of this kind (magic 0x%08x, expected 0x%08x)",
                    found, magic));
        }
        return in;
    }
}
