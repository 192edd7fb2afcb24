package naspattern;

/** A child architecture sampled by the Python agent: its JSON form and its one-line description. */
public final class Architecture {
    private final String json;
    private final String description;

    public Architecture(String json, String description) {
        this.json = json;
        this.description = description;
    }

    /** The architecture as the engine writes it in episodes.jsonl, e.g. {"layers": [...]}. */
    public String json() {
        return json;
    }

    /** One readable line, e.g. {@code conv 5x32 pool2 drop0.25 | conv 3x64 pool1 drop0.0}. */
    public String describe() {
        return description;
    }

    @Override
    public String toString() {
        return description;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Architecture && ((Architecture) other).json.equals(json);
    }

    @Override
    public int hashCode() {
        return json.hashCode();
    }
}
