package naspattern;

/**
 * A child architecture sampled by the Python agent: its JSON form (as the engine writes it in
 * episodes.jsonl: {@code {"layers": [...]}}) and its one-line description (such as
 * {@code conv 5x32 pool2 drop0.25 | conv 3x64 pool1 drop0.0}). Two are equal when their JSON is.
 */
public record Architecture(String json, String describe) {
    @Override
    public String toString() {
        return describe;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Architecture that && that.json.equals(json);
    }

    @Override
    public int hashCode() {
        return json.hashCode();
    }
}
