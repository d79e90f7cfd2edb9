"""Bad input: every error is a ModelkitError naming the file and the key at fault."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from modelkit.analysis import (AnalysisError, NodeIdError, SpikeTable, UnknownPropertyError, report_frame)
from modelkit.errors import ModelkitError, SonataFormatError
from modelkit.sonata import write_compartment_report, write_spikes


def test_spike_ids_not_in_network(tmp_path, tiny):
    p = tmp_path / "bad.h5"
    write_spikes(p, {"a": ([0, 99, 3], [1.0, 2.0, 3.0])})
    with pytest.raises(NodeIdError) as e:
        SpikeTable.read(p, network=tiny)
    msg = str(e.value)
    assert str(p) in msg and "/spikes/a/node_ids" in msg and "99" in msg and "a_nodes.h5" in msg
    assert isinstance(e.value, ModelkitError)


def test_spike_population_not_in_network(tmp_path, tiny):
    p = tmp_path / "other.h5"
    write_spikes(p, {"zzz": ([0], [1.0])})
    with pytest.raises(NodeIdError, match=r"/spikes/zzz") as e:
        SpikeTable.read(p, network=tiny)
    assert str(p) in str(e.value)


def test_config_whose_spikes_do_not_fit_the_circuit(tmp_path, ref_config):
    out = tmp_path / "out"
    write_spikes(out / "spikes.h5", {"cortex": ([0, 500], [1.0, 2.0])})
    cfg = json.loads(ref_config.read_text())
    cfg["output"] = {"output_dir": str(out), "spikes_file": "spikes.h5"}
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cfg))
    with pytest.raises(NodeIdError, match="500") as e:
        SpikeTable.from_config(p)
    assert str(out / "spikes.h5") in str(e.value) and "/spikes/cortex/node_ids" in str(e.value)


def test_config_without_spikes_file(tmp_path, ref_config):
    cfg = json.loads(ref_config.read_text())
    cfg["output"] = {"output_dir": str(tmp_path / "nothing"), "spikes_file": "spikes.h5"}
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cfg))
    with pytest.raises(AnalysisError) as e:
        SpikeTable.from_config(p)
    assert str(p) in str(e.value) and "output.spikes_file" in str(e.value)


def test_unknown_grouping_column(tiny, ref_config):
    st = SpikeTable.from_parts({"a": ([0], [1.0])}, network=tiny, t_start=0.0, t_stop=10.0)
    with pytest.raises(UnknownPropertyError) as e:
        st.rates(by="layer")
    msg = str(e.value)
    assert "a_nodes.h5" in msg and "layer" in msg and "ei" in msg  # names the file, the key, and what exists
    with pytest.raises(UnknownPropertyError, match="layer"):
        st.psth(10.0, by=["ei", "layer"])
    ref = SpikeTable.from_config(ref_config)
    with pytest.raises(UnknownPropertyError, match="cortex_nodes.h5.*layer"):
        ref.join("layer")


def test_node_property_without_network(tmp_path):
    p = tmp_path / "s.h5"
    write_spikes(p, {"a": ([0], [1.0])})
    st = SpikeTable.read(p)
    with pytest.raises(UnknownPropertyError) as e:
        st.rates(by="ei")
    assert str(p) in str(e.value) and "ei" in str(e.value) and "network" in str(e.value)


def test_report_without_mapping(tmp_path):
    p = tmp_path / "nomap.h5"
    write_compartment_report(p, "v1", [0], [0, 1], [0], (0.0, 1.0, 0.5), np.zeros((2, 1)))
    with h5py.File(p, "a") as f:
        del f["report/v1/mapping"]
    with pytest.raises(SonataFormatError) as e:
        report_frame(p)
    assert str(p) in str(e.value) and "/report/v1/mapping" in str(e.value)


def test_bad_windows_and_bins():
    st = SpikeTable.from_parts({"a": ([0], [1.0])}, t_start=0.0, t_stop=10.0)
    with pytest.raises(AnalysisError, match="t_stop"):
        st.rates(t_start=5.0, t_stop=5.0)
    with pytest.raises(AnalysisError, match="bin_ms"):
        st.psth(bin_ms=0.0)
    with pytest.raises(AnalysisError, match="bin_ms"):
        st.fano(bin_ms=50.0)
    with pytest.raises(NodeIdError, match="node_ids"):
        st.binned_counts(1.0, node_ids=[7])
    with pytest.raises(AnalysisError, match="spikes"):
        SpikeTable.load(42)
