"""The pattern in Python: one episode by hand, step by step as in the sequence diagram, then the loop.

Run it: python docs/examples/search.py [episodes] [model folder]   (the docs include its marked regions; CI runs it)
"""

from __future__ import annotations

import sys
import time

# --8<-- [start:setup]
from nas_pattern import CNN, CNN_SPACE, AgentConfig, NASController, RLAgent, SearchConfig, load_dataset, load_model
from nas_pattern.data import FASHION_MNIST_DIR, read_idx

data = load_dataset("fashion-mnist")  # train / validation / test splits, read from Debian's IDX files
agent = RLAgent(CNN_SPACE, AgentConfig(children_per_update=2, seed=0))  # the LSTM policy and REINFORCE
controller = NASController(agent, data, network=CNN,  # composition: the controller *has* an agent
                           config=SearchConfig(episodes=int(sys.argv[1]) if len(sys.argv) > 1 else 4,
                                               train_limit=500))
# --8<-- [end:setup]

# --8<-- [start:episode]
for _ in range(agent.config.children_per_update):
    architecture = controller.generate_architecture()  # agent.policy() samples it (never the argmax)
    network = controller.train_network(architecture)  # build() and train() the child on the training split
    metrics = controller.evaluate_network()  # validation accuracy; the controller calls agent.reward(sample, metrics)
    episode = controller.history[-1]  # recorded as search() records its children
    print(f"{architecture.describe()}: val {metrics.accuracy:.4f}, baseline {episode.baseline:.4f} "
          f"(agent.value_function()), reward {episode.reward:+.4f}")
print("update_policy():", controller.history[-1].update)  # the controller's REINFORCE step after m children
# --8<-- [end:episode]

# --8<-- [start:loop]
controller.add_callback(lambda e: print(f"[{e.episode}] {e.architecture.describe()}  val {e.accuracy:.4f}"))
result = controller.final_test(controller.search())  # the test split, once, for the best architecture
print("best:", result.best.architecture.describe(), f"val {result.best.accuracy:.4f} test {result.test.accuracy:.4f}")
# --8<-- [end:loop]

# --8<-- [start:model]
# The search's product: the best model, saved as a run directory keeps it (best.pt, best.onnx), loaded, used.
folder = sys.argv[2] if len(sys.argv) > 2 else f"runs/python-example-{time.time_ns() // 1_000_000}"
path = controller.save_model(folder, result)  # best.pt, and best.onnx beside it
model = load_model(path)
images = read_idx(FASHION_MNIST_DIR, "t10k-images-idx3-ubyte")[:5]  # raw pixels, as the dataset files hold them
labels = read_idx(FASHION_MNIST_DIR, "t10k-labels-idx1-ubyte")[:5]
classes, probabilities = model.predict(images)
print("Model", path)
for i, (predicted, label) in enumerate(zip(classes.tolist(), labels.tolist(), strict=True)):
    print(f"  test image {i}: {model.class_names[predicted]} (p = {probabilities[i, predicted]:.2f}), "
          f"label {model.class_names[label]}")
# --8<-- [end:model]
