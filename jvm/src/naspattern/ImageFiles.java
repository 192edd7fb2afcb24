package naspattern;

import java.util.Arrays;
import java.util.List;

/**
 * Image files read as a found model's input ({@link FoundModel#readImages}): the pixels that
 * {@link FoundModel#predict} takes, and what was done to each file to make them. Two are equal
 * when their files, pixels and notes are (a record of arrays would compare the arrays' identities).
 *
 * @param files the files read, in the order given, a folder's image files in its place (in name order)
 * @param pixels each file's raw pixel values (0-255), channel by channel, row by row:
 *     {@code model.predict(images.pixels())} classifies them
 * @param notes what was done to each file ("trimmed to 218x280 at (96, 10); scaled from 218x280");
 *     empty where nothing was
 */
public record ImageFiles(List<String> files, float[][] pixels, List<String> notes) {
    /** The files and notes are copied, so the lists cannot change. */
    public ImageFiles {
        files = List.copyOf(files);
        notes = List.copyOf(notes);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof ImageFiles that && files.equals(that.files) && Arrays.deepEquals(pixels, that.pixels)
                && notes.equals(that.notes);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * files.hashCode() + Arrays.deepHashCode(pixels)) + notes.hashCode();
    }

    @Override
    public String toString() {
        return "ImageFiles(" + files.size() + " files, " + pixels.length + " x "
                + (pixels.length == 0 ? 0 : pixels[0].length) + " pixels)";
    }
}
