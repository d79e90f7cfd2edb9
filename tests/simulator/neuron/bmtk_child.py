"""Run bmtk's BioNet on a simulation config in a process of its own (NEURON state is global, so bmtk and
modelkit never share a process).  Used by the NEURON tests to compare numbers with bmtk.

    python bmtk_child.py CONFIG LIBNRNMECH [SECLAMP_JSON]

``LIBNRNMECH`` is the mechanism library modelkit compiled (loaded before bmtk builds anything, so bmtk
needs no ``x86_64`` folder); ``SECLAMP_JSON`` (optional) is ``{"amps": [...], "durations": [...], "rs": x}``
passed to ``BioSimulator.attach_se_voltage_clamp`` for every biophysical cell, the legacy SEClamp input.
"""

from __future__ import annotations

import json
import sys


def _patch_xstim() -> None:
    """bmtk 1.2's xstim calls ``PtrVector.ptr_update_callback``, which NEURON 9 lacks (bmtk warns about it at
    import): replace that call by an FInitializeHandler that takes the pointers, as the callback would.  bmtk's
    xstim takes them again in its own handler (its ECP code already skips the call the same way); its comsol
    module has no other way to get them."""
    from neuron import h
    from bmtk.simulator.bionet.biocell import BioCell

    def setup_xstim(self, set_nrn_mechanism=True):  # noqa: ANN001, ANN202 - bmtk's signature
        self.ptr2e_extracellular = h.PtrVector(self.morphology.nseg)
        # what the callback did on NEURON 8: take the pointers when the segment data are final. bmtk's xstim
        # takes them itself; its comsol module relies on the callback alone (without it, its field is never set)
        self._ptr_fih = h.FInitializeHandler(1, self.set_ptr2e_extracellular)
        if set_nrn_mechanism:
            for sec in self.hobj.all:
                sec.insert("extracellular")
    BioCell.setup_xstim = setup_xstim


def main() -> None:
    config, lib = sys.argv[1], sys.argv[2]
    from neuron import h
    h.nrn_load_dll(lib)
    from bmtk.simulator import bionet
    _patch_xstim()
    conf = bionet.Config.from_json(config, validate=True)
    conf.build_env()
    net = bionet.BioNetwork.from_config(conf)
    sim = bionet.BioSimulator.from_config(conf, network=net)
    if len(sys.argv) > 3:
        sc = json.loads(sys.argv[3])
        gids = list(sim.biophysical_gids)
        sim.attach_se_voltage_clamp([sc["amps"]], [sc["durations"]], gids, [sc.get("rs")] * len(gids))
    sim.run()


if __name__ == "__main__":
    main()
