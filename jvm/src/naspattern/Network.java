package naspattern;

/** A child network (CNN or RNN), built and trained by PyTorch in the Python engine. */
public interface Network {
    /** The architecture this child was built from. */
    Architecture architecture();

    /** Trains the child for {@code epochs} more passes over the training split. */
    void train(int epochs);

    /** Metrics on the validation split. */
    Metrics evaluate();

    /** The layers of the built model, one readable line each. */
    String[] layers();
}
