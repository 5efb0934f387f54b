"""The hand-built |x| networks of cclib.constructions and the ladder of baselines they are judged
against (cclib.baselines): each construction's defining property, each bound's derivation checked
by a computation that could disagree with it."""
import numpy as np
import pytest
import torch
from scipy.optimize import isotonic_regression

from cclib import baselines, constructions, evaluate, mixing
from cclib.models import DeepMLP


@pytest.mark.parametrize("v", [7, 9, 13, 25])
def test_a_steiner_triple_system_covers_every_pair_exactly_once(v):
    triples = constructions.steiner_triple_system(v, seed=1)
    assert triples.shape == (v * (v - 1) // 6, 3)
    pairs = [tuple(sorted(p)) for t in triples for p in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2]))]
    assert len(pairs) == len(set(pairs)) == v * (v - 1) // 2
    assert np.array_equal(triples, constructions.steiner_triple_system(v, seed=1))   # deterministic


def test_a_steiner_system_of_a_wrong_order_is_refused_naming_v():
    with pytest.raises(ValueError, match="v must be 1 or 3 mod 6"):
        constructions.steiner_triple_system(11)


def test_split_and_random_codes_keep_their_overlaps_and_separate_a_features_halves():
    pos, neg = constructions.split_codes(100, 50)
    assert constructions.code_overlap(pos, neg) == 1
    assert pos.max() < 25 <= neg.min()
    pos75, _ = constructions.split_codes(100, 75)                       # order 37: 100 of its 222 triples
    assert pos75.max() < 37 and len({tuple(t) for t in pos75}) == 100
    rp, rn = constructions.random_codes(100, 25, size=5)
    assert all(not set(a) & set(b) for a, b in zip(rp, rn))
    assert len({tuple(c) for c in np.concatenate([rp, rn])}) == 200
    with pytest.raises(ValueError, match="d_mlp must be at least 50"):
        constructions.split_codes(100, 40)


@pytest.mark.parametrize("design", ["split", "random"])
def test_code_networks_are_exact_on_one_active_input_and_not_on_two(design):
    if design == "split":
        pos, neg = constructions.split_codes(100, 50)
        net = constructions.code_network(pos, neg, 50)
        blunt = constructions.code_network(pos, neg, 50, inhibition=0.0)
    else:
        pos, neg = constructions.random_codes(100, 50, size=3)
        net = constructions.code_network(pos, neg, 50, readout="least_interference")
        blunt = constructions.code_network(pos, neg, 50, inhibition=0.0)
    clean = mixing.clean(100)
    assert evaluate.one_active_loss(net, clean, target="abs")[0] < 1e-10
    mean, _ = evaluate.conditional_errors(net, clean, [2], 2048, target="abs")
    assert float(mean[0, 0]) > 0.01
    # the defect the read-out is there for: without inhibition other outputs fire on one active input
    assert evaluate.one_active_loss(blunt, clean, target="abs")[0] > 0.01


def test_too_few_neurons_leave_the_least_interference_read_out_inexact():
    """At d = 25 with codes of 4 no exact read-out exists for some outputs: the solver's best is
    returned and the network's one-active loss shows it; with codes of 5 it is exact."""
    clean = mixing.clean(100)
    short = constructions.code_network(*constructions.random_codes(100, 25, 4), 25, readout="least_interference")
    exact = constructions.code_network(*constructions.random_codes(100, 25, 5), 25, readout="least_interference")
    assert evaluate.one_active_loss(short, clean, target="abs")[0] > 1e-3
    assert evaluate.one_active_loss(exact, clean, target="abs")[0] < 1e-10
    with pytest.raises(ValueError, match="inhibition must be None"):
        constructions.code_network(*constructions.random_codes(100, 50, 3), 50, inhibition=0.1,
                                   readout="least_interference")


def test_the_moment_curve_is_exact_on_one_active_input_with_six_neurons_and_fails_on_two():
    net = constructions.moment_curve(100, 50)
    assert int((net.hidden[0].abs().sum(1) > 0).sum()) == 6
    clean = mixing.clean(100)
    assert evaluate.one_active_loss(net, clean, target="abs")[0] < 1e-5           # float32 rounding of weights ~1e4
    mean, _ = evaluate.conditional_errors(net, clean, [2], 1024, target="abs")
    assert float(mean[0, 0]) > 100


def test_the_k_active_monotone_bound_is_the_isotonic_regression_with_a_free_zero():
    v = (np.arange(400_000) + 0.5) / 200_000 - 1
    fit = isotonic_regression(np.abs(v)).x
    assert baselines.MONOTONE_K_ACTIVE == pytest.approx(np.mean((np.abs(v) - fit) ** 2), rel=1e-4)
    assert baselines.k_active_bounds(100, 50)["(b)"] == pytest.approx(baselines.MONOTONE_K_ACTIVE / 2)


def _no_superposition(two_neuron_features: int, n=100, d=50) -> DeepMLP:
    """Each neuron reads one feature: f_2 features on two neurons (ReLU(x) and ReLU(-x), |x|
    exactly), the other neurons one feature each (ReLU(x): monotone, the negative half missed),
    the remaining outputs constant 0."""
    w_in, w_out = torch.zeros(n, d), torch.zeros(d, n)
    neuron = 0
    for i in range(two_neuron_features):
        w_in[i, neuron], w_in[i, neuron + 1] = 1.0, -1.0
        w_out[neuron, i] = w_out[neuron + 1, i] = 1.0
        neuron += 2
    i = two_neuron_features
    while neuron < d:
        w_in[i, neuron], w_out[neuron, i] = 1.0, 1.0
        neuron, i = neuron + 1, i + 1
    model = DeepMLP(1, n, d, bias=True, out_activation="relu")
    with torch.no_grad():
        model.hidden[0].copy_(w_in[None])
        model.hidden_bias[0].zero_()
        model.W_out.copy_(w_out[None])
        model.b_out.zero_()
    return model


@pytest.mark.parametrize("two", [25, 10, 0])
def test_no_superposition_costs_a_quarter_per_feature_as_p_goes_to_zero_whatever_the_split(two):
    """On one active input (the p -> 0 limit), exactly: on quadrature nodes split at 0, exact for
    the piecewise-quadratic errors."""
    from cclib import bounds
    x, prob = bounds.one_active_quadrature(100)
    with torch.no_grad():
        out = _no_superposition(two)(x.float()[None])[0].double()
    loss = float((((out - x.abs()) ** 2).sum(1) * prob).sum())      # summed error per sample = L / p
    assert loss == pytest.approx(baselines.abs_no_superposition_loss(100, 50), rel=1e-6)
    assert baselines.abs_no_superposition_loss(100, 50) == pytest.approx(0.25)
