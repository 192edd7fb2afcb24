"""RLAgent: samples architectures from its policy network and improves it with REINFORCE."""

from __future__ import annotations

import copy
import dataclasses
import math
import random
from dataclasses import dataclass
from typing import Any

import torch

from nas_pattern.agents.base import Agent, Sample
from nas_pattern.agents.config import AgentConfig
from nas_pattern.agents.policy_network import PolicyNetwork
from nas_pattern.networks.base import Metrics
from nas_pattern.search_space import Architecture, SearchSpace
from nas_pattern.trainer import generator, seeded

REDRAWS = 64  # draws per try of policy() for an architecture not drawn before


class RLAgent(Agent):
    """REINFORCE (Williams, 1992) over the policy network's decisions, with a baseline (`config.reinforce`)."""

    def __init__(self, space: SearchSpace, config: AgentConfig | None = None):
        super().__init__(space, config)
        self.settings = self.config.reinforce
        with seeded(self.config.seed):
            self.policy_network = PolicyNetwork(space.num_choices, self.settings.hidden_size,
                                                critic=self.settings.baseline == "critic",
                                                temperature=self.settings.temperature)
        self.optimizer = torch.optim.Adam(self.policy_network.parameters(), lr=self.settings.learning_rate)
        self.generator = generator(self.config.seed)
        self.baseline: float | None = None  # moving average of the score; None until the first reward
        self.rewarded: list[Rewarded] = []  # the samples rewarded since the last update, in reward order
        self.heat: float | None = None  # the heat the last policy() took to draw a new one (None: none)
        self.updates = 0
        # The latest `replay` samples learned from (settings.replay), for the next updates to learn
        # from again: (actions, score, log pi(actions) under the policy they were drawn from)
        self.history: list[tuple[list[int], float, float]] = []

    # --8<-- [start:policy]
    def policy(self) -> Sample:
        """A draw from the policy. With `without_replacement`, one this agent has not drawn before:
        the first of up to REDRAWS draws that is new, then the same at twice the temperature, four
        times, ... (once the whole space has been drawn, any draw). A converged policy so goes on
        to its most probable unseen neighbours while the search has budget, and each child of an
        update is a different one. The update treats the draw as a sample of the policy restricted
        to the unseen architectures (Kool et al., 2020, sample without replacement for the same
        reason): every restricted distribution renormalises by the same mass, so with the baseline
        the update keeps its direction."""
        actions, self.heat = self._unseen(self.generator)
        return self.give(actions)  # and marks it drawn

    def _unseen(self, generator: torch.Generator, heat: float | None = None) -> tuple[list[int], float | None]:
        """One draw from the policy with `generator`, as policy() says, and the heat it took (None:
        the plain draw). Given a `heat`, the redraws begin there, without the plain draw."""
        searching = self.settings.without_replacement and len(self.drawn) < self.space.size
        with torch.no_grad():
            if heat is None or not searching:
                actions = self.policy_network(1, generator=generator, epsilon=self.settings.epsilon).actions[0].tolist()
                if not searching or self.space.decode(actions) not in self.drawn:
                    return actions, None
                heat = 1.0
            while True:
                rollout = self.policy_network(REDRAWS, generator=generator, epsilon=self.settings.epsilon, heat=heat)
                for candidate in rollout.actions.tolist():
                    if self.space.decode(candidate) not in self.drawn:
                        return candidate, heat
                heat *= 2

    # --8<-- [end:policy]

    def draw(self, rng: random.Random) -> Architecture:
        """A draw for the shared weights from what policy() draws the children from (ENAS trains
        them on the controller's own samples): with `without_replacement`, the policy restricted to
        the architectures not drawn yet. So the supernet learns the paths the next children take,
        also once a converged policy has drawn every architecture it favours and goes on beyond
        them (with the policy's own draws it went on training those, and scored the children on
        paths it never trained). At the heat the last child took: once a converged policy's
        favourites are drawn, the redraws at lower heats find nothing new, for these draws as for
        the children (14 ms a draw from the heat of 1, 2 to 5 from the child's, on the CPU). With a
        generator seeded from `rng`, so policy() is unaffected; nothing is marked drawn."""
        actions, _ = self._unseen(torch.Generator().manual_seed(rng.getrandbits(63)), self.heat)
        return self.space.decode(actions)

    # --8<-- [start:rl_reward]
    def reward(self, sample: Sample, metrics: Metrics) -> float:
        score = self.take(sample, metrics)  # the accuracy (size-weighted if asked); ValueError if not open
        if self.settings.baseline != "none" and self.baseline is None:
            self.baseline = score  # the first reward starts the average: its advantage is 0 (with ema)
        # the critic's values are corrections to the average: they start on the reward's scale
        offset = self.baseline if self.settings.baseline == "critic" and self.baseline is not None else 0.0
        advantage = _clip(score - self.value_function(), self.settings.reward_clip)
        self.rewarded.append(Rewarded(list(sample.actions), score, advantage, offset))
        if self.baseline is not None:
            decay = self.settings.baseline_decay
            self.baseline = decay * self.baseline + (1 - decay) * score
        return advantage

    def value_function(self) -> float:
        average = math.nan if self.baseline is None else self.baseline  # NaN: no estimate yet
        if self.settings.baseline == "critic":
            any_actions = torch.zeros(1, len(self.space.num_choices), dtype=torch.long)
            with torch.no_grad():
                values = self.policy_network(1, actions=any_actions).values
            assert values is not None
            # the average plus the critic's correction before the first decision, which no action
            # has influenced yet
            return average + float(values[0, 0])
        if self.settings.baseline == "ema":
            return average
        return 0.0

    # --8<-- [end:rl_reward]
    # --8<-- [start:update_policy]
    def update_policy(self) -> dict[str, float]:
        """One REINFORCE step:  loss = -mean_b[ w_b * sum_t log pi(a_bt) * A_bt ] - beta * H + c * critic error
        - mean_r[ rho_r * log pi(a_r) * (R_r - b) ]: the last term replays the samples of earlier updates
        (settings.replay), each weighted by rho_r = min(1, pi(a_r) / pi_then(a_r)), see _replay_loss."""
        self.close()  # samples drawn before this step and not rewarded cannot be rewarded after it
        batch = self.rewarded
        if not batch:
            return {}
        actions = torch.tensor([s.actions for s in batch])  # (B, T)
        score = torch.tensor([s.score for s in batch]).unsqueeze(1)  # (B, 1): the reward, at the end
        rollout = self.policy_network(len(batch), actions=actions, epsilon=self.settings.epsilon)
        loss = torch.zeros(())
        if rollout.values is not None:  # actor-critic: a baseline per decision, V(choices so far)
            # V = the moving average when the sample was rewarded + the critic's correction
            values = torch.tensor([s.offset for s in batch]).unsqueeze(1) + rollout.values  # (B, T)
            advantage = (score - values).detach()  # (B, T)
            if self.settings.reward_clip is not None:
                advantage = advantage.clamp(-self.settings.reward_clip, self.settings.reward_clip)
            loss = loss + self.settings.critic_weight * (score - values).pow(2).mean()
        else:  # the advantage reward() computed against the baseline of its time
            advantage = torch.tensor([s.advantage for s in batch]).unsqueeze(1)  # (B, 1)
        # Exploration draws actions from mu = (1 - eps) * pi + eps * uniform, not from pi. The
        # REINFORCE estimate is unbiased only for actions drawn from pi, so each sample is
        # weighted by pi(a) / mu(a) (importance sampling); with eps = 0 the weight is 1.
        weight = (rollout.log_probs.sum(1) - rollout.behaviour_log_probs.sum(1)).exp().detach()  # (B,)
        policy_loss = -(weight * (rollout.log_probs * advantage).sum(1)).mean()
        entropy = rollout.entropies.sum(1).mean()
        loss = loss + policy_loss - self.settings.entropy_weight * entropy + self._replay_loss()
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy_network.parameters(), self.settings.grad_clip)
        self.optimizer.step()
        if self.settings.replay:  # the batch joins the history, with the probability it was drawn with
            then = rollout.log_probs.detach().sum(1).tolist()
            self.history = (self.history + [(s.actions, s.score, t) for s, t in zip(batch, then, strict=True)]
                            )[-self.settings.replay:]
        self.rewarded = []
        self.updates += 1
        return {"loss": float(loss.detach()), "entropy": _normalised_entropy(rollout.entropies, self.space),
                "mean_score": float(score.mean())}

    # --8<-- [end:update_policy]
    # --8<-- [start:replay]
    def _replay_loss(self) -> torch.Tensor:
        """The update's term for the samples of earlier updates (zero with replay off): each sample's
        advantage against today's baseline, importance-weighted by how much likelier the policy was to
        draw it then than now, truncated at 1 (Espeholt et al., 2018, truncate the same way), so a
        sample the policy has moved away from counts less and none counts more than a fresh one."""
        if not (self.settings.replay and self.history):
            return torch.zeros(())
        actions = torch.tensor([a for a, _, _ in self.history])  # (R, T)
        now = self.policy_network(len(actions), actions=actions, epsilon=self.settings.epsilon).log_probs.sum(1)
        then = torch.tensor([t for _, _, t in self.history])  # (R,) log pi(a) when it was drawn
        weight = (now.detach() - then).exp().clamp(max=1.0)  # rho = min(1, pi_now / pi_then)
        baseline = self.baseline if self.settings.baseline != "none" and self.baseline is not None else 0.0
        advantage = torch.tensor([_clip(score - baseline, self.settings.reward_clip) for _, score, _ in self.history])
        return -(weight * now * advantage).mean()

    # --8<-- [end:replay]
    def probability(self, architecture: Architecture) -> float:
        # Summed over every way of sampling it; the steps after an encoding's used ones do not matter
        # (they come last, so they sum out to 1) and are left out of its product.
        encodings = self.space.encodings(architecture)
        steps = len(self.space.num_choices)
        actions = torch.tensor([e + [0] * (steps - len(e)) for e in encodings])  # (B, T)
        with torch.no_grad():
            log_probs = self.policy_network(len(encodings), actions=actions).log_probs  # (B, T)
        return sum(float(log_probs[b, :len(e)].sum().exp()) for b, e in enumerate(encodings))

    def choice_probabilities(self, draws: int = 256) -> list[list[float]]:
        """Each decision's choice probabilities, averaged over `draws` architectures drawn from the
        policy (an LSTM's choice depends on the ones before it: this is its marginal). The draws use
        their own fixed generator, so asking changes neither what policy() draws next nor the answer
        to the same question about the same policy."""
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            rollout = self.policy_network(draws, generator=generator)
        return [d.mean(0).tolist() for d in rollout.distributions]

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy({
            "policy_network": self.policy_network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "baseline": self.baseline,
            "pending": [dataclasses.asdict(s) for s in self.rewarded],  # (its name from before the handles)
            "updates": self.updates,
            "heat": self.heat,
            "history": [[actions, score, then] for actions, score, then in self.history],
            **self.samples_state(),
        })

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # Checkpoints written before the policy network had its own name called it "controller".
        self.policy_network.load_state_dict(state["policy_network" if "policy_network" in state else "controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.baseline = state["baseline"]
        # Checkpoints written before the size-aware reward called the score "accuracy"; before the
        # handles, "pending" also held samples not rewarded yet (score None): open samples now.
        pending = [{"score" if k == "accuracy" else k: v for k, v in s.items()} for s in state["pending"]]
        self.rewarded = [Rewarded(**s) for s in pending if s["score"] is not None]
        self.load_samples_state(state)
        for s in pending:
            if s["score"] is None:
                self.give(s["actions"])
        self.updates = state["updates"]
        # Checkpoints written before replay kept no history.
        self.history = [(list(actions), float(score), float(then)) for actions, score, then in state.get("history", [])]
        self.heat = state.get("heat")  # (checkpoints from before it: the next policy() sets it)


@dataclass
class Rewarded:
    """A sample the RLAgent was rewarded for, waiting for the next update."""

    actions: list[int]  # choice indices, one per decision
    score: float  # config.objective(metrics)
    advantage: float = 0.0  # the score minus the baseline when it was rewarded (clipped)
    offset: float = 0.0  # actor-critic: the moving average the critic's values were added to


def _clip(advantage: float, limit: float | None) -> float:
    return advantage if limit is None else max(-limit, min(limit, advantage))


def _normalised_entropy(entropies: torch.Tensor, space: SearchSpace) -> float:
    """Mean over decisions of entropy / log(choices): 1 = uniform, 0 = deterministic."""
    scale = torch.tensor([math.log(n) if n > 1 else 1.0 for n in space.num_choices])  # (T,)
    return float((entropies.detach() / scale).mean())
