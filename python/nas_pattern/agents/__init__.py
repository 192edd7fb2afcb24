"""The agents: every search strategy behind the one `Agent` interface, and the registry of them by name.

The CLI (`--agent`), the JVM configs and the strategy study all build their agent here, so
"actor-critic" means the same thing everywhere.
"""

from collections.abc import Callable
from dataclasses import replace

from nas_pattern.agents.base import Agent, Sample, diversity
from nas_pattern.agents.config import (
    REWARDS,
    AgentConfig,
    Baseline,
    EvolutionConfig,
    Objective,
    RandomConfig,
    ReinforceConfig,
    TPEConfig,
)
from nas_pattern.agents.evolution import EvolutionAgent
from nas_pattern.agents.policy_network import PolicyNetwork, Rollout
from nas_pattern.agents.random_search import RandomAgent
from nas_pattern.agents.reinforce import RLAgent
from nas_pattern.agents.tpe import TPEAgent
from nas_pattern.search_space import SearchSpace


def _reinforce(baseline: Baseline) -> Callable[[SearchSpace, AgentConfig], Agent]:
    def make(space: SearchSpace, config: AgentConfig) -> Agent:
        return RLAgent(space, replace(config, reinforce=replace(config.reinforce, baseline=baseline)))
    return make


# name -> how to build that strategy's agent from one AgentConfig
AGENTS: dict[str, Callable[[SearchSpace, AgentConfig], Agent]] = {
    "reinforce": _reinforce("ema"),  # REINFORCE with its moving-average baseline: the pattern's agent
    "actor-critic": _reinforce("critic"),  # REINFORCE with a learned critic as the baseline
    "reinforce-no-baseline": _reinforce("none"),  # plain REINFORCE, for the study
    "random": RandomAgent,
    "evolution": EvolutionAgent,
    "tpe": TPEAgent,
}


def make_agent(name: str, space: SearchSpace, config: AgentConfig | None = None) -> Agent:
    """The agent registered as `name`; ValueError naming the known ones otherwise."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; expected one of: {', '.join(AGENTS)}")
    return AGENTS[name](space, config or AgentConfig())


__all__ = ["AGENTS", "REWARDS", "Agent", "AgentConfig", "EvolutionAgent", "EvolutionConfig", "Objective",
           "PolicyNetwork", "RLAgent", "RandomAgent", "RandomConfig", "ReinforceConfig", "Rollout", "Sample",
           "TPEAgent", "TPEConfig", "diversity", "make_agent"]
