package naspattern;

/**
 * A child network (CNN or RNN), built and trained by PyTorch in the Python engine: the one
 * {@code trainNetwork} trained. It is read, not trained further: the controller records each child
 * as {@code evaluateNetwork} evaluated it (to train the one found longer, {@code python -m nas_pattern.train}).
 */
public interface Network {
    /** The architecture this child was built from. */
    Architecture architecture();

    /** Metrics on the validation split. */
    Metrics evaluate();

    /** The layers of the built model, one readable line each. */
    String[] layers();
}
