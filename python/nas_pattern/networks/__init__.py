"""Child networks: the Network interface and its CNN and RNN implementations."""

from nas_pattern.networks.base import Metrics, Network, TorchNetwork
from nas_pattern.networks.cnn import CNN
from nas_pattern.networks.rnn import RNN

NETWORKS: dict[str, type[Network]] = {"cnn": CNN, "rnn": RNN}

__all__ = ["CNN", "NETWORKS", "RNN", "Metrics", "Network", "TorchNetwork"]
