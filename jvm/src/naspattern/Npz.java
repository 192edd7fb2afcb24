package naspattern;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes images held on the JVM as the file a search of {@code "dataset": "npz"} reads
 * ({@code "data-dir"}: the file): the arrays {@code numpy.savez} would write, {@code train_images},
 * {@code train_labels}, {@code test_images}, {@code test_labels} and, where given,
 * {@code val_images} and {@code val_labels} (a validation split of one's own; else the engine holds
 * a fifth of the training images out) and {@code class_names}. The engine makes them its children's input as Python's
 * {@code Dataset.from_images} does, and a search of them is recorded and can be resumed, its model
 * retrained and tested from the file.
 */
public final class Npz {
    private Npz() {
    }

    /**
     * Writes {@code file} (replacing it whole, or leaving it as it was): images of {@code channels}
     * (1 or 3) x {@code height} x {@code width} raw pixel values, whole numbers 0-255, channel by
     * channel, row by row (as {@link FoundModel#predict} and {@link Idx#images} hold them); labels 0
     * to K - 1; {@code classNames} the name of each label, or empty (or null: the labels' numbers name
     * the classes). A NASException of one line names what is wrong with them before anything is written.
     *
     * @return {@code file}, for the config's {@code "data-dir"}
     */
    public static Path write(Path file, int channels, int height, int width, float[][] trainImages, int[] trainLabels,
                             float[][] testImages, int[] testLabels, List<String> classNames) {
        return write(file, channels, height, width, trainImages, trainLabels, null, null, testImages, testLabels,
                classNames);
    }

