import math

import pytest
import torch

from cclib import mixing


def test_symmetric_is_symmetric_and_zero_diagonal_when_asked():
    m = mixing.random_mixing([0.02, 0.05], seeds=[1, 2], symmetric=True, zero_diagonal=True).matrix()
    assert torch.allclose(m, m.transpose(1, 2))
    assert torch.all(torch.diagonal(m, dim1=1, dim2=2) == 0)


def test_asymmetric_is_not_symmetric_and_keeps_its_diagonal_by_default():
    m = mixing.random_mixing(0.02, seeds=3).matrix()[0]
    assert (m - m.T).abs().max() > 0.01
    assert torch.all(torch.diagonal(m) != 0)
    assert torch.equal(mixing.build("symmetric", 0.02, seeds=3).matrix()[0].diagonal() != 0,
                       torch.ones(100, dtype=torch.bool))


def test_sigma_scales_the_matrix_linearly():
    a = mixing.random_mixing(0.01, seeds=7).matrix()
    b = mixing.random_mixing(0.03, seeds=7).matrix()
    assert torch.allclose(b, 3 * a, atol=1e-7)
    off = ~torch.eye(100, dtype=torch.bool)
    assert abs(a[0][off].std().item() - 0.01) < 0.001  # sigma is the std of the entries


def test_embedding_rows_are_unit_and_mixing_std_matches():
    w = mixing.embedding_matrix(100, 1000, seeds=[0, 1])
    assert torch.allclose(w.norm(dim=2), torch.ones(2, 100), atol=1e-5)
    m = mixing.embedding_mixing(w, sign=-1).matrix()
    off = ~torch.eye(100, dtype=torch.bool)
    for k in range(2):
        assert abs(m[k][off].std().item() * math.sqrt(1000) - 1) < 0.1
        assert torch.all(torch.diagonal(m[k]).abs() < 1e-5)
    plus = mixing.embedding_mixing(w, sign=+1).matrix()
    assert torch.allclose(plus, -m)


def test_low_rank_has_the_rank_and_unit_rms():
    g = mixing.low_rank_mixing(1.0, rank=10, seeds=0).matrix()[0]
    assert torch.linalg.matrix_rank(g).item() == 10  # float32 tolerance: g is float32
    assert abs(g.pow(2).mean().sqrt().item() - 1) < 1e-4


def test_instances_do_not_depend_on_each_other():
    both = mixing.random_mixing([0.02, 0.02], seeds=[5, 6]).pattern
    alone = mixing.random_mixing(0.02, seeds=[6]).pattern
    assert torch.equal(both[1], alone[0])


@pytest.mark.parametrize("call, message", [
    (lambda: mixing.build("diagonal"), "kind must be one of"),
    (lambda: mixing.random_mixing(float("nan")), "sigma must be a finite number"),
    (lambda: mixing.random_mixing(0.1, n_features=0), "n_features must be an integer in [1, inf], got 0"),
    (lambda: mixing.random_mixing([0.1, 0.2], seeds=[1]), "seeds must have one seed per instance (2)"),
    (lambda: mixing.low_rank_mixing(0.1, rank=200), "rank must be an integer in [1, 100], got 200"),
    (lambda: mixing.embedding_mixing(torch.zeros(1, 3, 5), sign=2), "sign must be -1 or +1"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)
