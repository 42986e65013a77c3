import pytest
import torch

from ran_desktop.engine.model.device import DEVICE_ENV, choose_device


def test_cpu_on_request():
    choice = choose_device("cpu")
    assert choice.device.type == "cpu" and choice.description.startswith("CPU")


def test_auto_picks_cuda_only_when_present():
    choice = choose_device("auto")
    assert choice.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert choice.note == ""


def test_environment_variable_is_used_and_argument_wins(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert choose_device().device.type == "cpu"
    monkeypatch.setenv(DEVICE_ENV, "nonsense")
    assert choose_device("cpu").device.type == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        choose_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_request_without_gpu_falls_back_with_a_note():
    choice = choose_device("cuda")
    assert choice.device.type == "cpu"
    assert "no usable CUDA GPU" in choice.note


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_device_is_named():
    choice = choose_device("cuda")
    assert choice.device.type == "cuda" and choice.description.startswith("CUDA: ")
    assert "only" in choose_device(f"cuda:{torch.cuda.device_count()}").note
