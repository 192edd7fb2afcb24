"""Weight sharing in Python: children scored with one supernet's weights, then the best trained from scratch.

Run it: python docs/examples/sharing.py [episodes]   (the docs include its marked region; CI runs it)
"""

from __future__ import annotations

import sys

# --8<-- [start:sharing]
from nas_pattern import CNN, CNN_SPACE, AgentConfig, NASController, RLAgent, SearchConfig, SharingConfig, load_dataset

data = load_dataset("fashion-mnist")
agent = RLAgent(CNN_SPACE, AgentConfig(children_per_update=4, seed=0))  # the same agent as without sharing
sharing = SharingConfig(steps=10, val_images=200, derive=2)  # per round 10 minibatches; each child on 200 images
controller = NASController(agent, data, network=CNN,
                           config=SearchConfig(episodes=4 * int(sys.argv[1]) if len(sys.argv) > 1 else 40,
                                               train_limit=500, sharing=sharing))
result = controller.search()  # each child scored with its slice of the shared weights: no training
for episode in result.episodes[-4:]:
    print(f"{episode.architecture.describe()}: {episode.evaluation} val {episode.accuracy:.4f}")
result = controller.derive(result)  # the best 2 by shared score, trained from scratch; the best of them
result = controller.final_test(result)  # its test accuracy, with the weights the derivation trained
print(f"best {result.best.architecture.describe()}: {result.best.evaluation} val {result.best.accuracy:.4f}, "
      f"test {result.test.accuracy:.4f}")
# --8<-- [end:sharing]
