"""TPEAgent: Optuna's Tree-structured Parzen Estimator, asked and told one architecture at a time."""

from __future__ import annotations

import math
import pickle
from collections import deque
from typing import Any

from nas_pattern.agents.base import NO_SAMPLE, Agent, diversity
from nas_pattern.agents.config import AgentConfig
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace

DIVERSITY_WINDOW = 20  # the latest trials whose diversity update_policy() reports


class TPEAgent(Agent):
    """Optuna's Tree-structured Parzen Estimator driving the search through ask/tell: one trial
    per architecture, one categorical parameter per decision (its choice index). Needs the
    optional dependency optuna (`pip install 'nas-pattern[bench]'`)."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        try:
            import optuna
        except ImportError:
            raise ValueError("the tpe agent needs optuna: pip install optuna (or 'nas-pattern[bench]')") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.study = optuna.create_study(direction="maximize",
                                         sampler=optuna.samplers.TPESampler(seed=self.config.seed))
        self.pending: deque[Any] = deque()  # asked trials, waiting for their rewards, in order
        self.told: list[tuple[list[int], float]] = []  # every trial told: its choice indices and score

    def policy(self) -> Architecture:
        trial = self.study.ask()
        actions = [trial.suggest_categorical(name, list(range(n)))
                   for name, n in zip(self.space.step_names, self.space.num_choices, strict=True)]
        self.pending.append(trial)
        return self.space.decode(actions)

    def reward(self, metrics: Metrics) -> float:
        if not self.pending:
            raise RuntimeError(NO_SAMPLE)
        score = self.config.objective(metrics)
        trial = self.pending.popleft()
        self.study.tell(trial, score)
        self.told.append((list(trial.params.values()), score))
        return score

    def value_function(self) -> float:
        return sum(score for _, score in self.told) / len(self.told) if self.told else math.nan

    def update_policy(self) -> dict[str, float]:
        return {"entropy": diversity(self.space, [actions for actions, _ in self.told[-DIVERSITY_WINDOW:]])}

    def state_dict(self) -> dict[str, Any]:
        # The controller takes this before every round, so it is small: the trials told (the study
        # is rebuilt from them), the ones asked and waiting, and the sampler with its random state.
        # Pickling the whole study instead cost a search time quadratic in its trials.
        return {"told": list(self.told), "pending": [list(t.params.values()) for t in self.pending],
                "sampler": pickle.dumps(self.study.sampler)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "study" in state:  # a checkpoint from before the study was rebuilt from its trials
            self.study = pickle.loads(state["study"])
            trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
            self.pending = deque(self._optuna.trial.Trial(self.study, trials[n]._trial_id)
                                 for n in state["pending"])
            self.told = [(list(t.params.values()), float(t.value or 0.0)) for t in self.study.get_trials(deepcopy=False)
                         if t.state == self._optuna.trial.TrialState.COMPLETE]
            return
        optuna = self._optuna
        distributions = {name: optuna.distributions.CategoricalDistribution(list(range(n)))
                         for name, n in zip(self.space.step_names, self.space.num_choices, strict=True)}
        study = optuna.create_study(direction="maximize")
        study.add_trials(optuna.trial.create_trial(params=dict(zip(distributions, actions, strict=True)),
                                                   distributions=distributions, value=score)
                         for actions, score in state["told"])
        self.pending = deque()
        for actions in state["pending"]:  # asked again with the same choices, waiting for their rewards
            study.enqueue_trial(dict(zip(distributions, actions, strict=True)))
            trial = study.ask()
            for name, n in zip(self.space.step_names, self.space.num_choices, strict=True):
                trial.suggest_categorical(name, list(range(n)))
            self.pending.append(trial)
        study.sampler = pickle.loads(state["sampler"])  # its random state as it was, untouched by the asks above
        self.study = study
        self.told = [(list(actions), float(score)) for actions, score in state["told"]]