    /**
     * As {@link #write(Path, int, int, int, float[][], int[], float[][], int[], List)}, with a
     * validation split of one's own, {@code valImages} and {@code valLabels}, which the search scores
     * its children on (without it, a fifth of the training images, at most 5,000, are held out);
     * both null: none.
     *
     * @return {@code file}, for the config's {@code "data-dir"}
     */
    public static Path write(Path file, int channels, int height, int width, float[][] trainImages, int[] trainLabels,
                             float[][] valImages, int[] valLabels, float[][] testImages, int[] testLabels,
                             List<String> classNames) {
        if (channels != 1 && channels != 3 || height < 1 || width < 1
                || (long) height * width > Integer.MAX_VALUE / 3) {
            throw new NASException("images must be of 1 or 3 channels and 1x1 pixels or more (far fewer than 2^31), "
                    + "got " + channels + "x" + height + "x" + width + " (channels x height x width)");
        }
        List<String> names = classNames == null ? List.of() : classNames;
        for (int i = 0; i < names.size(); i++) { // not contains(null): List.of's lists refuse the question
            if (names.get(i) == null) {
                throw new NASException("classNames[" + i + "] is null; give each class a name");
            }
        }
        int pixels = channels * height * width;
        String shape = channels + "x" + height + "x" + width;
        byte[] train = pixels("trainImages", trainImages, pixels, shape);
        byte[] test = pixels("testImages", testImages, pixels, shape);
        check("trainLabels", trainLabels, trainImages.length, names.size());
        check("testLabels", testLabels, testImages.length, names.size());
        if ((valImages == null) != (valLabels == null)) {
            throw new NASException("give valImages with valLabels (the validation split), or neither");
        }
        byte[] val = valImages == null ? null : pixels("valImages", valImages, pixels, shape);
        if (val != null) {
            check("valLabels", valLabels, valImages.length, names.size());
        }
        Path partial = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(partial));
                 ZipOutputStream zip = new ZipOutputStream(out)) {
                long[] dims = {trainImages.length, channels, height, width};
                entry(zip, "train_images", "|u1", dims, train);
                entry(zip, "train_labels", "<i8", new long[] {trainLabels.length}, longs(trainLabels));
                dims[0] = testImages.length;
                entry(zip, "test_images", "|u1", dims, test);
                entry(zip, "test_labels", "<i8", new long[] {testLabels.length}, longs(testLabels));
                if (val != null) {
                    dims[0] = valImages.length;
                    entry(zip, "val_images", "|u1", dims, val);
                    entry(zip, "val_labels", "<i8", new long[] {valLabels.length}, longs(valLabels));
                }
                if (!names.isEmpty()) {
                    int longest = names.stream().mapToInt(name -> (int) name.codePoints().count()).max()
                            .orElse(1);
                    entry(zip, "class_names", "<U" + Math.max(1, longest), new long[] {names.size()},
                            strings(names, Math.max(1, longest)));
                }
            }
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException ignored) {
                // the first error is the one to tell
            }
            throw new NASException("cannot write " + file + ": " + (e instanceof NoSuchFileException
                    ? "no such folder " + file.toAbsolutePath().getParent() : e.getMessage()), e);
        }
        return file;
    }

    /** The images as one byte a pixel, after checking each holds {@code pixels} whole values 0-255. */
    private static byte[] pixels(String what, float[][] images, int pixels, String shape) {
        if (images == null || images.length == 0) {
            throw new NASException(what + " must hold at least one image");
        }
        if ((long) images.length * pixels > Integer.MAX_VALUE - 8) {
            throw new NASException(what + " hold " + images.length + " images of " + pixels + " pixels, more than one "
                    + "array of the JVM holds (2^31 bytes): write fewer");
        }
        byte[] bytes = new byte[images.length * pixels];
        for (int i = 0; i < images.length; i++) {
            if (images[i] == null || images[i].length != pixels) {
                throw new NASException(what + "[" + i + "] has " + (images[i] == null ? "no" : images[i].length)
                        + " values; an image of " + shape + " (channels x height x width) has " + pixels);
            }
            for (int p = 0; p < pixels; p++) {
                float value = images[i][p];
                if (!(value >= 0 && value <= 255) || value != Math.rint(value)) {
                    throw new NASException(what + "[" + i + "] holds " + value + ": images must be raw pixel values, "
                            + "whole numbers 0-255 (the engine normalises them)");
                }
                bytes[i * pixels + p] = (byte) (int) value;
            }
        }
        return bytes;
    }

    private static void check(String what, int[] labels, int images, int classes) {
        if (labels == null || labels.length != images) {
            throw new NASException(what + " must hold one label an image, " + images + "; got "
                    + (labels == null ? "none" : labels.length));
        }
        for (int label : labels) {
            if (label < 0 || classes > 0 && label >= classes) {
                throw new NASException(what + " holds " + label + ", not a class "
                        + (classes > 0 ? "of the " + classes + " classNames (0 to " + (classes - 1) + ")"
                                       : "(0 to K - 1)"));
            }
        }
    }

    private static byte[] longs(int[] values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int value : values) {
            buffer.putLong(value);
        }
        return buffer.array();
    }

    /** numpy's fixed-width unicode: each name as {@code width} code points of UTF-32, zero-padded. */
    private static byte[] strings(List<String> names, int width) {
        ByteBuffer buffer = ByteBuffer.allocate(names.size() * width * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (String name : names) {
            int[] points = name.codePoints().toArray();
            for (int c = 0; c < width; c++) {
                buffer.putInt(c < points.length ? points[c] : 0);
            }
        }
        return buffer.array();
    }

    /** One array as {@code name.npy} in the zip: numpy's format 1.0, a header padded to 64 bytes, then the data. */
    private static void entry(ZipOutputStream zip, String name, String type, long[] shape, byte[] data)
            throws IOException {
        String dims = Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", "));
        String dict = "{'descr': '" + type + "', 'fortran_order': False, 'shape': ("
                + dims + (shape.length == 1 ? "," : "") + "), }"; // a Python tuple: (N,) or (N, C, H, W)
        int padding = 63 - (10 + dict.length()) % 64; // the header ends with '\n' on a multiple of 64
        String header = dict + " ".repeat(padding) + "\n";
        zip.putNextEntry(new ZipEntry(name + ".npy"));
        DataOutputStream out = new DataOutputStream(zip);
        out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        out.writeShort(Short.reverseBytes((short) header.length()));
        out.write(header.getBytes(StandardCharsets.US_ASCII));
        out.write(data);
        out.flush();
        zip.closeEntry();
    }
}
