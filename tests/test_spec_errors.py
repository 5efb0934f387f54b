"""A spec error names the field, what it allows, and nothing else: a typo gets the field it was
probably meant to be and the allowed fields; a bad number, its limit and not a union's noise."""
import pytest

from cclib.spec import RunSpec, SpecError


@pytest.mark.parametrize("fields, expected", [
    (dict(model=dict(n_feature=100)),
     "model.n_feature: unknown field 'n_feature' (did you mean 'n_features'?); the fields of MLPArch are kind, "
     "n_features, d_mlp"),
    (dict(mixing=dict(kind="asymmetric", sigmaa=0.1)), "mixing.sigmaa: unknown field 'sigmaa' (did you mean 'sigma'?)"),
    (dict(optim=dict(step=10)), "optim.step: unknown field 'step' (did you mean 'steps'?); the fields of Optim are"),
    (dict(inputs=dict(kind="bernoulli", p=1.5)), "inputs.p: Input should be less than or equal to 1 (got 1.5)"),
    (dict(inputs=dict(kind="bernoulli", p=[0.1, 2.0])), "inputs.p.1: Input should be less than or equal to 1 (got 2.0)"),
    (dict(mixing=dict(kind="asymmetric", sigma="0.1")), "mixing.sigma: Input should be a valid number (got '0.1')"),
])
def test_a_spec_error_says_what_was_meant_and_no_union_noise(fields, expected):
    base = dict(seeds=[0], inputs=dict(kind="one_active"))
    with pytest.raises(SpecError) as err:
        RunSpec(**{**base, **fields})
    text = str(err.value)
    assert expected in text, text
    assert "valid tuple" not in text and "Extra inputs are not permitted" not in text
    assert "'mlp'" not in text.split(":")[0] and "Field required" not in text   # no internal tag, no echo
    assert text.startswith("1 problem in the spec")


def test_a_misspelt_top_level_field_and_a_bad_kind():
    with pytest.raises(SpecError, match=r"seed: unknown field 'seed' \(did you mean 'seeds'\?\); the fields of "
                                        r"RunSpec are seeds, model, mixing, inputs"):
        RunSpec(seed=[0], inputs=dict(kind="one_active"))
    with pytest.raises(SpecError, match="inputs: Input tag 'bernouli' found using 'kind' does not match"):
        RunSpec(seeds=[0], inputs=dict(kind="bernouli", p=0.1))


def test_a_spec_error_is_a_value_error_with_the_validators_own_words():
    with pytest.raises(ValueError, match=r"spec: inputs.p must be one value or one per seed \(2\), got 3"):
        RunSpec(seeds=[0, 1], inputs=dict(kind="bernoulli", p=[0.1, 0.2, 0.3]))
