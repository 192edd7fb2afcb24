"""nas_pattern: Neural Architecture Search with Reinforcement Learning, as a design pattern.

The participants, named as in the pattern's UML: NASController drives the search, RLAgent
samples architectures and learns from their rewards, Network (CNN, RNN) is the child; an
Executor (LocalExecutor, RayExecutor) runs the children of each policy update on Workers.
"""

from nas_pattern.agent import Agent, AgentConfig, EvolutionAgent, RandomAgent, RLAgent, TPEAgent
from nas_pattern.controller import Episode, NASController, SearchConfig, SearchResult
from nas_pattern.data import Dataset, Split, load_dataset
from nas_pattern.executor import Executor, InvalidArchitecture, LocalExecutor, RayExecutor, Worker
from nas_pattern.networks import CNN, NETWORKS, RNN, Metrics, Network, TorchNetwork
from nas_pattern.search_space import CNN_SPACE, RNN_SPACE, Architecture, Decision, SearchSpace
from nas_pattern.trainer import TrainConfig

__all__ = [
    "CNN",
    "CNN_SPACE",
    "NETWORKS",
    "RNN",
    "RNN_SPACE",
    "Agent",
    "AgentConfig",
    "Architecture",
    "Dataset",
    "Decision",
    "Episode",
    "EvolutionAgent",
    "Executor",
    "InvalidArchitecture",
    "LocalExecutor",
    "Metrics",
    "NASController",
    "Network",
    "RLAgent",
    "RandomAgent",
    "RayExecutor",
    "SearchConfig",
    "SearchResult",
    "SearchSpace",
    "Split",
    "TPEAgent",
    "TorchNetwork",
    "TrainConfig",
    "Worker",
    "load_dataset",
]
