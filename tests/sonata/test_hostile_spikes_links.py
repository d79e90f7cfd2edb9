"""Spike files whose links loop or dangle are SonataFormatErrors naming the dataset (issue 15, a fuzz finding)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from modelkit.errors import SonataFormatError
from modelkit.sonata import read_spikes


@pytest.mark.parametrize("name", ["gids", "timestamps", "pop"])
@pytest.mark.parametrize("how", ["soft link to itself", "soft link cycle", "external link to itself"])
def test_looping_links_in_a_spikes_file(tmp_path, name, how):
    p = tmp_path / "spikes.h5"
    with h5py.File(p, "w") as f:
        if name == "pop":
            f["spikes/pop/timestamps"] = np.arange(3.0)
            f["spikes/pop/node_ids"] = np.arange(3)
            target = "/spikes/other"
        else:
            f["spikes/gids"] = np.arange(3)
            f["spikes/timestamps"] = np.arange(3.0)
            del f[f"spikes/{name}"]
            target = f"/spikes/{name}"
        if how == "soft link to itself":
            f[target] = h5py.SoftLink(target)
        elif how == "soft link cycle":
            f["spikes_b"] = h5py.SoftLink(target)
            f[target] = h5py.SoftLink("/spikes_b")
        else:
            f[target] = h5py.ExternalLink(p.name, target)
    with pytest.raises(SonataFormatError) as e:
        read_spikes(p)
    assert e.value.dataset and "spikes" in e.value.dataset
    assert str(p) in str(e.value)
