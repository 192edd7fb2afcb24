"""Child networks: the Network interface, its CNN and RNN implementations, and the registry of them.

Each network owns its default search space (`CNN.default_space`), so the registry maps a name to a
class and, through it, to the space a search of that network explores by default.
"""

from nas_pattern.networks.base import Metrics, Network, NetworkFactory, TorchNetwork
from nas_pattern.networks.cnn import CNN, CNN_SPACE
from nas_pattern.networks.rnn import RNN, RNN_SPACE
from nas_pattern.search_space import SearchSpace

NETWORKS: dict[str, type[Network]] = {"cnn": CNN, "rnn": RNN}  # --network NAME


def get_network(name: str) -> type[Network]:
    """The network registered as `name`; ValueError naming the known ones otherwise."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; expected one of: {', '.join(sorted(NETWORKS))}")
    return NETWORKS[name]


def default_space(name: str) -> SearchSpace:
    """The search space the network registered as `name` explores by default."""
    space = get_network(name).default_space
    assert space is not None, f"registered network {name} has no default space"
    return space


__all__ = ["CNN", "CNN_SPACE", "NETWORKS", "RNN", "RNN_SPACE", "Metrics", "Network", "NetworkFactory",
           "TorchNetwork", "default_space", "get_network"]
