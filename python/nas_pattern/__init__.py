"""nas_pattern: Neural Architecture Search with Reinforcement Learning, as a design pattern.

The participants, named as in the pattern's UML: NASController drives the search, RLAgent
samples architectures and learns from their rewards, Network (CNN, RNN) is the child; an
Executor (LocalExecutor, RayExecutor) runs the children of each policy update on Workers. With
weight sharing (SharingConfig), a Worker scores children with the SharedWeights of a Supernet
instead of training each from scratch.
"""

from nas_pattern.agents import (
    AGENTS,
    Agent,
    AgentConfig,
    EvolutionAgent,
    EvolutionConfig,
    Objective,
    PolicyNetwork,
    RandomAgent,
    RandomConfig,
    ReinforceConfig,
    RLAgent,
    Sample,
    TPEAgent,
    TPEConfig,
    make_agent,
)
from nas_pattern.controller import NASController
from nas_pattern.data import Dataset, Split, load_dataset
from nas_pattern.executor import Executor, LocalExecutor, RayExecutor
from nas_pattern.model import FoundModel, load_model
from nas_pattern.networks import CNN, CNN_SPACE, NETWORKS, RNN, RNN_SPACE, Metrics, Network, TorchNetwork, get_network
from nas_pattern.networks.supernet import CNNSupernet, RNNSupernet, Supernet
from nas_pattern.records import Episode, InvalidArchitecture, SearchConfig, SearchFailed, SearchResult
from nas_pattern.search_space import Architecture, Decision, SearchSpace
from nas_pattern.sharing import SharedWeights, SharingConfig
from nas_pattern.trainer import TrainConfig
from nas_pattern.worker import Worker

__all__ = [
    "AGENTS",
    "CNN",
    "CNN_SPACE",
    "NETWORKS",
    "RNN",
    "RNN_SPACE",
    "Agent",
    "AgentConfig",
    "Architecture",
    "CNNSupernet",
    "Dataset",
    "Decision",
    "Episode",
    "EvolutionAgent",
    "EvolutionConfig",
    "Executor",
    "FoundModel",
    "InvalidArchitecture",
    "LocalExecutor",
    "Metrics",
    "NASController",
    "Network",
    "Objective",
    "PolicyNetwork",
    "RLAgent",
    "RNNSupernet",
    "RandomAgent",
    "RandomConfig",
    "RayExecutor",
    "ReinforceConfig",
    "Sample",
    "SearchConfig",
    "SearchFailed",
    "SearchResult",
    "SearchSpace",
    "SharedWeights",
    "SharingConfig",
    "Split",
    "Supernet",
    "TPEAgent",
    "TPEConfig",
    "TorchNetwork",
    "TrainConfig",
    "Worker",
    "get_network",
    "load_dataset",
    "load_model",
    "make_agent",
]
