"""vae_lib.inference.gibbs_sampler started at given codes (z_start), so that every
sampler can start from the same point; and vae_lib.plots.plot_traces, the figure of a
sampler's score against iterations.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from vae_lib.corrupt import hide
from vae_lib.inference import Chain, gibbs_sampler
from vae_lib.plots import plot_traces

ONE_STEP = Chain(num_samples=1, burn_in=0, thin=1)


@pytest.fixture
def batch(make_vae, gen, mask):
    model = make_vae()
    y = torch.rand(12, 1, 8, 8, generator=gen(3))
    mask = mask[:1].expand(12, -1, -1, -1).clone()
    z_start = torch.randn(12, 3, generator=gen(4))
    return model, hide(y, mask), mask, z_start


def test_mwg_one_step_keeps_the_start_exactly_when_it_rejects(batch, gen):
    # after one step, a chain that rejected holds z_start bit for bit; one that
    # accepted holds the proposal, which is not z_start
    model, y, mask, z_start = batch
    draws = gibbs_sampler(
        model,
        y,
        mask,
        metropolis=True,
        chain=ONE_STEP,
        z_start=z_start,
        generator=gen(7),
    )
    stayed = (draws.codes[0] == z_start).all(dim=1)
    assert torch.equal(stayed, draws.acceptance == 0)
    assert stayed.any() and (~stayed).any()  # both cases occur in this batch


def test_the_start_changes_the_chain_and_is_reproducible(batch, gen):
    model, y, mask, z_start = batch

    def run(start):
        return gibbs_sampler(
            model,
            y,
            mask,
            metropolis=False,
            chain=ONE_STEP,
            z_start=start,
            generator=gen(7),
        ).codes

    assert torch.equal(run(z_start), run(z_start))
    assert not torch.equal(run(z_start), run(None))


def test_z_start_bad_inputs(batch):
    model, y, mask, z_start = batch
    with pytest.raises(ValueError, match="z_start"):
        gibbs_sampler(model, y, mask, metropolis=True, z_start=z_start[:5])
    with pytest.raises(ValueError, match="z_start"):
        gibbs_sampler(model, y, mask, metropolis=True, z_start=z_start[0])
    with pytest.raises(TypeError, match="z_start"):
        gibbs_sampler(model, y, mask, metropolis=True, z_start=[0.0] * 3)


def test_plot_traces_draws_the_mean_of_each_trace():
    steps = torch.arange(5)
    scores = torch.arange(10.0).view(5, 2)  # item means 0.5, 2.5, ...
    ax = plot_traces({"a": (steps, scores), "b": (steps, -scores)}, ylabel="nats")
    (line_a, line_b) = ax.get_lines()
    assert list(line_a.get_ydata()) == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert list(line_b.get_ydata()) == [-0.5, -2.5, -4.5, -6.5, -8.5]
    assert ax.get_ylabel() == "nats"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    plt.close("all")


def test_plot_traces_bad_inputs():
    with pytest.raises(ValueError, match="traces\\['a'\\]"):
        plot_traces({"a": (torch.arange(5), torch.zeros(4, 2))})
    with pytest.raises(TypeError, match="traces\\['a'\\]"):
        plot_traces({"a": ([0, 1], torch.zeros(2, 2))})
    plt.close("all")
