"""PolicyNetwork: the LSTM that writes an architecture one decision at a time (Zoph & Le, 2017).

The papers call it "the controller"; here that name belongs to NASController, so the RLAgent's
network is named for what it is, the policy.

At each step it emits a categorical distribution over that decision's choices; the choice
taken is embedded and fed back as the next step's input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Rollout:
    """One pass of the policy network over B architectures of T decisions."""

    actions: torch.Tensor  # (B, T) choice index taken at each step
    log_probs: torch.Tensor  # (B, T) log pi(action) under the policy
    behaviour_log_probs: torch.Tensor  # (B, T) log of the probability the action was actually drawn with
    entropies: torch.Tensor  # (B, T) entropy of each step's distribution
    values: torch.Tensor | None  # (B, T) critic's estimate of the reward before each decision
    distributions: tuple[torch.Tensor, ...] = ()  # per step t, (B, n_t): every choice's probability there


class PolicyNetwork(nn.Module):
    """An LSTM cell unrolled over the decisions, with one softmax head per decision."""

    def __init__(self, num_choices: list[int], hidden_size: int = 64, critic: bool = False,
                 temperature: float = 1.0):
        super().__init__()
        self.num_choices = list(num_choices)
        self.temperature = temperature  # the heads' logits are divided by it: > 1 flattens the policy
        self.start = nn.Parameter(torch.zeros(1, hidden_size))  # input of step 0
        self.cell = nn.LSTMCell(hidden_size, hidden_size)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, n) for n in self.num_choices)
        self.embeddings = nn.ModuleList(nn.Embedding(n, hidden_size) for n in self.num_choices)
        self.critic = nn.Linear(hidden_size, 1) if critic else None
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)  # near-uniform policy at the start

    def forward(self, batch_size: int, actions: torch.Tensor | None = None,
                generator: torch.Generator | None = None, epsilon: float = 0.0, heat: float = 1.0) -> Rollout:
        """Sample `batch_size` architectures, or score the given `actions` (B, T) (teacher forcing).

        With epsilon > 0, each decision is drawn uniformly with probability epsilon instead of
        from the policy; `behaviour_log_probs` records the mixture's probability of the action.
        `heat` > 1 multiplies the temperature for this pass only (the RLAgent's redraws).
        """
        hidden_size = self.start.shape[1]
        inputs = self.start.expand(batch_size, hidden_size)  # (B, hidden)
        h = torch.zeros(batch_size, hidden_size)
        c = torch.zeros(batch_size, hidden_size)
        taken, log_probs, behaviour, entropies, values, distributions = [], [], [], [], [], []
        # --8<-- [start:sampling]
        for t, n in enumerate(self.num_choices):
            h, c = self.cell(inputs, (h, c))  # (B, hidden) each
            if self.critic is not None:
                values.append(self.critic(h).squeeze(1))  # (B,)
            # log pi over the n choices, (B, n): a categorical distribution, computed as
            # torch.distributions.Categorical does, without its per-call checks (it is the hot loop)
            logits = self.heads[t](h) / (self.temperature * heat)
            logits = logits - logits.logsumexp(dim=-1, keepdim=True)
            probs = torch.softmax(logits, dim=-1)
            distributions.append(probs)
            if actions is not None:
                action = actions[:, t]
            else:
                # (B,) sampled, never argmax
                action = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                if epsilon > 0:
                    explore = torch.rand(batch_size, generator=generator) < epsilon
                    uniform = torch.randint(n, (batch_size,), generator=generator)
                    action = torch.where(explore, uniform, action)
            log_prob = logits.gather(1, action.unsqueeze(1)).squeeze(1)  # (B,)
            taken.append(action)
            log_probs.append(log_prob)
            if epsilon > 0:  # log((1 - eps) * pi(a) + eps / n), without underflow for tiny pi(a)
                behaviour.append(torch.logaddexp(log_prob + math.log1p(-epsilon),
                                                 torch.full_like(log_prob, math.log(epsilon / n))))
            else:
                behaviour.append(log_prob)
            entropies.append(-(logits.clamp(min=torch.finfo(logits.dtype).min) * probs).sum(-1))
            inputs = self.embeddings[t](action)  # the choice made is the next step's input
        # --8<-- [end:sampling]
        return Rollout(
            actions=torch.stack(taken, dim=1),
            log_probs=torch.stack(log_probs, dim=1),
            behaviour_log_probs=torch.stack(behaviour, dim=1),
            entropies=torch.stack(entropies, dim=1),
            values=torch.stack(values, dim=1) if values else None,
            distributions=tuple(distributions),
        )
