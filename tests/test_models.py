import pytest
import torch

from cclib import mixing
from cclib.data import sample_bernoulli
from cclib.task import labels
from cclib.models import MLP, ResidualMLP


def test_shapes_and_kaiming_bounds():
    m = MLP(3, 100, 50, seeds=[0, 1, 2])
    assert m.W_in.shape == (3, 100, 50) and m.W_out.shape == (3, 50, 100)
    assert m(torch.zeros(3, 7, 100)).shape == (3, 7, 100)
    # published: torch's kaiming_uniform_ on the (100, 50) and (50, 100) tensors takes fan_in
    # from the second dimension; textbook: the layer's input width
    for bounds, b_in, b_out in [("published", (6 / 50) ** 0.5, (6 / 100) ** 0.5),
                                ("textbook", (6 / 100) ** 0.5, (6 / 50) ** 0.5)]:
        m = MLP(3, 100, 50, seeds=[0, 1, 2], init_bounds=bounds)
        assert 0.97 * b_in < m.W_in.abs().max() <= b_in and 0.97 * b_out < m.W_out.abs().max() <= b_out
    ref_in, ref_out = torch.empty(100, 50), torch.empty(50, 100)
    torch.nn.init.kaiming_uniform_(ref_in, nonlinearity="relu")
    torch.nn.init.kaiming_uniform_(ref_out, nonlinearity="relu")
    assert ref_in.abs().max() <= (6 / 50) ** 0.5 < 1.03 * ref_in.abs().max()   # torch agrees
    with pytest.raises(ValueError, match="bounds must be one of 'published', 'textbook'"):
        MLP(1, init_bounds="torch")


def test_out_init_scale_scales_w_out_alone_and_matches_the_folded_residual():
    base, scaled = MLP(2, seeds=[0, 1]), MLP(2, seeds=[0, 1], out_init_scale=0.1 ** 0.5)
    assert torch.equal(base.W_in, scaled.W_in)
    assert torch.equal(scaled.W_out, base.W_out * 0.1 ** 0.5)
    # the reason for the option (Fig. 1): the residual model's folded W_out starts with the
    # entry standard deviation of an MLP's W_out scaled by sqrt(n / D)
    res = ResidualMLP(mixing.embedding_matrix(100, 1000, seeds=[0, 1]), 50, seeds=[0, 1])
    folded_sd = res.effective_weights()[1].std().item()
    assert abs(folded_sd / scaled.W_out.std().item() - 1) < 0.03
    assert abs(folded_sd / base.W_out.std().item() - 0.1 ** 0.5) < 0.01


def test_instance_init_depends_only_on_its_seed():
    assert torch.equal(MLP(3, seeds=[4, 5, 6]).W_in[1], MLP(1, seeds=[5]).W_in[0])


def test_residual_forward_is_folded_mlp_plus_mixing_term():
    w_e = mixing.embedding_matrix(100, 1000, seeds=[0, 1])
    res = ResidualMLP(w_e, 50, seeds=[0, 1])
    x = torch.stack([sample_bernoulli(256, 100, 0.05) for _ in range(2)])
    folded = res.folded()
    stream = x @ w_e @ w_e.transpose(1, 2)
    assert torch.allclose(res(x), folded(x) + stream, atol=1e-5)
    # so its loss on x + ReLU(x) is the folded MLP's loss on ReLU(x) - x (W_E W_E^T - I)
    res_loss = (res(x) - (x + torch.relu(x))).square().mean()
    mlp_loss = (folded(x) - labels(x, res.mixing().matrix())).square().mean()
    assert torch.allclose(res_loss, mlp_loss, rtol=1e-4)


@pytest.mark.parametrize("call, message", [
    (lambda: MLP(0), "n_instances must be an integer in [1, inf], got 0"),
    (lambda: MLP(1, 100, 150), "d_mlp must be an integer in [1, 100], got 150"),
    (lambda: MLP(1, -5), "n_features must be an integer in [1, inf], got -5"),
    (lambda: MLP(2, seeds=[1]), "seeds must have one seed per instance (2), got 1"),
    (lambda: MLP(1, seeds=-1), "seeds must be an integer in [0, inf], got -1"),
    (lambda: MLP.from_weights(torch.zeros(1, 10, 5), torch.zeros(1, 10, 5)), "w_out must have shape (1, 5, 10)"),
    (lambda: MLP(1, out_init_scale=0.0), "out_init_scale must be a finite number in (0.0, 10.0], got 0.0"),
    (lambda: MLP(1, out_init_scale=float("nan")), "out_init_scale must be a finite number in (0.0, 10.0]"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)


def test_non_integer_size_is_a_type_error():
    with pytest.raises(TypeError, match="n_features must be an integer, got 10.5"):
        MLP(1, 10.5)
