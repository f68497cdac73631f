import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Numerics and learning curves depend on the thread count; tests run at one thread."""
    torch.set_num_threads(1)
    yield
