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
        self.told: list[float] = []

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
        self.study.tell(self.pending.popleft(), score)
        self.told.append(score)
        return score

    def value_function(self) -> float:
        return sum(self.told) / len(self.told) if self.told else math.nan

    def update_policy(self) -> dict[str, float]:
        recent = [list(t.params.values()) for t in self.study.get_trials(deepcopy=False)[-DIVERSITY_WINDOW:]
                  if t.state.is_finished()]
        return {"entropy": diversity(self.space, recent)}

    def state_dict(self) -> dict[str, Any]:
        return {"study": pickle.dumps(self.study), "pending": [t.number for t in self.pending],
                "told": list(self.told)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.study = pickle.loads(state["study"])
        trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
        self.pending = deque(self._optuna.trial.Trial(self.study, trials[n]._trial_id) for n in state["pending"])
        self.told = list(state["told"])
