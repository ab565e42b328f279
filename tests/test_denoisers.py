"""The residual CNN denoiser (vae_lib.denoisers): the bottleneck-free reference of
Chapters 5 and 7."""

from __future__ import annotations

import pytest
import torch

from vae_lib import pretrained
from vae_lib.checkpoints import load_checkpoint, save_checkpoint
from vae_lib.corrupt import training_noise
from vae_lib.denoisers import ResidualDenoiser, ResidualDenoiserConfig
from vae_lib.models import build_model, count_parameters
from vae_lib.objectives import denoising_loss
from vae_lib.train import fit


def tiny(**changes) -> ResidualDenoiser:
    torch.manual_seed(0)
    return ResidualDenoiser(
        ResidualDenoiserConfig(**{"channels": 4, "depth": 3} | changes)
    )


def test_the_default_is_seven_layers_of_32_channels_about_47k_parameters():
    model = ResidualDenoiser(ResidualDenoiserConfig())
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 7
    # 1->32, five 32->32, 32->1, each 3x3 with a bias
    assert count_parameters(model) == (9 * 32 + 32) + 5 * (9 * 32 * 32 + 32) + (
        9 * 32 + 1
    )
    assert count_parameters(model) == 46_849


def test_build_model_makes_a_residual_denoiser_from_its_config():
    config = ResidualDenoiserConfig(channels=4, depth=2)
    model = build_model(config)
    assert isinstance(model, ResidualDenoiser) and model.config == config


def test_the_output_is_the_input_minus_the_predicted_residual():
    model = tiny()
    y = torch.rand(3, 1, 28, 28)
    assert torch.allclose(model(y), y - model.residual(y))


def test_a_network_trained_on_patches_denoises_any_size_of_image():
    model = tiny(image_shape=(3, 8, 8))
    photo = torch.rand(1, 3, 37, 50)
    assert model(photo).shape == photo.shape
    assert model.denoise(photo).shape == photo.shape


def test_denoise_clips_to_unit_range_and_needs_no_gradient():
    model = tiny()
    with torch.no_grad():
        model.residual[-1].bias.fill_(-5.0)  # pushes every output above 1
    y = torch.rand(2, 1, 28, 28)
    out = model.denoise(y)
    assert out.min() >= 0 and out.max() <= 1 and (out == 1).all()
    assert not out.requires_grad


def test_the_denoising_loss_is_the_squared_error_of_the_unclipped_output():
    model = tiny()
    clean, noisy = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    loss = denoising_loss(model, noisy, clean)
    assert loss.shape == (4,)
    assert torch.allclose(loss, ((model(noisy) - clean) ** 2).sum(dim=(1, 2, 3)))


def test_training_on_noisy_copies_beats_the_noisy_input():
    torch.manual_seed(0)
    clean = torch.zeros(256, 1, 8, 8)
    clean[:, :, 2:6, 2:6] = 0.8
    model = tiny(image_shape=(1, 8, 8), channels=8)
    fit(
        model,
        clean,
        train_y=clean,
        num_epochs=30,
        lr=1e-2,
        loss_fn=denoising_loss,
        transform=training_noise,
        progress=False,
        device="cpu",
    )
    noisy = (clean + 0.2 * torch.randn(clean.shape)).clamp(0, 1)
    before = ((noisy - clean) ** 2).mean()
    after = ((model.denoise(noisy) - clean) ** 2).mean()
    assert after < before / 2


def test_a_checkpoint_round_trip_restores_the_same_denoiser(tmp_path):
    model = tiny(image_shape=(3, 16, 16))
    save_checkpoint(model, tmp_path / "cnn", {"psnr_gaussian_0.1": 30.0})
    loaded, metrics = load_checkpoint(tmp_path / "cnn", expected_config=model.config)
    assert isinstance(loaded, ResidualDenoiser) and metrics == {
        "psnr_gaussian_0.1": 30.0
    }
    y = torch.rand(2, 3, 16, 16)
    assert torch.equal(loaded(y), model(y))


def test_pretrained_denoise_uses_the_clipped_estimate():
    model = tiny()
    y = torch.rand(2, 1, 28, 28)
    assert torch.equal(pretrained.denoise(model, y), model.denoise(y))


def test_the_photo_noise_is_gaussian_only_and_scored_at_photo_levels():
    noise = pretrained.PHOTO_NOISE
    assert set(noise.noise_tests()) == {"psnr_gaussian_0.1", "psnr_gaussian_0.2"}
    x = torch.full((64, 3, 4, 4), 0.5)
    y = noise.transform()(x, torch.Generator().manual_seed(0))
    # salt and pepper would leave most pixels of an image untouched; Gaussian noise
    # moves every one
    assert not (y == x).any()
    mixed = pretrained.MIXED_NOISE.transform()(x, torch.Generator().manual_seed(0))
    assert (mixed == x).any()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"channels": 0}, "channels"),
        ({"depth": 1}, "depth must be at least 2"),
        ({"depth": 2.5}, "depth"),
        ({"image_shape": (1, 28)}, "image_shape"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(changes, message):
    with pytest.raises((ValueError, TypeError), match=message):
        ResidualDenoiserConfig(**changes)


def test_a_bad_training_noise_is_refused():
    with pytest.raises(ValueError, match="tests"):
        pretrained.TrainingNoise(tests="cifar")


def test_the_wrong_number_of_channels_is_refused():
    with pytest.raises(ValueError, match="y must have 1 channel"):
        tiny()(torch.rand(2, 3, 28, 28))


def test_float64_input_is_refused_not_cast():
    with pytest.raises(TypeError, match="y is torch.float64"):
        tiny()(torch.rand(2, 1, 28, 28, dtype=torch.float64))


def test_a_config_of_another_kind_is_refused():
    with pytest.raises(TypeError, match="ResidualDenoiserConfig"):
        ResidualDenoiser(pretrained.RECIPES["ch4_mlp_vae"].config)  # type: ignore[arg-type]
